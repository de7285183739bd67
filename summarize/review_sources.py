"""What a run left for the review page: report lines, sidecar fields, outputs, cleaned input.

Its ``--report`` lines by article, the fields of a sidecar, the outputs the sidecar names, and
the input as the run cleaned it, with the lines cleanup removed.

Everything here reads and never judges: a field of the wrong type reads as absent, and a file
that cannot be read is said in a note, so a sidecar from any version gives a page.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.cleanup import furniture_lines
from summarize.discovery import Job, display_name
from summarize.errors import InputError, UsageError
from summarize.outputs import KINDS, Outputs
from summarize.report import Flag
from summarize.settings import Config
from summarize.state import read_snapshot
from summarize.text import decode_lines, lay_out

__all__ = [
    "ReportLine",
    "read_english",
    "read_output",
    "read_report",
    "report_key",
    "sidecar_flags",
    "sidecar_models",
    "sidecar_seconds",
    "sidecar_texts",
    "unreadable_flags",
    "written_outputs",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportLine:
    status: str
    reason: str
    #: when the report was last written: outputs written after it supersede its failure
    written_ns: int = 0


def read_report(path: Path) -> tuple[dict[str, ReportLine], str | None]:
    """The last line of each article in a ``--report`` JSONL file, by resolved path: relative
    paths as seen from here, and from the report's folder (a run started there)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        written_ns = path.stat().st_mtime_ns
    except OSError as exc:
        raise UsageError(f"{display_name(path)}: cannot read the report ({exc.strerror})") from None
    found: dict[str, ReportLine] = {}
    there: dict[str, ReportLine] = {}
    summary = None
    for number, line in enumerate(text.splitlines(), 1):
        try:
            item = json.loads(line)
        except ValueError:
            log.warning("%s, line %d: not JSON, left out", display_name(path), number)
            continue
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("summary"), str):
            summary = item["summary"]
        if isinstance(item.get("path"), str) and isinstance(item.get("status"), str):
            reason = item.get("reason")
            reason = reason if isinstance(reason, str) else ""
            entry = ReportLine(item["status"], reason, written_ns)
            named = Path(item["path"])
            there[report_key(path.parent / named)] = entry
            found[report_key(named)] = entry
    return {**there, **found}, summary


def report_key(path: Path) -> str:
    """A report names a file as display_name does (bytes that are not UTF-8 as ``\\xNN``);
    the file found on disk is named the same way, so the two meet."""
    return display_name(path.resolve())


def written_outputs(sidecar: dict[str, Any], configured: Outputs) -> Outputs:
    """The outputs the sidecar says its run wrote, beside the sidecar; a sidecar without its
    list of outputs (hand-made, or spoiled) is taken to mean the ``configured`` names."""
    sidecar_path = configured.sidecar
    named = sidecar.get("outputs")
    if not isinstance(named, dict):
        return configured
    paths = {
        kind.key: sidecar_path.with_name(named[kind.key])
        if isinstance(named.get(kind.key), str) and "/" not in named[kind.key]
        else None
        for kind in KINDS
    }
    return Outputs(**paths, sidecar=sidecar_path)


def read_output(path: Path, notes: list[str]) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").rstrip("\n")
    except OSError as exc:
        notes.append(f"{display_name(path)}: cannot read ({exc.strerror or exc})")
        return None


def read_english(
    config: Config, job: Job, sidecar: dict[str, Any] | None
) -> tuple[list[str], list[tuple[int, str]], str | None]:
    """The input's paragraphs as the run cleaned them, and the removed lines, each with the
    index of the paragraph it stood before; or why the input cannot be shown.

    The paragraphs are laid out as the read stage does (:func:`summarize.text.lay_out`), so
    that the spans of the run's flags, counted in its cleaned text, fall on the same characters.
    """
    assert job.source is not None
    try:
        data, _ = read_snapshot(job.source, max_bytes=config.input.max_bytes, follow_symlinks=True)
        lines = decode_lines(data, job.name)
    except InputError as exc:
        return [], [], str(exc)
    except OSError as exc:
        return [], [], f"{job.name}: cannot read ({exc.strerror or exc})"
    layout = lay_out(lines, removed_lines(lines, sidecar, config.input.cleanup))
    return layout.paragraphs, layout.removed_before(), None


def removed_lines(lines: list[str], sidecar: dict[str, Any] | None, cleanup: bool) -> set[int]:
    """Which lines the run removed: cleanup's own answer when it matches the sidecar's list,
    else the sidecar's lines found in order (the rules may have changed since the run)."""
    recorded = sidecar.get("removed_lines") if sidecar is not None else None
    if not isinstance(recorded, list):
        return furniture_lines(lines) if cleanup else set()
    now = furniture_lines(lines)
    if [lines[i] for i in sorted(now)] == recorded:
        return now
    found: set[int] = set()
    start = 0
    for text in recorded:
        for i in range(start, len(lines)):
            if lines[i] == text:
                found.add(i)
                start = i + 1
                break
    return found


def sidecar_texts(sidecar: dict[str, Any], key: str) -> tuple[str, ...]:
    """The strings of a list the sidecar holds under ``key``; none for anything else."""
    items = sidecar.get(key)
    return tuple(i for i in items if isinstance(i, str)) if isinstance(items, list) else ()


def sidecar_flags(sidecar: dict[str, Any]) -> list[Flag]:
    flags = sidecar.get("flags")
    return [note for item in flags if (note := _flag(item))] if isinstance(flags, list) else []


def unreadable_flags(sidecar: dict[str, Any]) -> int:
    """How many of the sidecar's flags are not flags this version can read."""
    flags = sidecar.get("flags")
    return sum(1 for item in flags if _flag(item) is None) if isinstance(flags, list) else 0


def _flag(item: object) -> Flag | None:
    if not isinstance(item, dict):
        return None
    try:
        return Flag.from_dict(item)
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def sidecar_seconds(sidecar: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    seconds = sidecar.get("seconds")
    if not isinstance(seconds, dict):
        return ()
    return tuple(
        (str(k), float(v))
        for k, v in seconds.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    )


def sidecar_models(sidecar: dict[str, Any]) -> tuple[str, ...]:
    engines = sidecar.get("engines")
    if not isinstance(engines, dict):
        return ()
    return tuple(
        f"{role}: {info.get('model')} ({info.get('device')}, {info.get('dtype')})"
        for role, info in engines.items()
        if isinstance(info, dict)
    )
