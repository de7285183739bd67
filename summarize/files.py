"""Input discovery, output naming, atomic writes, and the sidecar that says an article is done."""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.config import InputSettings, OutputSettings
from summarize.errors import UsageError

__all__ = [
    "Job",
    "Outputs",
    "find_inputs",
    "fingerprint",
    "output_paths",
    "read_sidecar",
    "remove_temporaries",
    "stale_reason",
    "write_atomic",
    "write_outputs",
]

log = logging.getLogger(__name__)

STDIN = "-"


@dataclass(frozen=True)
class Job:
    """One article to process: a file, or standard input when ``path`` is None.

    ``root`` is the directory it was found under (or its own folder when named directly):
    with an output directory, outputs mirror the tree below ``root``.
    """

    path: Path | None
    root: Path | None = None

    @property
    def name(self) -> str:
        return "<stdin>" if self.path is None else str(self.path)


@dataclass(frozen=True)
class Outputs:
    """Where one article's results go; an output that is not asked for is None."""

    summary: Path | None
    summary_ar: Path | None
    article_ar: Path | None
    sidecar: Path

    def texts(self) -> list[Path]:
        return [p for p in (self.summary, self.summary_ar, self.article_ar) if p is not None]

    @property
    def claim(self) -> Path:
        """The lock file that marks the article as being processed (hidden, never an input)."""
        return self.sidecar.with_name(f".{self.sidecar.name}.lock")


def find_inputs(
    paths: Sequence[str], settings: InputSettings, reserved: Sequence[str]
) -> list[Job]:
    """Expand files, directories (recursively) and ``-`` into jobs, each path once, in order.

    Hidden files and directories, names shaped like a ``reserved`` template (the tool's own
    outputs, references) and ``input.exclude`` matches are left out of directory searches;
    symlinks are not followed out of the directory given.
    """
    select = _Selector(settings, reserved)
    jobs: list[Job] = []
    seen: set[str] = set()
    for raw in paths:
        if raw == STDIN:
            if any(job.path is None for job in jobs):
                raise UsageError("'-' (standard input) given more than once")
            jobs.append(Job(None))
            continue
        path = Path(raw)
        if path.is_dir():
            root, found = path, _walk(path, select)
        elif path.is_file():
            if select.reserved(path.name):
                log.warning("%s: skipped: named like an output or a reference", path)
                continue
            root, found = path.parent, iter([(path, os.path.realpath(path))])
        elif path.exists():
            raise UsageError(f"{path}: not a regular file or directory")
        else:
            raise UsageError(f"{path}: no such file or directory")
        for file, key in found:
            if key not in seen:
                seen.add(key)
                jobs.append(Job(file, root))
    return jobs


class _Selector:
    """The name tests of a directory search, compiled once: they run for every file."""

    def __init__(self, settings: InputSettings, reserved: Sequence[str]) -> None:
        self.wanted = _any_of([fnmatch.translate(g) for g in settings.globs])
        self.excluded = _any_of([fnmatch.translate(x) for x in settings.exclude])
        self.reserved = _any_of([_template_regex(t) for t in reserved])

    def __call__(self, name: str, relative: str) -> bool:
        return (
            not name.startswith(".")
            and bool(self.wanted(name))
            and not self.excluded(name)
            and not self.excluded(relative)
            and not self.reserved(name)
        )


def _any_of(patterns: list[str]) -> Callable[[str], object]:
    if not patterns:
        return lambda name: None
    return re.compile("|".join(f"(?:{p})" for p in patterns)).fullmatch


def _walk(root: Path, select: _Selector) -> Iterator[tuple[Path, str]]:
    """Files under ``root`` in sorted order, each with its real path (to see it only once).

    os.scandir's entries spare a stat per file, and the real path of a plain file is the real
    root plus its relative path: only symlinks need resolving.
    """
    real_root = os.path.realpath(root)
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            log.warning("%s: cannot list directory (%s)", folder, exc.strerror)
            continue
        subfolders = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith("."):
                    subfolders.append((entry.path, f"{prefix}{entry.name}/"))
            elif select(entry.name, prefix + entry.name):
                found = _checked_file(entry, real_root, root)
                if found is not None:
                    yield found[0], found[1] or os.path.join(real_root, prefix + entry.name)
        pending.extend(reversed(subfolders))


