"""Per-article claims, so that several runs over one directory never do the same article at once.

A claim is a lock file next to the article's sidecar. Its holder keeps it open with an exclusive
``flock``, and the kernel drops that lock when the holder dies, however it dies: on the machine
that made a claim, a claim whose ``flock`` is free has no live holder, whatever pid it names (pids
are reused after a reboot or in a container). The file also holds the host, the kernel's boot id,
the pid and the start time, for people and for runs on other machines.

- **Creating** is atomic and never shows a half-written claim: the claim is written and locked
  under a temporary name, then ``os.link``-ed to the lock path, which fails if a claim exists.
- **Taking over** is atomic: a run must first hold the ``flock`` of the claim it judges stale (so
  of several racing runs, only one gets to judge), and while holding it renames its own complete,
  locked claim over the old one. A run that opened the old file and locks it afterwards sees that
  the path no longer names that file and looks again.
- **Stale** means: the ``flock`` is free and either the claim was made under this very kernel
  (same host and boot id), or it has not been refreshed (its mtime) for ``runtime.claim_timeout``.
  The timeout is what applies to claims from another machine (over NFS the ``flock`` of another
  client may not be visible here), to claims that cannot be parsed (never a crash), and to claims
  of older versions, which held no ``flock`` (on this host their pid is checked as well).
- **Holding**: the holder refreshes its claim's mtime while it works, so a long wave is not
  taken for abandoned, and it deletes the lock file only while it is still the file it created
  (the same inode, which cannot be reused while the holder keeps it open).
- **Names**: a run cleans up drafts left by runs killed while claiming once it holds the claim.
  A lock path that is not a regular file (a FIFO, a directory, a symlink) is an error naming it.

On a filesystem without ``flock`` (some NFS set-ups answer ENOLCK) the tool warns once, claims of
this host are judged by their pid and the rest by the timeout, and a take-over is no longer
exclusive between runs that both find the same claim stale at the same moment.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import logging
import os
import secrets
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from summarize import jsontext
from summarize.discovery import display_name

__all__ = ["Claim", "Held", "claim", "remove_if_abandoned"]

log = logging.getLogger(__name__)

_HOST = socket.gethostname()
# A claim file is a few dozen bytes; more is not a claim of ours and is not worth reading.
_MAX_CLAIM_BYTES = 4096
# A file name may have 255 bytes; a draft adds ".<12 hex digits>.tmp" to its claim's name.
_LONGEST_DRAFT_STEM = 255 - 17
# Errors that mean the filesystem offers no flock at all (as opposed to "held by someone").
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EBADF}
_warned_no_flock = False


def _boot_id() -> str:
    """Which running kernel this is: flocks made under another boot are not visible here."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return ""  # not Linux: the timeout rule applies to every claim found


_BOOT = _boot_id()


class Claim:
    """A claim this process holds; refresh it while working, release it when done."""

    def __init__(self, path: Path, fd: int, identity: tuple[int, int]) -> None:
        self.path = path
        self._fd = fd
        self._identity = identity  # (device, inode), known before: making a Claim cannot fail

    def is_mine(self) -> bool:
        """Whether the lock path still names the file this process created and locked."""
        if self._fd < 0:
            return False
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._identity

    def refresh(self) -> bool:
        """Mark the claim as alive now; False if another run has taken it over meanwhile."""
        if not self.is_mine():
            return False
        with contextlib.suppress(OSError):
            os.utime(self._fd)
        return True

    def release(self) -> None:
        """Delete the lock file if it is still this claim's, then drop the lock; never an error
        (a run must release every claim it holds; one not deleted is stale once unlocked)."""
        if self._fd < 0:
            return
        try:
            if self.is_mine():
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
            else:
                log.warning(
                    "%s: the claim was taken over by another run; leaving it to it",
                    display_name(self.path),
                )
        except OSError as exc:
            log.warning("%s: cannot remove the claim (%s)", display_name(self.path), exc.strerror)
        finally:
            _close(self._fd)
            self._fd = -1


@dataclass(frozen=True)
class Held:
    """A claim some other live run holds."""

    holder: str


