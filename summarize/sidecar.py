"""The sidecar: what a run records of an article it wrote, in one schema with one reader.

The writer builds a :class:`Sidecar` and writes :meth:`Sidecar.as_dict`; every reader (the
rerun check, ``--strict``, review, eval) gets one from :func:`read`, which never raises on any
content. A field that is not what the tool writes (another type, a bad item in a list, a number
out of range) reads as absent and is named in ``malformed``: the article is then redone, and
the review says so.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from summarize import jsontext
from summarize.discovery import display_name
from summarize.outputs import KINDS, Outputs
from summarize.report import Flag
from summarize.seal import unsealed, value_at
from summarize.settings import Config
from summarize.snapshot import read_snapshot

__all__ = ["MAX_BYTES", "Engine", "InputRecord", "Sidecar", "Stamp", "parse", "read", "read_stamp"]

#: A sidecar holds the removed lines and flags of one article (inputs are 10 MB by default):
#: anything larger is not one the tool wrote, and is not read into memory.
MAX_BYTES = 64 * 1024 * 1024

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_SHA256 = re.compile(r"[0-9a-f]{64}").fullmatch


@dataclass(frozen=True)
class InputRecord:
    """The input as it was read: its size and mtime, and the sha256 of the bytes processed."""

    size: int
    mtime_ns: int
    sha256: str
    #: the input as messages name it (a byte that is not UTF-8 as ``\\xNN``), for people
    path: str | None = None

    @classmethod
    def read(cls, value: object) -> InputRecord | None:
        """The record ``value`` holds, or None when it is not one."""
        if not isinstance(value, Mapping):
            return None
        size, mtime_ns, sha256, path = (
            value.get(k) for k in ("size", "mtime_ns", "sha256", "path")
        )
        if not (_is_int(size) and _is_int(mtime_ns) and isinstance(sha256, str)):
            return None
        if not _SHA256(sha256) or not isinstance(path, (str, type(None))):
            return None
        return cls(size, mtime_ns, sha256, path)

    def as_dict(self) -> dict[str, object]:
        named = {} if self.path is None else {"path": self.path}
        return {**named, "size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256}


@dataclass(frozen=True)
class Engine:
    """A loaded engine as the sidecar describes it."""

    model: str
    device: str
    dtype: str
    #: the engine that ran it (what backend = "auto" chose); "" in older sidecars
    engine: str = ""
    #: how its family was asked for its job (summarize.families.Recipe.describe)
    family: str = ""

    def describe(self, role: str) -> str:
        how = ", ".join(x for x in (self.engine, self.device, self.dtype) if x)
        family = f"; {self.family}" if self.family else ""
        return f"{role}: {self.model} ({how}){family}"


@dataclass(frozen=True)
class Sidecar:
    """Everything a sidecar records; a field it does not hold is None or empty."""

    input: InputRecord | None = None
    #: the settings signature of the run that wrote the article
    signature: str | None = None
    #: each output's file name, by output kind, as it is on disk; None: not recorded (the
    #: configured names hold)
    outputs: Mapping[str, str] | None = None
    #: the checks failed, readable ones only (see ``unreadable_flags``)
    flags: tuple[Flag, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: the lines cleanup removed, in order; None: not recorded
    removed_lines: tuple[str, ...] | None = None
    seconds: Mapping[str, float] = field(default_factory=dict)
    engines: Mapping[str, Engine] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    map_reduce: bool | None = None
    #: the configuration as TOML-like tables
    settings: Mapping[str, Mapping[str, Any]] | None = None
    tool: str | None = None
    created: str | None = None
    #: how many flags are not flags this version can read (each one a check failed)
    unreadable_flags: int = 0
    #: the keys whose values are not what the tool writes, read as absent
    malformed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The JSON object written to the sidecar file (fields not held are left out)."""
        data: dict[str, object] = {
            "tool": self.tool,
            "created": self.created,
            "input": None if self.input is None else self.input.as_dict(),
            "signature": self.signature,
            "settings": self.settings,
            "engines": {role: dataclasses.asdict(e) for role, e in self.engines.items()},
            "outputs": None if self.outputs is None else dict(self.outputs),
            "counts": dict(self.counts),
            "map_reduce": self.map_reduce,
            "seconds": dict(self.seconds),
            "removed_lines": None if self.removed_lines is None else list(self.removed_lines),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "flags": [flag.as_dict() for flag in self.flags],
        }
        return {key: value for key, value in data.items() if value is not None}

    def written_outputs(self, configured: Outputs) -> Outputs:
        """The outputs the run says it wrote, beside the sidecar; a record without its list of
        outputs (hand-made, or spoiled) is taken to mean the ``configured`` names."""
        if self.outputs is None:
            return configured
        recorded = self.outputs
        paths = {
            kind.key: _beside(configured, kind.key, recorded[kind.key])
            if kind.key in recorded
            else None
            for kind in KINDS
        }
        return Outputs(**paths, sidecar=configured.sidecar)


