"""This user's servers from a caller's side: reach, start, await, list and stop them, in bounds.

Every wait on a server is bounded (:class:`Limits`): a frozen server is a lost server.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from summarize.discovery import display_name
from summarize.errors import UsageError
from summarize.identity import settings_identity
from summarize.protocol import (
    VERSION,
    ProtocolError,
    address,
    receive,
    send,
    server_dir,
    socket_path,
)
from summarize.server_replies import Reply, ServerStatus, Stopping, parse_reply
from summarize.settings import Config

__all__ = [
    "START_VARIABLE",
    "TIMEOUT_VARIABLE",
    "Limits",
    "ask",
    "connect",
    "describe",
    "running",
    "sockets",
    "start",
    "stop",
    "stop_for",
    "wait_for",
]

#: the longest a caller hears nothing from a server at work before it takes it for lost (the
#: server sends a heartbeat four times as often, so a long batch is no silence)
TIMEOUT_VARIABLE = "SUMMARIZE_SERVER_TIMEOUT"
#: the longest a caller waits for a server that is loading its engines
START_VARIABLE = "SUMMARIZE_SERVER_START_TIMEOUT"
_DEFAULT_SILENCE = 60.0
_DEFAULT_START = 600.0
_RANGE = (0.1, 7 * 86400.0)


@dataclass(frozen=True)
class Limits:
    """How long a caller waits on a server: ``silence`` between two of its messages (a
    connection and an answer included), ``start`` while one loads its engines."""

    silence: float = _DEFAULT_SILENCE
    start: float = _DEFAULT_START

    @classmethod
    def from_environment(cls) -> Limits:
        """$SUMMARIZE_SERVER_TIMEOUT and $SUMMARIZE_SERVER_START_TIMEOUT, in seconds;
        UsageError for a value that is not one."""
        return cls(
            _seconds(TIMEOUT_VARIABLE, _DEFAULT_SILENCE), _seconds(START_VARIABLE, _DEFAULT_START)
        )

    @property
    def heartbeat(self) -> float:
        """How often the server is asked to say it is at work."""
        return min(self.silence / 4, 3600.0)

    def why(self, exc: Exception) -> str:
        """Why a wait on a server failed, in words."""
        if isinstance(exc, TimeoutError):
            return f"no word from the server for {self.silence:g} s (${TIMEOUT_VARIABLE})"
        return str(exc.strerror or exc) if isinstance(exc, OSError) else str(exc)


def _seconds(variable: str, default: float) -> float:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    low, high = _RANGE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise UsageError(f"{variable}={text!r}: not a number of seconds in {low:g}..{high:g}")
    return value


def connect(path: Path, limits: Limits) -> socket.socket | None:
    """A connection to the server at ``path``, its wait bounded by ``limits.silence``; None if
    none listens there (a socket left by a killed server refuses: the next server replaces it)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(limits.silence)  # a frozen server's full backlog blocks a connect
    try:
        with address(path) as where:
            conn.connect(where)
    except (FileNotFoundError, ConnectionRefusedError):
        conn.close()
        return None
    except OSError:
        conn.close()
        raise
    return conn


def start(args: argparse.Namespace, path: Path, limits: Limits) -> socket.socket | None:
    """A connection to a server for these settings, started in the background (its log next
    to its socket) unless another caller's is there or loading; None if it ended unserving.

    Callers started together (``make -j8``) take turns to look: only the first starts one,
    the others then find it loading, so no server is started only to find another running.
    """
    lock = path.with_suffix(".lock")
    log_path = path.with_suffix(".log")
    process, offset = None, 0
    with _one_starter(path.with_suffix(".start"), limits):
        conn = connect(path, limits)
        if conn is None and not _held(lock):
            process, offset = _spawn(args, log_path)
            deadline = time.monotonic() + limits.start
            while process.poll() is None and not _held(lock) and time.monotonic() < deadline:
                time.sleep(0.02)
    conn = conn or wait_for(path, process, limits)
    if conn is None and process is not None and process.poll() not in (None, 0):
        # Its reason is this run's (a model that cannot be loaded is exit 2 in a local run too),
        # not "no server runs": the caller asked for one to be started.
        raise UsageError(f"the server started for this run ended: {_ending(log_path, offset)}")
    return conn