def claim(path: Path, *, stale_after: float) -> Claim | Held:
    """Create the lock file ``path``, taking over a stale one; raise OSError if it cannot.

    A claim put in place always reaches the caller, or is removed again: none is left behind.
    """
    for _ in range(5):  # each retry means the claim changed hands under us; rare
        draft = _Draft.create(path)
        try:
            got = _try_claim(path, draft, stale_after)
        except BaseException:
            draft.take_back(path)
            raise
        if isinstance(got, Claim):
            try:
                draft.forget_name()
                _remove_abandoned(path)
            except BaseException:  # a stop signal: the caller never got the claim to release
                got.release()
                raise
            return got
        draft.discard()
        if got is not None:
            return got
    return Held("another run (the claim changed hands while taking it over)")


@dataclass
class _Draft:
    """A complete, locked claim under a temporary name, ready to be put in place."""

    fd: int
    temp: Path
    #: the file's (device, inode), which its claim will have
    identity: tuple[int, int] = (-1, -1)

    @classmethod
    def create(cls, path: Path) -> _Draft:
        temp = path.with_name(f"{_draft_stem(path)}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except OSError as exc:  # name the claim the user can act on, not our temporary
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        draft = cls(fd, temp)
        try:
            st = os.fstat(fd)
            draft.identity = (st.st_dev, st.st_ino)
            _lock(fd, path)
            info = {"host": _HOST, "boot": _BOOT, "pid": os.getpid(), "started": time.time()}
            os.write(fd, json.dumps(info).encode("utf-8"))
        except BaseException:
            draft.discard()
            raise
        return draft

    def forget_name(self) -> None:
        """Drop the temporary name, keep the descriptor and its lock; never an error (a name
        left behind is removed by the next run that holds this claim)."""
        _unlink(self.temp)

    def discard(self) -> None:
        """Remove the draft, which is not (or no longer) a claim; never an error."""
        self.forget_name()
        _close(self.fd)

    def take_back(self, path: Path) -> None:
        """Discard the draft after an error, and the claim at ``path`` if it was put in place
        (still ours: no run takes over a claim whose lock we hold)."""
        try:
            now = os.stat(path, follow_symlinks=False)
            if (now.st_dev, now.st_ino) == self.identity:
                path.unlink()
        except OSError:
            pass
        finally:
            self.discard()


def _try_claim(path: Path, draft: _Draft, stale_after: float) -> Claim | Held | None:
    """One attempt; None means look again."""
    try:
        os.link(draft.temp, path)
    except FileExistsError:
        return _take_over_if_stale(path, draft, stale_after)
    except FileNotFoundError:
        return None  # our draft was removed by a holder cleaning up after killed runs
    except OSError as exc:  # e.g. a name too long: name the claim, not our draft
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    return Claim(path, draft.fd, draft.identity)


def _take_over_if_stale(path: Path, draft: _Draft, stale_after: float) -> Claim | Held | None:
    try:
        fd = _open_claim(path)
    except FileNotFoundError:
        return None  # released between our link and open
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR):
            raise _not_a_claim(path) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_a_claim(path)
        locked = _lock(fd, path)
        text = os.read(fd, _MAX_CLAIM_BYTES)
        if locked is False:
            return Held(_describe(text, st.st_mtime))
        if not _same_file(path, st):
            return None  # replaced (released or taken over) since we opened it
        if not _is_stale(text, st.st_mtime, stale_after, lock_free=locked is True):
            return Held(_describe(text, st.st_mtime))
        why = _describe(text, st.st_mtime)
        log.warning("%s: taking over a stale claim (%s)", display_name(path), why)
        # Still holding the old file's flock, so no other run can be judging it right now.
        try:
            os.rename(draft.temp, path)
        except FileNotFoundError:
            return None
        return Claim(path, draft.fd, draft.identity)
    finally:
        _close(fd)  # the old claim's; an error closing it must not lose the new one


