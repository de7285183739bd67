"""Whether an article is up to date: the input's fingerprint, the sidecar's record of it.

Like black's cache: size and mtime unchanged means unchanged, otherwise the content hash
decides; the signature (summarize.identity: every setting and model that changes what is
written) must be the one the sidecar records.
"""

from __future__ import annotations

import hashlib
import os
import stat as statmod
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from summarize.outputs import Outputs, sidecar_text, write_atomic
from summarize.sidecar import read as read_sidecar
from summarize.sidecar import read_stamp
from summarize.snapshot import FileTooLarge, read_snapshot

__all__ = [
    "State",
    "assess",
    "fingerprint",
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


@dataclass(frozen=True)
class State:
    """Whether an article must be (re)done, and why; ``reason`` None means up to date.

    ``touched``: up to date, but the input's size or mtime moved on since the sidecar recorded
    them (or the input is newer than the outputs): :func:`refresh` brings the record and the
    outputs' mtimes up to the input, so the next check is fast and ``make`` agrees.
    """

    reason: str | None
    touched: bool = False


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


def _assess(source: Path, outputs: Outputs, signature: str) -> tuple[State, os.stat_result | None]:
    found = read_stamp(outputs.sidecar)
    if found is None:
        missing = not os.path.lexists(outputs.sidecar)
        return State("new" if missing else "sidecar unreadable"), None
    if found.signature is not None and found.signature != signature:
        return State("settings changed"), None
    record = found.input
    if record is None or found.signature is None or found.malformed:
        return State("sidecar malformed"), None
    if not found.vouches_for(outputs):  # the files it says it wrote are not these
        return State("outputs renamed"), None
    written = [found.mtime_ns]
    for path in outputs.texts():
        try:
            info = os.stat(path)
        except OSError:
            return State("outputs missing"), None
        if not statmod.S_ISREG(info.st_mode):
            return State("outputs missing"), None
        written.append(info.st_mtime_ns)
    try:
        stat = os.stat(source)
        if not statmod.S_ISREG(stat.st_mode):  # a FIFO or device: never read, and no article
            return State("input unreadable"), None
        same = record.size == stat.st_size and record.mtime_ns == stat.st_mtime_ns
        if not same and not _same_content(source, stat, record.size, record.sha256):
            return State("input changed"), None
    except OSError:
        return State("input unreadable"), None
    # make compares mtimes: outputs older than their input are rebuilt for ever.
    touched = not same or min(written) < stat.st_mtime_ns
    return State(None, touched), stat


def _same_content(source: Path, before: os.stat_result, size: int, sha256: str) -> bool:
    """Whether ``source`` still holds the ``size`` bytes that hash to ``sha256``; a file
    changing while read is not. A file of another size is not read at all (it may be huge)."""
    if before.st_size != size:
        return False
    try:
        data, after = read_snapshot(source, max_bytes=size, follow_symlinks=True)
    except FileTooLarge:  # grew since the stat
        return False
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return False
    return hashlib.sha256(data).hexdigest() == sha256


def refresh(source: Path, outputs: Outputs, signature: str) -> State:
    """For a touched article, record the input's new size and mtime and bump the outputs' mtimes
    (outputs first, the sidecar last and atomically), then say it is up to date; for any other
    article just its state. Call while holding the article's claim. Raises OSError.
    """
    state, stat = _assess(source, outputs, signature)
    found = read_sidecar(outputs.sidecar) if state.touched else None
    sidecar = None if found is None else found[0]
    if sidecar is None or sidecar.input is None or stat is None:
        return state
    # Never older than the input, even one dated in the future, or make would ask again.
    mtime_ns = max(time.time_ns(), stat.st_mtime_ns)
    for path in outputs.texts():
        os.utime(path, ns=(mtime_ns, mtime_ns))
    record = replace(sidecar.input, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    text = sidecar_text(replace(sidecar, input=record).as_dict())
    write_atomic(outputs.sidecar, text, mtime_ns=mtime_ns)
    return State(None, touched=False)
