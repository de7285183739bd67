"""Whether an article is up to date: the input's fingerprint, the sidecar's record of it.

Like black's cache: size and mtime unchanged means unchanged, otherwise the content hash
decides; the signature (summarize.identity: every setting and model that changes what is
written) must be the one the sidecar records.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat as statmod
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize.outputs import Outputs, sidecar_text, write_atomic
from summarize.snapshot import FileTooLarge, read_snapshot

__all__ = [
    "FileTooLarge",
    "State",
    "assess",
    "fingerprint",
    "read_sidecar",
    "read_snapshot",
    "refresh",
    "stale_reason",
]


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
    write_atomic(outputs.sidecar, sidecar_text(data), mtime_ns=mtime_ns)
    return State(None, touched=False)