def _beside(configured: Outputs, key: str, name: str) -> Path:
    expected: Path | None = getattr(configured, key)
    # Earlier versions recorded a name as shown (a byte that is not UTF-8 as \xNN).
    if expected is not None and name == display_name(expected.name):
        return expected
    return configured.sidecar.with_name(name)


@dataclass(frozen=True)
class Stamp:
    """What the rerun check needs of a sidecar: the input and signature it records, whether a
    field is not what the tool writes, the sidecar's mtime and the output names it records."""

    input: InputRecord | None
    signature: str | None
    malformed: bool
    mtime_ns: int
    outputs: Mapping[str, str] | None = None

    def vouches_for(self, configured: Outputs) -> bool:
        """Whether the outputs the sidecar records are the ``configured`` files (a record with
        no list of outputs is taken to mean them)."""
        if self.outputs is None:
            return True
        for kind in KINDS:
            path = getattr(configured, kind.key)
            if path is None:
                continue
            name = self.outputs.get(kind.key)
            # The name as it is, nearly always; earlier versions recorded it as shown.
            if name != path.name and name != display_name(path.name):
                return False
        return True


def read(path: Path) -> tuple[Sidecar, int] | None:
    """The sidecar at ``path`` and its mtime; None when there is none, or it cannot be read or
    is not a JSON object. Never blocks (a FIFO in its place is refused), never raises."""
    try:
        raw, info = read_snapshot(path, max_bytes=MAX_BYTES, follow_symlinks=True)
    except OSError as exc:
        log.debug("%s: not read as a sidecar (%s)", display_name(path), exc)
        return None
    sidecar = _decoded(raw, path)
    return None if sidecar is None else (sidecar, info.st_mtime_ns)


def read_stamp(path: Path) -> Stamp | None:
    """Like :func:`read`, for the rerun check: of a sidecar whose seal holds (as the tool
    wrote it, so every field is well-formed) only the input and signature are parsed."""
    try:
        raw, info = read_snapshot(path, max_bytes=MAX_BYTES, follow_symlinks=True)
    except OSError:
        return None
    text = unsealed(raw)
    if text is not None:
        record, signature = value_at(text, "input"), value_at(text, "signature")
        if record[1] and signature[1]:
            # As the tool wrote them (the seal holds): a map of file names, or absent.
            names, _ = value_at(text, "outputs")
            recorded = names if isinstance(names, dict) else None
            return Stamp(
                InputRecord.read(record[0]), _text(signature[0]), False, info.st_mtime_ns, recorded
            )
    sidecar = _decoded(raw, path)
    if sidecar is None:
        return None
    malformed = bool(sidecar.malformed)
    return Stamp(sidecar.input, sidecar.signature, malformed, info.st_mtime_ns, sidecar.outputs)


def _decoded(raw: bytes, path: Path) -> Sidecar | None:
    try:
        data = jsontext.loads(raw, max_bytes=MAX_BYTES)
    except jsontext.JsonError as exc:  # not UTF-8, not JSON, too deep, too long
        log.debug("%s: not read as a sidecar (%s)", display_name(path), exc)
        return None
    return parse(data)


def parse(data: object) -> Sidecar | None:
    """The sidecar ``data`` (a JSON value) holds; None when it is not an object. Keys it does
    not know are ignored, and a null one is absent; a known key whose value is not what the
    tool writes is named in ``malformed`` and read as absent (or, in a list, its readable items
    kept)."""
    if not isinstance(data, dict):
        return None
    malformed: list[str] = []

    def take(key: str, reader: Callable[[object], tuple[_T, bool]], absent: _T) -> _T:
        if data.get(key) is None:  # null, as hand-made records may say "none"
            return absent
        value, whole = reader(data[key])
        if not whole:
            malformed.append(key)
        return value

    no_flags: tuple[tuple[Flag, ...], int] = ((), 0)
    flags, unreadable = take("flags", _flags, no_flags)
    return Sidecar(
        input=take("input", _whole(InputRecord.read), None),
        signature=take("signature", _whole(_text), None),
        outputs=take("outputs", _whole(_names), None),
        flags=flags,
        warnings=take("warnings", _texts, ()),
        notes=take("notes", _texts, ()),
        removed_lines=take("removed_lines", _lines, None),
        seconds=take("seconds", _table(_seconds), {}),
        engines=take("engines", _table(_engine), {}),
        counts=take("counts", _table(_count), {}),
        map_reduce=take("map_reduce", _whole(_boolean), None),
        settings=take("settings", _whole(_settings), None),
        tool=take("tool", _whole(_text), None),
        created=take("created", _whole(_text), None),
        unreadable_flags=unreadable,
        malformed=tuple(malformed),
    )


def _whole(read_value: Callable[[object], _T | None]) -> Callable[[object], tuple[_T | None, bool]]:
    """A reader of a value that is read entirely or not at all."""

    def reader(value: object) -> tuple[_T | None, bool]:
        found = read_value(value)
        return found, found is not None

    return reader


