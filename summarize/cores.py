"""The CPU threads an engine takes: ``runtime.threads``, or a fair share of the cores.

With ``runtime.threads = 0`` every process used to take every core, so ``make -j4`` ran four
processes of all-core engines that fought over the cores and ran slower than plain ``make``.
The share is ``cores // n``, where n is the larger of make's job count (when this process is
one of make's recipes) and the number of live summarize processes on this machine that run
engines: each holds a locked file in the ``engines`` folder beside the server sockets for as
long as it lives. A file whose lock is free belongs to a process that died: it is not counted.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from summarize.errors import UsageError

__all__ = ["available_cores", "engine_threads", "live_engines", "make_jobs", "share"]

log = logging.getLogger(__name__)

#: the folder of the registry, below protocol.server_dir()
ENGINES_DIR = "engines"

#: this process's own entry, held open (locked) until it exits; None until an engine loads
_entry: IO[bytes] | None = None

#: whether this process has said its share at -v already
_told = False


def engine_threads(threads: int) -> int:
    """The threads an engine of this process uses: a positive ``threads`` as it is, else this
    process's share of the cores. Registers this process, so the runs that start after it
    count it too. Never fails: without the registry make's job count alone decides."""
    if threads > 0:
        return threads
    cores = available_cores()
    jobs = make_jobs(os.environ.get("MAKEFLAGS", ""), cores)
    try:
        folder = _registry()
        _register(folder)
        running = live_engines(folder)
    except (OSError, UsageError) as exc:
        log.debug("engine registry unavailable (%s): counting make's jobs only", exc)
        running = 1
    processes = max(jobs, running)
    chosen = share(cores, processes)
    _tell(f"using {chosen} of {cores} cores ({processes} summarize processes here)")
    return chosen


def _tell(choice: str) -> None:
    """The choice at -v once a process (its second engine hears much the same), then at -vv."""
    global _told
    log.log(logging.DEBUG if _told else logging.INFO, "%s", choice)
    _told = True


def share(cores: int, processes: int) -> int:
    """One process's fair share of ``cores`` among ``processes``: at least one thread."""
    return max(1, cores // max(1, processes))


def available_cores() -> int:
    """The cores this process may run on (taskset and cgroup cpusets narrow it), else all."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on every platform
        return os.cpu_count() or 1


def make_jobs(makeflags: str, cores: int) -> int:
    """make's job count from its ``MAKEFLAGS``: ``-jN`` is N, ``-j`` alone (no limit) is
    ``cores``, no ``-j`` is 1. GNU make writes single-letter flags first (``k -j2``, the
    first word without its dash), then long options, then `` -- `` and variables."""
    jobs = 1
    for word in makeflags.split():
        if word == "--":
            break  # command-line variable assignments follow, not flags
        if word.startswith("--jobs"):
            count = word.partition("=")[2]
        elif word.startswith("-j"):
            count = word[2:]
        else:
            continue
        if not count:
            jobs = cores
        elif count.isdigit():
            jobs = int(count) or cores
    return max(1, jobs)


def live_engines(folder: Path) -> int:
    """The entries of ``folder`` whose lock is held: live processes running engines. A free
    lock is a dead holder's entry: removed on the way, under its lock, so that a process
    making its entry anew meanwhile sees it gone and makes it again (see _register)."""
    count = 0
    for path in folder.glob("*.lock"):
        try:
            with open(path, "rb") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    count += 1
                    continue
                path.unlink(missing_ok=True)  # closing the handle releases the lock
        except OSError:
            continue  # removed meanwhile by its holder or by another counter
    return count


def _registry() -> Path:
    """The registry folder, in this user's private folder of server sockets."""
    from summarize.protocol import server_dir  # the sockets' module, loaded when needed

    folder = server_dir() / ENGINES_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _register(folder: Path) -> None:
    """Hold this process's entry in ``folder`` until it exits (once per process). A counter
    may remove the file between its creation and its lock: then it is made again."""
    global _entry
    if _entry is not None:
        return
    path = folder / f"{os.getpid()}.lock"
    for _ in range(3):
        handle = open(path, "wb")  # noqa: SIM115 - held open for the process's life
        fcntl.flock(handle, fcntl.LOCK_EX)
        if _same_file(handle, path):
            _entry = handle
            atexit.register(_unregister, path, handle)
            return
        handle.close()


def _same_file(handle: IO[bytes], path: Path) -> bool:
    """Whether ``path`` still names the file open as ``handle``."""
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _unregister(path: Path, handle: IO[bytes]) -> None:
    """Remove this process's entry at exit (a killed process leaves it unlocked: stale)."""
    with contextlib.suppress(OSError):
        path.unlink()
    handle.close()