def _checked_file(
    entry: os.DirEntry[str], real_root: str, root: Path
) -> tuple[Path, str | None] | None:
    """The entry as an input and, for a symlink, its target; None if it must not be read."""
    path = Path(entry.path)
    if entry.is_symlink():
        target = os.path.realpath(entry.path)
        if os.path.commonpath([target, real_root]) != real_root:
            log.warning("%s: skipped: symlink points outside %s", path, root)
            return None
        return path, target  # a dangling one is kept, to be reported as unreadable
    if not entry.is_file(follow_symlinks=False):
        # A FIFO or a device would block or never end.
        log.warning("%s: skipped: not a regular file", path)
        return None
    return path, None


def _template_regex(template: str) -> str:
    return re.escape(template).replace(re.escape("{stem}"), ".+")


def output_paths(
    source: Path, output: OutputSettings, out_dir: Path | None = None, root: Path | None = None
) -> Outputs:
    """The files to write for ``source``, from the templates, for the outputs asked for.

    Next to the source by default; under ``out_dir``, at the source's place relative to
    ``root``, when an output directory is given (for read-only inputs).
    """
    folder = source.parent
    if out_dir is not None:
        folder = out_dir / source.parent.relative_to(root or source.parent)

    def named(template: str, wanted: bool = True) -> Path | None:
        return folder / template.format(stem=source.stem) if wanted else None

    return Outputs(
        summary=named(output.summary, output.summarize),
        summary_ar=named(output.summary_ar, "summary" in output.translate),
        article_ar=named(output.article_ar, "article" in output.translate),
        sidecar=folder / output.sidecar.format(stem=source.stem),
    )


def fingerprint(path: Path, data: bytes | None = None) -> dict[str, Any]:
    """Size, mtime and sha256 of an input, as stored in its sidecar."""
    stat = path.stat()
    if data is None:
        data = path.read_bytes()
    return {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar's content, or None when missing or unreadable (then the article is redone)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def stale_reason(source: Path, outputs: Outputs, signature: str) -> str | None:
    """Why ``source`` must be (re)done, or None when its outputs are up to date.

    Like black's cache: size and mtime unchanged means unchanged; otherwise the hash decides,
    so a touched but identical file is still up to date.
    """
    sidecar = read_sidecar(outputs.sidecar)
    if sidecar is None:
        return "new" if not outputs.sidecar.exists() else "sidecar unreadable"
    if sidecar.get("signature") != signature:
        return "settings changed"
    if not all(p.exists() for p in outputs.texts()):
        return "outputs missing"
    recorded = sidecar.get("input", {})
    try:
        stat = source.stat()
    except OSError:
        return "input unreadable"
    if recorded.get("size") == stat.st_size and recorded.get("mtime_ns") == stat.st_mtime_ns:
        return None
    try:
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
    except OSError:
        return "input unreadable"
    return None if digest == recorded.get("sha256") else "input changed"


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same directory and ``os.replace`` it into place."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def remove_temporaries(outputs: Outputs) -> None:
    """Delete temporary files a killed run left for these outputs (call while holding the claim)."""
    for path in (*outputs.texts(), outputs.sidecar):
        for temp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            log.info("%s: removing a temporary file left by an interrupted run", temp)
            temp.unlink(missing_ok=True)


def write_outputs(outputs: Outputs, texts: dict[Path, str], sidecar: dict[str, Any]) -> None:
    """Write the text outputs, then the sidecar: its presence means the outputs are complete."""
    outputs.sidecar.parent.mkdir(parents=True, exist_ok=True)
    outputs.sidecar.unlink(missing_ok=True)
    for path in outputs.texts():
        write_atomic(path, texts[path].rstrip("\n") + "\n")
    write_atomic(outputs.sidecar, json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n")