@contextlib.contextmanager
def _one_starter(path: Path, limits: Limits) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + limits.start
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UsageError(
                        f"another caller has been starting a server for {limits.start:g} s "
                        f"(${START_VARIABLE})"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def _spawn(args: argparse.Namespace, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    command = [sys.executable, "-m", "summarize", "serve"]
    if args.config is not None:
        command += ["-c", str(args.config)]
    for item in args.overrides:
        command += ["--set", item]
    with open(log_path, "ab") as out:
        offset = out.tell()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    return process, offset


def _ending(log_path: Path, offset: int) -> str:
    """The error lines the server wrote to its log from ``offset``, or where to look."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read(64 * 1024).decode("utf-8", "replace")
    except OSError:
        text = ""
    # The log is shared: a server started by hand meanwhile may have said it runs already.
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("summarize: error: ")]
    reasons = [i for i in starts if "already running" not in lines[i]] or starts
    if not reasons:
        return f"see its log, {display_name(log_path)}"
    first = reasons[0]
    ends = [i for i in range(first + 1, len(lines)) if lines[i].startswith("summarize: ")]
    block = lines[first : ends[0] if ends else len(lines)]  # an error may span several lines
    return "\n".join(block).removeprefix("summarize: error: ").strip()


def wait_for(
    path: Path, process: subprocess.Popen[bytes] | None, limits: Limits
) -> socket.socket | None:
    """A connection once the server loading its engines (holding the lock) listens; None if
    none is loading, the one started (``process``) ended with no other to wait for, or none
    listens within ``limits.start``."""
    deadline = time.monotonic() + limits.start
    while time.monotonic() < deadline:
        conn = connect(path, limits)
        if conn is not None:
            return conn
        started = process is not None and process.poll() is None
        if not started and not _held(path.with_suffix(".lock")):
            return None
        time.sleep(0.05)
    return None


def _held(lock: Path) -> bool:
    """Whether a server holds the lock of these settings (it may be loading its engines)."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def ask(path: Path, kind: str, limits: Limits) -> Reply | None:
    """The server's one answer to a ``stop`` or ``status`` request; None if none listens.
    OSError or ProtocolError if it does not answer in time, or not as it should."""
    conn = connect(path, limits)
    if conn is None:
        return None
    with conn:
        send(conn, {"type": kind, "version": VERSION})
        message = receive(conn)
    if message is None:
        raise ProtocolError("the server closed the connection without an answer")
    return parse_reply(message)


def stop(path: Path, limits: Limits) -> Stopping | None:
    """Ask the server at ``path`` to stop (it finishes what it has); its answer, or None if
    none runs there. UsageError if it does not answer as a server does."""
    try:
        reply = ask(path, "stop", limits)
    except (OSError, ProtocolError) as exc:
        why = limits.why(exc)
        raise UsageError(f"{display_name(path)}: the server did not stop: {why}") from None
    if reply is not None and not isinstance(reply, Stopping):
        raise UsageError(f"{display_name(path)}: the server did not stop: it answered {reply}")
    return reply


def stop_for(config: Config, limits: Limits) -> tuple[Path, Stopping | None]:
    """The socket of the server with these settings, and its answer to a stop."""
    path = socket_path(settings_identity(config).server)
    return path, stop(path, limits)


def sockets() -> list[Path]:
    """The sockets in this user's server folder, of servers running or killed."""
    return sorted(server_dir().glob("*.sock"))


def running(limits: Limits) -> Iterator[tuple[Path, ServerStatus | str]]:
    """Each server of this user that listens: its socket and status, or why it gave none."""
    for path in sockets():
        try:
            reply = ask(path, "status", limits)
        except (OSError, ProtocolError) as exc:
            yield path, f"not answering: {limits.why(exc)}"
            continue
        if isinstance(reply, ServerStatus):
            yield path, reply
        elif reply is not None:  # None: a killed server's socket
            yield path, f"not answering as a server: {reply}"


def describe(status: ServerStatus) -> str:
    """One line for ``serve --list``."""
    minutes, seconds = divmod(int(status.uptime), 60)
    hours, minutes = divmod(minutes, 60)
    up = f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
    return f"pid {status.pid}, up {up}: {status.summarizer} + {status.translator}"
