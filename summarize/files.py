"""Input discovery, output naming, atomic writes, and the sidecar that says an article is done."""

from __future__ import annotations

import errno
import fnmatch
import glob
import hashlib
import json
import logging
import os
import re
import secrets
import stat as statmod
import string
import time
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.config import InputSettings, OutputSettings, template_regex
from summarize.errors import UsageError

__all__ = [
    "FileTooLarge",
    "Job",
    "Outputs",
    "Skipped",
    "State",
    "assess",
    "display_name",
    "find_inputs",
    "fingerprint",
    "format_name",
    "name_too_long",
    "output_paths",
    "overlaps",
    "read_regular",
    "read_sidecar",
    "read_snapshot",
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
    #: the resolved file when discovery found ``path`` to be a symlink: it is opened instead,
    #: without following links, so a swap after discovery cannot redirect the read
    target: Path | None = None

    @property
    def name(self) -> str:
        """The path for messages, reports and sidecars: always printable and encodable."""
        return "<stdin>" if self.path is None else display_name(self.path)

    @property
    def source(self) -> Path | None:
        """The file to open (never through a symlink)."""
        return self.target or self.path


@dataclass(frozen=True)
class Skipped:
    """A path discovery saw and left out, with the reason the user is told."""

    path: Path
    reason: str

    @property
    def name(self) -> str:
        return display_name(self.path)


def display_name(path: Path | str) -> str:
    r"""``path`` as text that any encoder accepts: bytes that are not UTF-8 become ``\xNN``.

    File names are bytes; Python keeps undecodable ones as lone surrogates, which UTF-8 output
    (sidecars, reports, logs) refuses.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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
    paths: Sequence[str],
    settings: InputSettings,
    reserved: Sequence[str],
    *,
    exclude: Sequence[Path] = (),
    skipped: list[Skipped] | None = None,
) -> list[Job]:
    """Expand files, directories (recursively) and ``-`` into jobs, each file once, in order.

    Hidden files and directories, names shaped like a ``reserved`` template (the tool's own
    outputs, references), ``input.exclude`` matches and the files and folders in ``exclude``
    (the run's own report and output directory) are left out of directory searches; symlinks
    are not followed out of the directory given, and a file reached both directly and through a
    symlink is done under its own name.
    Every path left out that could have been meant as an article goes to ``skipped`` with the
    reason. A path named on the command line that cannot be an input is a UsageError.
    """
    select = _Selector(settings, reserved, exclude)
    left_out = skipped if skipped is not None else []
    found: list[_Found] = []
    for raw in paths:
        if raw == STDIN:
            if any(f.job.path is None for f in found):
                raise UsageError("'-' (standard input) given more than once")
            found.append(_Found(Job(None), None, link=False))
        else:
            found += _named(Path(raw), select, left_out)
    return _once_each([f for f in found if f.key not in select.own_files], left_out)


@dataclass(frozen=True)
class _Found:
    """A job and its real path (None for standard input), to take each file once."""

    job: Job
    key: str | None
    link: bool


def _named(path: Path, select: _Selector, skipped: list[Skipped]) -> list[_Found]:
    """What a path given on the command line stands for."""
    name = display_name(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise UsageError(f"{name}: {_not_found(path, exc)}") from None
    if statmod.S_ISDIR(mode):
        return list(_walk(path, select, skipped))
    if not statmod.S_ISREG(mode):
        raise UsageError(f"{name}: not a regular file or directory")
    template = select.reserved_template(path.name)
    if template is not None:
        raise UsageError(
            f"{name}: named like the tool's own files ({template}), so never an input; "
            "rename it to process it"
        )
    real = os.path.realpath(path)
    link = path.is_symlink()
    return [_Found(Job(path, path.parent, Path(real) if link else None), real, link)]


def _not_found(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop: cannot resolve it"
    if exc.errno == errno.ENOENT and os.path.lexists(path):
        return f"dangling symlink: its target {display_name(os.readlink(path))} does not exist"
    if exc.errno == errno.ENOENT:
        return "no such file or directory"
    return f"cannot access it ({exc.strerror})"


def _once_each(found: list[_Found], skipped: list[Skipped]) -> list[Job]:
    """The jobs, each file once: under its own name rather than through a symlink to it."""
    chosen: dict[str, _Found] = {}
    for item in found:
        if item.key is not None:
            first = chosen.get(item.key)
            if first is None or (first.link and not item.link):
                chosen[item.key] = item
    jobs = []
    for item in found:
        best = item if item.key is None else chosen[item.key]
        if best is item:
            jobs.append(item.job)
        elif item.job.path != best.job.path and item.job.path is not None:
            _skip(skipped, item.job.path, f"the same file as {best.job.name}, done under that name")
    return jobs


def _skip(skipped: list[Skipped], path: Path, reason: str, level: int = logging.WARNING) -> None:
    entry = Skipped(path, reason)
    skipped.append(entry)
    log.log(level, "%s: skipped: %s", entry.name, reason)


# What a directory search does with a file name: take it, weigh it against its folder's inputs
# (it may be one of their outputs), or leave it out silently (not an article's name at all).
_TAKE = "take"
_RESERVED = "reserved"
_SILENT = ""
_HIDDEN = "hidden file (its name starts with '.')"


class _Selector:
    """The name tests of a directory search, compiled once: they run for every file."""

    def __init__(
        self, settings: InputSettings, reserved: Sequence[str], own_files: Sequence[Path] = ()
    ) -> None:
        self.own_files = {os.path.realpath(p) for p in own_files}
        wanted = [fnmatch.translate(g) for g in settings.globs]
        self.wanted = _any_of(wanted)
        self.wanted_ignoring_case = _any_of(wanted, re.IGNORECASE)
        self.excluded = _any_of([fnmatch.translate(x) for x in settings.exclude])
        self.reserved = _any_of([_template_regex(t) for t in reserved])
        self.templates = [(t, re.compile(_owner_regex(t))) for t in reserved]

    def verdict(self, name: str, relative: str) -> str:
        """_TAKE, _RESERVED, _SILENT or the reason the file is left out."""
        if not self.wanted(name):
            if self.wanted_ignoring_case(name):
                return "matches input.globs only when ignoring case (globs are case-sensitive)"
            return _SILENT
        if name.startswith("."):
            return _HIDDEN
        if self.excluded(name) or self.excluded(relative):
            return _SILENT
        return _RESERVED if self.reserved(name) else _TAKE

    def reserved_template(self, name: str) -> str | None:
        return next((t for t, regex in self.templates if regex.fullmatch(name)), None)

    def owned(self, name: str, stems: set[str], names: set[str]) -> bool:
        """Whether ``name`` could be an output or reference of an input with one of ``stems``
        (or ``names``, for templates that keep the extension)."""
        for _, regex in self.templates:
            match = regex.fullmatch(name)
            if match is None:
                continue
            fields = match.groupdict()
            if fields.get("stem") in stems or fields.get("name") in names:
                return True
        return False


def _any_of(patterns: list[str], flags: int = 0) -> Callable[[str], object]:
    if not patterns:
        return lambda name: None
    return re.compile("|".join(f"(?:{p})" for p in patterns), flags).fullmatch


def _walk(root: Path, select: _Selector, skipped: list[Skipped]) -> Iterator[_Found]:
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
            _skip(skipped, Path(folder), f"cannot list this directory ({exc.strerror})")
            continue
        subfolders, taken, reserved = [], [], []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                mine = os.path.join(real_root, prefix + entry.name) in select.own_files
                if not entry.name.startswith(".") and not mine:
                    subfolders.append((entry.path, f"{prefix}{entry.name}/"))
                continue
            verdict = select.verdict(entry.name, prefix + entry.name)
            if verdict == _TAKE:
                taken.append(entry)
            elif verdict == _RESERVED:
                reserved.append(entry)
            elif verdict:
                level = logging.INFO if verdict == _HIDDEN else logging.WARNING
                _skip(skipped, Path(entry.path), verdict, level)
        _weigh_reserved(reserved, taken, select, skipped)
        for entry in taken:
            key = os.path.join(real_root, prefix + entry.name)
            item = _checked_file(entry, key, real_root, root, skipped)
            if item is not None:
                yield item
        pending.extend(reversed(subfolders))


def _weigh_reserved(
    reserved: list[os.DirEntry[str]],
    taken: list[os.DirEntry[str]],
    select: _Selector,
    skipped: list[Skipped],
) -> None:
    """Say why a file named like an output is left out, unless it belongs to an input here."""
    if not reserved:
        return
    stems = {_stem(entry.name) for entry in taken}
    names = {entry.name for entry in taken}
    for entry in reserved:
        if not select.owned(entry.name, stems, names):
            template = select.reserved_template(entry.name)
            reason = f"named like the tool's own files ({template}); rename it to process it"
            _skip(skipped, Path(entry.path), reason)


def _stem(name: str) -> str:
    """``Path(name).stem``, without building a Path for every file of a large tree."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _checked_file(
    entry: os.DirEntry[str], key: str, real_root: str, root: Path, skipped: list[Skipped]
) -> _Found | None:
    """The entry as an input (a symlink as its target); None if it must not be read."""
    path = Path(entry.path)
    if entry.is_symlink():
        target = os.path.realpath(entry.path)
        if os.path.commonpath([target, real_root]) != real_root:
            _skip(skipped, path, f"symlink to a file outside {display_name(root)}, not followed")
            return None
        # A dangling one is kept, to be reported as unreadable.
        return _Found(Job(path, root, Path(target)), target, link=True)
    if not entry.is_file(follow_symlinks=False):
        _skip(skipped, path, "not a regular file (a FIFO or a device would block or never end)")
        return None
    return _Found(Job(path, root), key, link=False)


def _template_regex(template: str) -> str:
    return template_regex(template)


def format_name(template: str, source: Path) -> str:
    """A file name from a template: ``{stem}`` is the source's name without its extension,
    ``{name}`` with it (so that ``x.txt`` and ``x.md`` can have outputs of their own)."""
    return template.format(stem=source.stem, name=source.name)


def _owner_regex(template: str) -> str:
    """Like :func:`template_regex`, capturing the input's ``stem`` or ``name`` it was made from."""
    parts, seen = [], set()
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>.+)")
            seen.add(field)
    return "".join(parts)


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