def _texts(value: object) -> tuple[tuple[str, ...], bool]:
    if not isinstance(value, list):
        return (), False
    texts = tuple(item for item in value if isinstance(item, str))
    return texts, len(texts) == len(value)


def _lines(value: object) -> tuple[tuple[str, ...] | None, bool]:
    """Like :func:`_texts`, but None (not recorded, unlike no line) when it is not a list."""
    texts, whole = _texts(value)
    return (texts if isinstance(value, list) else None), whole


def _flags(value: object) -> tuple[tuple[tuple[Flag, ...], int], bool]:
    if not isinstance(value, list):
        return ((), 0), False
    read_ = [_flag(item) for item in value]
    flags = tuple(flag for flag in read_ if flag is not None)
    unreadable = len(read_) - len(flags)
    return (flags, unreadable), unreadable == 0


def _table(
    read_value: Callable[[object], _T | None],
) -> Callable[[object], tuple[Mapping[str, _T], bool]]:
    """A reader of an object whose every value ``read_value`` reads (the others left out)."""

    def reader(value: object) -> tuple[Mapping[str, _T], bool]:
        if not isinstance(value, dict):
            return {}, False
        found = {key: read_value(item) for key, item in value.items()}
        table = {key: item for key, item in found.items() if item is not None}
        return table, len(table) == len(value)

    return reader


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _boolean(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _count(value: object) -> int | None:
    return value if _is_int(value) else None


def _seconds(value: object) -> float | None:
    number = _number(value)
    return number if number is not None and math.isfinite(number) and number >= 0 else None


def _engine(value: object) -> Engine | None:
    if not isinstance(value, dict):
        return None
    model, device, dtype = (value.get(k) for k in ("model", "device", "dtype"))
    engine, family = (value.get(k, "") for k in ("engine", "family"))
    named = (model, device, dtype, engine, family)
    if all(isinstance(x, str) for x in named):
        return Engine(*typing.cast(tuple[str, str, str, str, str], named))
    return None


def _names(value: object) -> Mapping[str, str] | None:
    """Output file names by kind; None unless every one is a name a file can have here."""
    if not isinstance(value, dict) or not all(_file_name(n) for n in value.values()):
        return None
    return {str(key): name for key, name in value.items()}


def _file_name(name: object) -> typing.TypeGuard[str]:
    """A single file name that can be opened: no folder, no NUL, and (on POSIX) only the lone
    surrogates that stand for bytes that are not UTF-8."""
    if not isinstance(name, str) or name in ("", ".", "..") or "\0" in name:
        return False
    if "/" in name or os.sep in name:
        return False
    try:
        os.fsencode(name)
    except UnicodeError:
        return False
    return True


def _settings(value: object) -> Mapping[str, Mapping[str, Any]] | None:
    """The configuration's tables, as the tool writes them: each value plain (or a list of
    plain values), and of the kind its setting has (another version's settings are kept)."""
    if not isinstance(value, dict):
        return None
    for section, table in value.items():
        if not isinstance(table, dict):
            return None
        known = _DEFAULTS.get(section, {})
        if not all(_setting(item, known.get(key, item)) for key, item in table.items()):
            return None
    return value


#: every setting with its default, whose kind a recorded value must have
_DEFAULTS = dataclasses.asdict(Config())


def _setting(value: object, default: object) -> bool:
    if isinstance(value, list):
        return isinstance(default, list) and all(_kind(item) is not None for item in value)
    return _kind(value) is not None and _kind(value) == _kind(default)


def _kind(value: object) -> str | None:
    """A plain setting's kind (an int and a float are both numbers); None for anything else."""
    if value is None or isinstance(value, (str, bool)):
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "number" if _number(value) is not None and math.isfinite(value) else None
    return None


def _flag(item: object) -> Flag | None:
    """The check ``item`` records (as :meth:`Flag.as_dict` writes it), or None."""
    if not isinstance(item, dict):
        return None
    output, check, segment = item.get("output"), item.get("check"), item.get("segment")
    value, threshold = _number(item.get("value")), _number(item.get("threshold"))
    attempts, repaired = item.get("attempts", 1), item.get("repaired", False)
    span, placed = _span(item.get("span")), item.get("output_span")
    output_span = None if placed is None else _span(placed)
    if not (isinstance(output, str) and isinstance(check, str) and _is_int(segment)):
        return None
    if value is None or threshold is None or span is None or not _is_int(attempts):
        return None
    if not isinstance(repaired, bool) or (placed is not None and output_span is None):
        return None
    return Flag(output, segment, span, check, value, threshold, attempts, repaired, output_span)


def _span(value: object) -> tuple[int, int] | None:
    if isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value):
        return value[0], value[1]
    return None


def _number(value: object) -> float | None:
    """A JSON number as a float (a measurement may be NaN or infinite; an int too large for a
    float is not a number the tool writes)."""
    if isinstance(value, float):
        return value
    if _is_int(value):
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def _is_int(value: object) -> typing.TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
