"""The output kinds, their file names and collisions, atomic writes, and stray temporaries."""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.discovery import Job, display_name
from summarize.errors import naming
from summarize.seal import seal
from summarize.settings import EvalSettings, InputSettings, OutputSettings
from summarize.snapshot import FileTooLarge, read_bounded
from summarize.templates import name_fields

__all__ = [
    "KINDS",
    "TRANSLATIONS",
    "Kind",
    "Outputs",
    "name_too_long",
    "output_paths",
    "overlaps",
    "remove_temporaries",
    "sidecar_text",
    "texts_by_kind",
    "write_atomic",
    "write_outputs",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """One text the tool writes for an article.

    ``key`` names it everywhere: the :class:`Outputs` field, the ``output.<key>`` template, the
    ``eval.<key>_reference`` template, the sidecar's and the ``--json`` keys.
    """

    key: str
    #: the heading of its section when standard input's texts are printed
    title: str
    #: the ``output.translate`` value that asks for it; None for the English summary
    translation_of: str | None = None
    #: the short name of its column in ``summarize eval``'s table
    short: str = ""

    def template(self, output: OutputSettings) -> str:
        template: str = getattr(output, self.key)
        return template

    def reference(self, references: EvalSettings) -> str:
        template: str = getattr(references, f"{self.key}_reference")
        return template

    def wanted(self, output: OutputSettings) -> bool:
        """Whether the settings ask for this output."""
        if self.translation_of is None:
            return output.summarize
        return self.translation_of in output.translate


#: Every text output, in the order they are written, printed and reported.
KINDS = (
    Kind("summary", "summary"),
    Kind("summary_ar", "summary (Arabic)", translation_of="summary", short="sumAR"),
    Kind("article_ar", "article (Arabic)", translation_of="article", short="artAR"),
)
#: The outputs that are translations (scored with chrF and BLEU by ``summarize eval``).
TRANSLATIONS = tuple(kind for kind in KINDS if kind.translation_of is not None)


def texts_by_kind(summary: str, translations: Mapping[str, str]) -> dict[str, str]:
    """An article's texts by output kind, from its summary and its translations by source."""
    return {
        kind.key: translations.get(kind.translation_of, "") if kind.translation_of else summary
        for kind in KINDS
    }


@dataclass(frozen=True)
class Outputs:
    """Where one article's results go; an output that is not asked for is None."""

    summary: Path | None
    summary_ar: Path | None
    article_ar: Path | None
    sidecar: Path

    def by_kind(self) -> dict[str, Path]:
        """The text outputs asked for, by their :data:`KINDS` key."""
        named = {kind.key: getattr(self, kind.key) for kind in KINDS}
        return {key: path for key, path in named.items() if path is not None}

    def texts(self) -> list[Path]:
        return list(self.by_kind().values())

    @property
    def claim(self) -> Path:
        """The lock file that marks the article as being processed (hidden, never an input)."""
        return self.sidecar.with_name(f".{self.sidecar.name}.lock")


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

    fields = name_fields(source)

    def named(template: str) -> Path:
        return folder / template.format(**fields)

    texts = {k.key: named(k.template(output)) if k.wanted(output) else None for k in KINDS}
    return Outputs(**texts, sidecar=named(output.sidecar))


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
        if job.target is not None:  # replacing the link or its target would lose the input
            kept.setdefault(key(os.path.realpath(job.path)), (job, "input"))
        folder, fields = os.path.dirname(job.path), name_fields(job.path)
        for template in references:
            reference = key.beside(folder, template.format(**fields))
            kept.setdefault(reference, (job, "reference for summarize eval"))
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
                refuse(job, f"its output {display_name(path)} would overwrite {whose} {what}")
            owner, first = owners.setdefault(here, (job, path))
            if owner is not job:
                hint = _keep_apart(job, owner)
                refuse(
                    job, f"its output {display_name(path)} is also an output of {owner.name}{hint}"
                )
                refuse(
                    owner, f"its output {display_name(first)} is also an output of {job.name}{hint}"
                )
            elif first is not path:
                refuse(job, f"two of its outputs are the same file {display_name(path)}")
    return refused


def _keep_apart(a: Job, b: Job) -> str:
    if a.path is not None and b.path is not None and a.path.name == b.path.name:
        return "; rename one, or write them to different output directories"
    return "; rename one, or use {name} (the name with its extension) in the output templates"


class _PathKeys:
    """Comparable keys for file paths; each folder is resolved and probed once."""

    def __init__(self) -> None:
        self._folders: dict[str, tuple[str, bool]] = {}

    def __call__(self, path: str | Path) -> str:
        # On strings: pathlib's parent and hash, for every output of a large tree, cost more
        # than the rest of a no-op rerun.
        folder, sep, name = os.fspath(path).rpartition(os.sep)
        return self.beside(folder or sep, name)

    def beside(self, folder: str, name: str) -> str:
        """The key of the file ``name`` in ``folder`` ("" for the current one)."""
        known = self._folders.get(folder)
        if known is None:
            real = os.path.realpath(folder or os.curdir)
            known = self._folders[folder] = (os.path.join(real, ""), _ignores_case(real))
        real, fold = known
        return (real + name).casefold() if fold else real + name


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
    paths = (*outputs.texts(), outputs.sidecar)
    # A character is at most 4 bytes: most names are surely short without encoding them.
    if 4 * max(len(p.name) for p in paths) + _TEMPORARY_EXTRA < _SURELY_SHORT:
        return None
    longest = max(paths, key=lambda p: len(os.fsencode(p.name)))
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


def sidecar_text(sidecar: dict[str, Any]) -> str:
    """The sidecar as JSON text that UTF-8 can hold, sealed (summarize.seal).

    A file name with a byte that is not UTF-8 is a str with a lone surrogate (Python's
    surrogateescape), which UTF-8 refuses: it is written as its JSON escape (``\\udce9``), which
    reads back as the very same str, and so as the name on disk.
    """
    text = json.dumps(sidecar, ensure_ascii=False, indent=2)
    # Only inside strings: a lone surrogate is no JSON syntax. No name holds a pair.
    return seal(_SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", text) + "\n")


_SURROGATE = re.compile("[\ud800-\udfff]")


#: An output is read (by review, eval) when within this many times input.max_bytes: an Arabic
#: letter takes two bytes of UTF-8 where an English one takes one, and a translation may run
#: longer; a larger file is none the tool wrote, and is not read into memory.
OUTPUT_BOUND = 8


def read_output_bytes(path: Path, settings: InputSettings) -> bytes:
    """The bytes of an output as they are now, never waiting on a FIFO or device in its place.

    Raises OSError naming ``path``, its reason the bound where the file is larger than any
    output of an input within ``input.max_bytes``.
    """
    bound = OUTPUT_BOUND * settings.max_bytes
    try:
        return read_bounded(path, bound)
    except FileTooLarge as exc:
        raise OSError(
            errno.EFBIG,
            f"{exc.size:,} bytes, more than any output of an input within input.max_bytes "
            f"({OUTPUT_BOUND} x {settings.max_bytes:,})",
            str(path),
        ) from None


def write_atomic(path: Path, text: str, *, mtime_ns: int | None = None) -> None:
    """Write through a temporary file in the same directory and ``os.replace`` it into place,
    with its mtime set to ``mtime_ns`` first when given. An OSError names ``path``, never the
    temporary file, nor nothing (a full disk fails the write, which names no file)."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with naming(path, instead_of=temp):
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
    if outputs.sidecar.is_dir() and not outputs.sidecar.is_symlink():
        # An empty folder holds nothing to lose; one with files fails the article, naming it.
        with contextlib.suppress(OSError):
            outputs.sidecar.rmdir()
    outputs.sidecar.unlink(missing_ok=True)
    for path in outputs.texts():
        write_atomic(path, texts[path].rstrip("\n") + "\n")
    write_atomic(outputs.sidecar, sidecar_text(sidecar))
