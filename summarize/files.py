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
import stat as stat_mode
import time
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.config import InputSettings, OutputSettings, template_regex
from summarize.errors import UsageError

__all__ = [
    "Job",
    "Outputs",
    "State",
    "assess",
    "find_inputs",
    "fingerprint",
    "format_name",
    "output_paths",
    "overlaps",
    "read_sidecar",
    "refresh",
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
    return template_regex(template)


def format_name(template: str, source: Path) -> str:
    """A file name from a template: ``{stem}`` is the source's name without its extension,
    ``{name}`` with it (so that ``x.txt`` and ``x.md`` can have outputs of their own)."""
    return template.format(stem=source.stem, name=source.name)


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
        return folder / format_name(template, source) if wanted else None

    return Outputs(
        summary=named(output.summary, output.summarize),
        summary_ar=named(output.summary_ar, "summary" in output.translate),
        article_ar=named(output.article_ar, "article" in output.translate),
        sidecar=folder / format_name(output.sidecar, source),
    )


def overlaps(
    planned: Sequence[tuple[Job, Outputs]], references: Sequence[str] = ()
) -> dict[Job, str]:
    """The articles that must not run, each with its reason naming the other input.

    An output path shared by two articles (``x.txt`` and ``x.md``; ``a/x.txt`` and ``b/x.txt``
    under one output directory; ``x.summary.md``, whose Arabic article is ``x.summary.ar.txt``)
    would be written by both, each overwriting the other; an output that is an input, or one
    of the ``references`` templates' files next to an input (``x.ref.md`` gives
    ``x.ref.summary.txt``), would destroy it. Paths are compared by their real folder and,
    where that folder's file system ignores case, without case.
    """
    key = _PathKeys()
    kept: dict[str, tuple[Job, str]] = {}  # what no output may replace
    for job, _ in planned:
        if job.path is None:
            continue
        kept.setdefault(key(job.path), (job, "input"))
        if job.path.is_symlink():  # replacing the link or its target would lose the input
            kept.setdefault(key(Path(os.path.realpath(job.path))), (job, "input"))
        for template in references:
            reference = job.path.parent / format_name(template, job.path)
            kept.setdefault(key(reference), (job, "reference for summarize eval"))
    owners: dict[str, tuple[Job, Path]] = {}
    refused: dict[Job, str] = {}

    def refuse(job: Job, reason: str) -> None:
        refused.setdefault(job, f"{job.name}: refused: {reason}")

    for job, outputs in planned:
        for path in (*outputs.texts(), outputs.sidecar):
            here = key(path)
            if here in kept:
                reader, what = kept[here]
                whose = "its own" if reader is job else f"{reader.name}'s"
                refuse(job, f"its output {path} would overwrite {whose} {what}")
            owner, first = owners.setdefault(here, (job, path))
            if owner is not job:
                hint = _keep_apart(job, owner)
                refuse(job, f"its output {path} is also an output of {owner.name}{hint}")
                refuse(owner, f"its output {first} is also an output of {job.name}{hint}")
            elif first is not path:
                refuse(job, f"two of its outputs are the same file {path}")
    return refused


def _keep_apart(a: Job, b: Job) -> str:
    if a.path is not None and b.path is not None and a.path.name == b.path.name:
        return "; rename one, or write them to different output directories"
    return "; rename one, or use {name} (the name with its extension) in the output templates"


class _PathKeys:
    """Comparable keys for file paths; each folder is resolved and probed once."""

    def __init__(self) -> None:
        self._folders: dict[Path, tuple[str, bool]] = {}

    def __call__(self, path: Path) -> str:
        known = self._folders.get(path.parent)
        if known is None:
            real = os.path.realpath(path.parent)
            known = self._folders[path.parent] = (real, _ignores_case(real))
        folder, fold = known
        found = os.path.join(folder, path.name)
        return found.casefold() if fold else found


def _ignores_case(folder: str) -> bool:
    """Whether the file system of ``folder`` (or of its nearest existing ancestor, for an output
    folder not made yet) ignores case: an entry found again under its name with the case swapped.
    """
    path = folder
    while True:
        entry = _cased_entry(path)
        if entry is not None:
            return _same_file(entry, os.path.join(path, os.path.basename(entry).swapcase()))
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def _cased_entry(folder: str) -> str | None:
    try:
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.name != entry.name.swapcase():
                    return entry.path
    except OSError:
        pass
    return None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


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
    loaded = _load_sidecar(path)
    return None if loaded is None else loaded[0]


def _load_sidecar(path: Path) -> tuple[dict[str, Any], int] | None:
    """The sidecar's content and mtime; None for anything but a readable JSON object."""
    try:
        with path.open("rb") as fh:
            mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # a directory, not UTF-8, not JSON, too deep
        return None
    return (data, mtime_ns) if isinstance(data, dict) else None


@dataclass(frozen=True)
class State:
    """Whether an article must be (re)done, and why; ``reason`` None means up to date.

    ``touched``: up to date, but the input's size or mtime moved on since the sidecar recorded
    them (or the input is newer than the outputs): :func:`refresh` brings the record and the
    outputs' mtimes up to the input, so the next check is fast and ``make`` agrees.
    """

    reason: str | None
    touched: bool = False


@dataclass(frozen=True)
class _Record:
    """What the sidecar says about the input; the sidecar's data rides along for a refresh."""

    size: int
    mtime_ns: int
    sha256: str
    data: dict[str, Any]


def stale_reason(source: Path, outputs: Outputs, signature: str) -> str | None:
    """Why ``source`` must be (re)done, or None when its outputs are up to date."""
    return assess(source, outputs, signature).reason


def assess(source: Path, outputs: Outputs, signature: str) -> State:
    """Like black's cache: size and mtime unchanged means unchanged; otherwise the hash decides,
    so a touched but identical file is still up to date (and ``touched``).

    Any sidecar that is not what this tool writes (unreadable, not JSON, a field of the wrong
    type) means out of date, never an error.
    """
    return _assess(source, outputs, signature)[0]


def _assess(
    source: Path, outputs: Outputs, signature: str
) -> tuple[State, _Record | None, os.stat_result | None]:
    loaded = _load_sidecar(outputs.sidecar)
    if loaded is None:
        missing = not os.path.lexists(outputs.sidecar)
        return State("new" if missing else "sidecar unreadable"), None, None
    data, sidecar_mtime = loaded
    recorded = data.get("signature")
    if isinstance(recorded, str) and recorded != signature:
        return State("settings changed"), None, None
    record = _record(data)
    if record is None or not isinstance(recorded, str):
        return State("sidecar malformed"), None, None
    written = [sidecar_mtime]
    for path in outputs.texts():
        try:
            info = path.stat()
        except OSError:
            return State("outputs missing"), None, None
        if not stat_mode.S_ISREG(info.st_mode):
            return State("outputs missing"), None, None
        written.append(info.st_mtime_ns)
    try:
        stat = source.stat()
        same = record.size == stat.st_size and record.mtime_ns == stat.st_mtime_ns
        if not same and not _same_content(source, stat, record.sha256):
            return State("input changed"), None, None
    except OSError:
        return State("input unreadable"), None, None
    # make compares mtimes: outputs older than their input are rebuilt for ever.
    touched = not same or min(written) < stat.st_mtime_ns
    return State(None, touched), record, stat


def _record(data: dict[str, Any]) -> _Record | None:
    recorded = data.get("input")
    if not isinstance(recorded, dict):
        return None
    size, mtime_ns, sha256 = (recorded.get(k) for k in ("size", "mtime_ns", "sha256"))
    if _is_int(size) and _is_int(mtime_ns) and isinstance(sha256, str):
        return _Record(size, mtime_ns, sha256, data)
    return None


def _is_int(value: object) -> typing.TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _same_content(source: Path, before: os.stat_result, sha256: str) -> bool:
    """Whether ``source`` still hashes to ``sha256``; a file changing while read is not."""
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
        after = os.fstat(fh.fileno())
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return False
    return digest.hexdigest() == sha256


def refresh(source: Path, outputs: Outputs, signature: str) -> State:
    """For a touched article, record the input's new size and mtime and bump the outputs' mtimes
    (outputs first, the sidecar last and atomically), then say it is up to date; for any other
    article just its state. Call while holding the article's claim. Raises OSError.
    """
    state, record, stat = _assess(source, outputs, signature)
    if not state.touched or record is None or stat is None:
        return state
    # Never older than the input, even one dated in the future, or make would ask again.
    mtime_ns = max(time.time_ns(), stat.st_mtime_ns)
    for path in outputs.texts():
        os.utime(path, ns=(mtime_ns, mtime_ns))
    data = {
        **record.data,
        "input": {**record.data["input"], "size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
    }
    write_atomic(outputs.sidecar, _sidecar_text(data), mtime_ns=mtime_ns)
    return State(None, touched=False)


def _sidecar_text(sidecar: dict[str, Any]) -> str:
    return json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n"


def write_atomic(path: Path, text: str, *, mtime_ns: int | None = None) -> None:
    """Write through a temporary file in the same directory and ``os.replace`` it into place,
    with its mtime set to ``mtime_ns`` first when given."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mtime_ns is not None:
            os.utime(temp, ns=(mtime_ns, mtime_ns))
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
    write_atomic(outputs.sidecar, _sidecar_text(sidecar))