# write_atomic's temporary files add ".", "." + 8 hex digits and ".tmp" to an output's name.
_TEMPORARY_EXTRA = 14
# Names shorter than this fit every file system: no need to ask the folder's limit.
_SURELY_SHORT = 128


def name_too_long(outputs: Outputs) -> str | None:
    """Why an output's name (or its temporary's) is over its file system's limit, if it is.

    Checked while planning, so such an article fails alone instead of stopping the run.
    """
    longest = max((*outputs.texts(), outputs.sidecar), key=lambda p: len(os.fsencode(p.name)))
    need = len(os.fsencode(longest.name)) + _TEMPORARY_EXTRA
    if need < _SURELY_SHORT:
        return None
    limit = _name_max(longest.parent)
    if need <= limit:
        return None
    return (
        f"file name too long for its outputs ({display_name(longest.name)} and its temporary "
        f"file need {need} bytes, the file system allows {limit}); shorten the input's name"
    )


def _name_max(folder: Path) -> int:
    for existing in (folder, *folder.parents):  # an output directory may not exist yet
        try:
            return os.pathconf(existing, "PC_NAME_MAX")
        except (OSError, ValueError):
            continue
    return 255


class FileTooLarge(OSError):
    """A file holds more bytes than the reader's limit (``size``, as far as it was seen)."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__(errno.EFBIG, f"{size} bytes", str(path))
        self.size = size


# Non-blocking, so opening a FIFO returns at once (and is then refused, as not a regular file).
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_KINDS = (
    (statmod.S_ISDIR, "a directory"),
    (statmod.S_ISFIFO, "a FIFO"),
    (statmod.S_ISSOCK, "a socket"),
    (statmod.S_ISCHR, "a device"),
    (statmod.S_ISBLK, "a device"),
)


def read_regular(
    path: Path, *, max_bytes: int | None = None, follow_symlinks: bool = False
) -> bytes:
    """The bytes of the regular file ``path``, never blocking on a FIFO or device.

    Raises OSError: the path is a symlink (unless ``follow_symlinks``), not a regular file,
    more than ``max_bytes`` (FileTooLarge), changed while being read, or cannot be read.
    """
    return read_snapshot(path, max_bytes=max_bytes, follow_symlinks=follow_symlinks)[0]


def read_snapshot(
    path: Path, *, max_bytes: int | None = None, follow_symlinks: bool = False
) -> tuple[bytes, os.stat_result]:
    """Like :func:`read_regular`, with the file's stat that holds for exactly these bytes.

    The open descriptor is stat'ed before and after the read; a file written meanwhile is read
    once more, and fails when it changes again.
    """
    for _ in range(2):
        data, before, after = _read_once(path, max_bytes, follow_symlinks)
        if _same_file_state(before, after) and len(data) == after.st_size:
            return data, after
    raise OSError(errno.EAGAIN, "changed while being read", str(path))


def _read_once(
    path: Path, max_bytes: int | None, follow_symlinks: bool
) -> tuple[bytes, os.stat_result, os.stat_result]:
    flags = _READ_FLAGS if follow_symlinks else _READ_FLAGS | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        before = os.fstat(fd)
        if not statmod.S_ISREG(before.st_mode):
            kind = next((k for test, k in _KINDS if test(before.st_mode)), "special")
            raise OSError(errno.EINVAL, f"not a regular file but {kind}", str(path))
        if max_bytes is not None and before.st_size > max_bytes:
            raise FileTooLarge(path, before.st_size)
        data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        after = os.fstat(fd)
    if max_bytes is not None and len(data) > max_bytes:
        raise FileTooLarge(path, max(len(data), after.st_size))
    return data, before, after


def _same_file_state(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)


def fingerprint(
    path: Path, data: bytes | None = None, stat: os.stat_result | None = None
) -> dict[str, Any]:
    """Size, mtime and sha256 of an input, as stored in its sidecar.

    Give the ``data`` and ``stat`` of one :func:`read_snapshot`, so the record describes exactly
    the bytes that were processed; without them the file is read here.
    """
    if data is None:
        data, stat = read_snapshot(path, follow_symlinks=True)
    elif stat is None:
        stat = path.stat()
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
        raw, info = read_snapshot(path, follow_symlinks=True)  # a FIFO must not block the run
        mtime_ns = info.st_mtime_ns
        data = json.loads(raw.decode("utf-8"))
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
        if not statmod.S_ISREG(info.st_mode):
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
    if _is_int(size) and _is_int(mtime_ns) and isinstance(sha256, str) and _SHA256(sha256):
        return _Record(size, mtime_ns, sha256, data)
    return None


_SHA256 = re.compile(r"[0-9a-f]{64}").fullmatch


def _is_int(value: object) -> typing.TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _same_content(source: Path, before: os.stat_result, sha256: str) -> bool:
    """Whether ``source`` still hashes to ``sha256``; a file changing while read is not."""
    data, after = read_snapshot(source, follow_symlinks=True)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return False
    return hashlib.sha256(data).hexdigest() == sha256


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
        _replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _replace(temp: Path, path: Path) -> None:
    try:
        os.replace(temp, path)
    except OSError as exc:  # name the output, not the temporary file the user never saw
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc


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
