"""Per-article claims, so that several runs over one directory never do the same article at once.

A claim is a lock file created with O_EXCL next to the article's sidecar, holding the host, pid
and start time of the run that made it. A run that finds a claim takes it over only when it is
stale: its process is gone (same host), or it is older than the timeout (another host, where a
pid cannot be checked).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Claim", "Held", "claim"]

log = logging.getLogger(__name__)

_HOST = socket.gethostname()
# Seconds a just-created, still empty claim is respected before it counts as abandoned.
_UNFILLED_GRACE = 10.0


@dataclass(frozen=True)
class Claim:
    """A claim this process holds; release it when the article is written or given up."""

    path: Path

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Held:
    """A claim some other live run holds."""

    holder: str


def claim(path: Path, *, stale_after: float) -> Claim | Held:
    """Create the lock file ``path``, taking over a stale one; raise OSError if it cannot."""
    for _ in range(3):  # a takeover race with another run costs at most a retry or two
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            seen = _read(path)
            if seen is None:
                continue  # released between our open and read
            holder = _describe(seen)
            if not _is_stale(path, seen, stale_after):
                return Held(holder)
            log.warning("%s: taking over a stale claim (%s)", path, holder)
            _take_over(path, seen)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"host": _HOST, "pid": os.getpid(), "started": time.time()}, fh)
        return Claim(path)
    return Held("another run (claim changed hands while taking it over)")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _parse(text: str) -> dict[str, object]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(text: str) -> str:
    info = _parse(text)
    return f"host {info.get('host', '?')}, pid {info.get('pid', '?')}"


def _is_stale(path: Path, text: str, stale_after: float) -> bool:
    info = _parse(text)
    started = info.get("started")
    if not isinstance(started, (int, float)):
        # Being written right now, or left half-written by a process killed in between.
        try:
            return time.time() - path.stat().st_mtime > _UNFILLED_GRACE
        except FileNotFoundError:
            return False
    pid = info.get("pid")
    if info.get("host") == _HOST and isinstance(pid, int):
        return not _alive(pid)
    return time.time() - started > stale_after


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _take_over(path: Path, seen: str) -> None:
    """Move the stale claim aside; if what we moved is not what we judged, put it back."""
    aside = path.with_name(f"{path.name}.{secrets.token_hex(4)}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if _read(aside) != seen:
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)  # another run's fresh claim: restore it unless replaced
    aside.unlink(missing_ok=True)
