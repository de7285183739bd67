"""Inputs from paths: files, directories and standard input, leaving out the tool's own files."""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import re
import stat as statmod
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from summarize.errors import UsageError
from summarize.settings import InputSettings
from summarize.snapshot import read_start
from summarize.templates import owner_regex, template_regex

__all__ = [
    "STDIN", "STDIN_NAME", "Job", "Skipped", "display_name", "find_inputs", "report_clash",
    "taken_under",
]  # fmt: skip

log = logging.getLogger(__name__)

#: the path that stands for standard input on the command line, and its name in messages
STDIN = "-"
STDIN_NAME = "<stdin>"


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
        return STDIN_NAME if self.path is None else display_name(self.path)

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
    r"""``path`` as one line of text that any encoder accepts: bytes that are not UTF-8 become
    ``\xNN``, control characters ``\n``, ``\r``, ``\t``, ``\xNN`` (or ``\u2028``), invisible
    format characters (Unicode category Cf) ``\uNNNN``.

    File names are bytes; Python keeps undecodable ones as lone surrogates, which UTF-8 output
    (sidecars, reports, logs) refuses. A name may also hold a newline, which would split a
    message, a listing or a table row in two, or a bidi control (U+202E) or zero-width
    character, which would show it as another name (``evil\u202etxt.exe`` as ``evilexe.txt``).
    Applied twice, it gives the same text.
    """
    text = os.fsencode(path).decode("utf-8", "backslashreplace").translate(_ESCAPED)
    if text.isascii():  # nearly every name: no format character to look for
        return text
    return "".join(_escaped_format(c) for c in text)


def _escaped_format(char: str) -> str:
    if unicodedata.category(char) != "Cf":
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


# Every character that ends a line for str.splitlines or a terminal, or moves its cursor.
_ESCAPED = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_ESCAPED |= {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"}


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
        elif not raw:  # Path("") is ".": an unset "$DIR" must not mean the current folder
            raise UsageError("an empty path ('') names nothing; use . for the current directory")
        else:
            found += _named(Path(raw), select, left_out)
    return _once_each([f for f in found if f.key not in select.own_files], left_out)


def report_clash(
    report: Path, paths: Sequence[str], settings: InputSettings, reserved: Sequence[str]
) -> str | None:
    """Why the ``--report`` file must not be written, if it must not: a name shaped like the
    tool's own files (an article's output would overwrite it), or an article of this very run
    (opening the report would empty it, and the search then leaves it out as the run's own)."""
    select = _Selector(settings, reserved)
    template = select.reserved_template(report.name)
    if template is not None:
        return (
            f"named like the tool's own files ({template}), which an article's output may replace"
        )
    if not report.is_file() or _is_a_report(report):
        return None  # a report inside the tree is the run's own file, left out of the search
    if _taken_under(report, paths, select) is not None:
        return "it is an article of this run, which the report would overwrite"
    return None


def taken_under(
    path: Path, paths: Sequence[str], settings: InputSettings, reserved: Sequence[str]
) -> str | None:
    """Which of ``paths`` a run's search would take ``path`` from as an article (whether or
    not ``path`` exists yet), or None: a file the tool writes there must not become an input."""
    return _taken_under(path, paths, _Selector(settings, reserved))


def _taken_under(path: Path, paths: Sequence[str], select: _Selector) -> str | None:
    real = os.path.realpath(path)
    for raw in paths:
        if raw in ("", STDIN):
            continue
        named = os.path.realpath(raw)
        if named == real:
            return raw
        if not os.path.isdir(named):
            continue
        relative = os.path.relpath(real, named)
        parts = relative.split(os.sep)
        inside = parts[0] != os.pardir and not any(p.startswith(".") for p in parts[:-1])
        if inside and select.verdict(path.name, relative.replace(os.sep, "/")) == _TAKE:
            return raw
    return None


def _is_a_report(path: Path) -> bool:
    """Whether ``path`` is empty or a JSONL report as a run writes it (an earlier run's)."""
    try:
        head = read_start(path, 16)  # never waiting on a FIFO put there meanwhile
    except OSError:
        return False
    return head == b"" or head.startswith((b'{"path": ', b'{"totals": '))


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
        self.reserved = _any_of([template_regex(t) for t in reserved])
        self.templates = [(t, re.compile(owner_regex(t))) for t in reserved]

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
            elif verdict:  # a hidden .txt is a user's file too (the tool's own end in .tmp)
                _skip(skipped, Path(entry.path), verdict)
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
        if os.path.isdir(target):  # a folder, as any symlinked folder: not followed, no article
            return None
        # A dangling one is kept, to be reported as unreadable.
        return _Found(Job(path, root, Path(target)), target, link=True)
    if not entry.is_file(follow_symlinks=False):
        _skip(skipped, path, "not a regular file (a FIFO or a device would block or never end)")
        return None
    return _Found(Job(path, root), key, link=False)