def remove_if_abandoned(path: Path, *, stale_after: float) -> None:
    """Delete the claim ``path`` if it is stale: a run killed after writing an article's sidecar
    leaves its claim behind, and no later run claims an article that is up to date.

    Deleted while holding its flock, as a take-over replaces it: a run that opened it meanwhile
    finds the path no longer names that file and looks again. Never an error: a claim that
    cannot be judged or removed stays for the run that next does the article.
    """
    if not os.path.lexists(path):
        return
    try:
        fd = _open_claim(path)
    except OSError:
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or _lock(fd, path) is not True:
            return  # held, or no flocks here: leave it to the timeout of a run that needs it
        text = os.read(fd, _MAX_CLAIM_BYTES)
        if _same_file(path, st) and _is_stale(text, st.st_mtime, stale_after, lock_free=True):
            what = "removing the claim of a run that ended without releasing it"
            log.info("%s: %s", display_name(path), what)
            path.unlink()
    except OSError:
        return
    finally:
        _close(fd)


def _draft_stem(path: Path) -> str:
    """Drafts are named after their claim, shortened where that name leaves no room for more."""
    if len(path.name.encode("utf-8", "surrogateescape")) <= _LONGEST_DRAFT_STEM:
        return path.name
    return f".{hashlib.sha256(path.name.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}.lock"


def _open_claim(path: Path) -> int:
    """Open an existing claim without following a link or waiting on a FIFO's writer.

    For writing where allowed: over NFS an exclusive lock needs a descriptor open for writing.
    """
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        return os.open(path, os.O_RDWR | flags)
    except PermissionError:
        return os.open(path, os.O_RDONLY | flags)


def _remove_abandoned(path: Path) -> None:
    """Drafts left by runs killed while claiming; only the claim's holder may remove them.

    Never an error: the claim is in place and must reach its caller, whatever happens here
    (no descriptor left to list the folder with, a folder that cannot be listed, NFS).
    """
    try:
        for temp in path.parent.glob(f"{glob.escape(_draft_stem(path))}.*.tmp"):
            _unlink(temp)
    except OSError as exc:
        where = display_name(path.parent)
        log.info("%s: cannot remove drafts of killed runs (%s)", where, exc.strerror or exc)


def _close(fd: int) -> None:
    """Close a descriptor read from or locked only: nothing to lose if that reports an error."""
    with contextlib.suppress(OSError):
        os.close(fd)


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _lock(fd: int, path: Path) -> bool | None:
    """Take the flock without waiting; False if another process holds it, None if no flocks."""
    global _warned_no_flock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_FLOCK:
            raise
        if not _warned_no_flock:
            _warned_no_flock = True
            log.warning(
                "%s: this filesystem offers no file locks (%s); claims fall back to "
                "runtime.claim_timeout alone",
                display_name(path.parent),
                exc.strerror,
            )
        return None
    return True


def _same_file(path: Path, opened: os.stat_result) -> bool:
    try:
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino)


def _not_a_claim(path: Path) -> OSError:
    return OSError(errno.EEXIST, "exists and is not a regular file; remove it", str(path))


def _parse(text: bytes) -> dict[str, object]:
    """The claim's fields, or {} for anything that is not a claim (binary, truncated, odd JSON)."""
    try:
        data = jsontext.loads(text, max_bytes=_MAX_CLAIM_BYTES)
    except jsontext.JsonError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(text: bytes, mtime: float) -> str:
    info = _parse(text)
    age = f"refreshed {max(0, round(time.time() - mtime))} s ago"
    host, pid = info.get("host"), info.get("pid")
    if not isinstance(host, str) or not isinstance(pid, int):
        return f"an unreadable claim, {age}"
    return f"host {host[:64]!s}, pid {pid}, {age}"


def _is_stale(text: bytes, mtime: float, stale_after: float, *, lock_free: bool) -> bool:
    """``lock_free``: we hold the claim's flock, so no process of this kernel holds it."""
    info = _parse(text)
    # Claims of older versions carry no boot id and held no flock: their pid still counts.
    same_kernel = info.get("host") == _HOST and info.get("boot", _BOOT) == _BOOT
    if same_kernel and lock_free and "boot" in info:
        return True  # its maker held the flock until it died
    if abs(time.time() - mtime) > stale_after:
        return True  # abs: a clock far ahead must not make a claim last for ever
    pid = info.get("pid")
    return same_kernel and not (isinstance(pid, int) and _alive(pid))


def _alive(pid: int) -> bool:
    if not 0 < pid <= 2**22:  # 0 and -1 name process groups; beyond pid_max names nothing
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
