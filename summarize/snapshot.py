"""A regular file's bytes without blocking and within a bound, with the stat that holds for them.

Every file the tool did not write itself is read here: a FIFO, a device or a symlink to one in
its place is refused at once instead of waited on or read for ever.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as statmod
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FileTooLarge", "read_bounded", "read_snapshot", "read_start"]


class FileTooLarge(OSError):
    """A file holds more bytes than the reader's limit (``size``, as far as it was seen)."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__(errno.EFBIG, f"{size} bytes", str(path))
        self.size = size


# Non-blocking, so opening a FIFO returns at once (and is then refused, as not a regular file).
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_FILE_TYPES = (
    (statmod.S_ISDIR, "a directory"),
    (statmod.S_ISFIFO, "a FIFO"),
    (statmod.S_ISSOCK, "a socket"),
    (statmod.S_ISCHR, "a device"),
    (statmod.S_ISBLK, "a device"),
)


def read_snapshot(
    path: Path, *, max_bytes: int | None = None, follow_symlinks: bool = False
) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file ``path``, never blocking on a FIFO or device, with the
    file's stat that holds for exactly these bytes (for :func:`summarize.state.fingerprint`).

    Raises OSError: the path is a symlink (unless ``follow_symlinks``), not a regular file,
    more than ``max_bytes`` (FileTooLarge), changed while being read, or cannot be read.

    The open descriptor is stat'ed before and after the read; a file written meanwhile is read
    once more, and fails when it changes again.
    """
    for _ in range(2):
        data, before, after = _read_once(path, max_bytes, follow_symlinks)
        if _same_file_state(before, after) and len(data) == after.st_size:
            return data, after
    raise OSError(errno.EAGAIN, "changed while being read", str(path))


def read_bounded(path: Path, max_bytes: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file ``path`` as they are now (a file still being appended to,
    like a run's report, is read as far as it goes), never blocking and never more than
    ``max_bytes`` (FileTooLarge). Raises OSError as :func:`read_snapshot` does."""
    return _read_once(path, max_bytes, follow_symlinks)[0]


def read_start(path: Path, count: int, *, follow_symlinks: bool = True) -> bytes:
    """The first ``count`` bytes of the regular file ``path``, never blocking: enough to tell
    what a file is. Raises OSError for anything but a regular file that can be read."""
    with _open_regular(path, follow_symlinks) as (fd, _):
        return os.read(fd, count)  # a regular file reads short only at its end


def _read_once(
    path: Path, max_bytes: int | None, follow_symlinks: bool
) -> tuple[bytes, os.stat_result, os.stat_result]:
    with _open_regular(path, follow_symlinks) as (fd, before):
        if max_bytes is not None and before.st_size > max_bytes:
            raise FileTooLarge(path, before.st_size)
        data = _read_to_end(fd, before.st_size, max_bytes)
        after = os.fstat(fd)
    if max_bytes is not None and len(data) > max_bytes:
        raise FileTooLarge(path, max(len(data), after.st_size))
    return data, before, after


def _read_to_end(fd: int, size: int, max_bytes: int | None) -> bytes:
    """The bytes to the end of the file, or just past ``max_bytes``. The first read asks for
    the size seen, plus one byte to find a file grown meanwhile: asking for the limit instead
    allocates it (64 MiB for a sidecar), which cost most of the time of a no-op rerun."""
    left = max_bytes + 1 if max_bytes is not None else None
    parts = []
    ask = size + 1
    while left is None or left > 0:
        want = ask if left is None else min(ask, left)
        chunk = os.read(fd, want)
        parts.append(chunk)
        if len(chunk) < want:  # a regular file reads short only at its end
            break
        if left is not None:
            left -= len(chunk)
        ask = max(ask, _CHUNK)
    return parts[0] if len(parts) == 1 else b"".join(parts)


# What a read asks for once the file proved larger than its stat said.
_CHUNK = 1024 * 1024


@contextlib.contextmanager
def _open_regular(path: Path, follow_symlinks: bool) -> Iterator[tuple[int, os.stat_result]]:
    """``path`` opened for reading with its stat, or OSError naming it when it is not a
    regular file (opened non-blocking, so a FIFO is seen for what it is, never waited on)."""
    flags = _READ_FLAGS if follow_symlinks else _READ_FLAGS | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:  # a bare descriptor: a buffered file object per read costs a rerun per article
        found = os.fstat(fd)
        if not statmod.S_ISREG(found.st_mode):
            kind = next((k for test, k in _FILE_TYPES if test(found.st_mode)), "special")
            raise OSError(errno.EINVAL, f"not a regular file but {kind}", str(path))
        yield fd, found
    finally:
        os.close(fd)


def _same_file_state(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
