"""What a run left for the review page: report lines, outputs, cleaned input.

Its ``--report`` lines by article, the outputs, and the input as the run cleaned it, with the
lines cleanup removed (as its sidecar, read by :mod:`summarize.sidecar`, lists them).

Everything here reads and never judges: a file that cannot be read is said in a note, so what
any version left gives a page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from summarize import jsontext
from summarize.cleanup import furniture_lines
from summarize.discovery import Job, display_name
from summarize.errors import InputError, UsageError
from summarize.outputs import read_output_bytes
from summarize.settings import Config
from summarize.sidecar import Sidecar
from summarize.snapshot import FileTooLarge, read_bounded, read_snapshot
from summarize.text import decode_lines, lay_out

__all__ = ["ReportLine", "read_english", "read_output", "read_report", "report_key"]

log = logging.getLogger(__name__)

#: A report holds a line of one to a few kB per article: room for hundreds of thousands.
REPORT_MAX_BYTES = 1024**3


@dataclass(frozen=True)
class ReportLine:
    status: str
    reason: str
    #: when the report was last written: outputs written after it supersede its failure
    written_ns: int = 0


def read_report(path: Path) -> tuple[dict[str, ReportLine], str | None]:
    """The last line of each article in a ``--report`` JSONL file, by resolved path: relative
    paths as seen from here, and from the report's folder (a run started there).

    The report is anyone's file: it is read within REPORT_MAX_BYTES, never waited on, and a line
    that is not JSON the tool can take (too deep, too long, not JSON) is warned about and left
    out. Raises UsageError when the report itself cannot be read.
    """
    try:
        text = read_bounded(path, REPORT_MAX_BYTES).decode("utf-8", errors="replace")
        written_ns = path.stat().st_mtime_ns
    except FileTooLarge as exc:
        raise UsageError(
            f"{display_name(path)}: cannot read the report (more than {REPORT_MAX_BYTES:,} "
            f"bytes: {exc.size:,})"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"{display_name(path)}: cannot read the report ({exc.strerror or exc})"
        ) from None
    found: dict[str, ReportLine] = {}
    there: dict[str, ReportLine] = {}
    summary = None
    for number, line in enumerate(text.splitlines(), 1):
        try:
            item = jsontext.loads(line)
        except jsontext.JsonError as exc:
            log.warning("%s, line %d: %s, left out", display_name(path), number, exc)
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


def read_output(config: Config, path: Path, notes: list[str]) -> str | None:
    """An output's text, or None with a note saying why it cannot be shown (a FIFO or device
    in its place is refused at once, never waited on; a file larger than any output of an input
    within input.max_bytes is not read)."""
    try:
        text = read_output_bytes(path, config.input).decode("utf-8", errors="replace")
    except OSError as exc:
        notes.append(f"{display_name(path)}: cannot read ({exc.strerror or exc})")
        return None
    # As a file opened as text reads: an edited output may end its lines the Windows way.
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")


def read_english(
    config: Config, job: Job, sidecar: Sidecar | None
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


def removed_lines(lines: list[str], sidecar: Sidecar | None, cleanup: bool) -> set[int]:
    """Which lines the run removed: cleanup's own answer when it matches the sidecar's list,
    else the sidecar's lines found in order (the rules may have changed since the run)."""
    recorded = sidecar.removed_lines if sidecar is not None else None
    if recorded is None:
        return furniture_lines(lines) if cleanup else set()
    now = furniture_lines(lines)
    if tuple(lines[i] for i in sorted(now)) == recorded:
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
