"""The warm server: engines loaded once; requests arriving together share waves of the runner."""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import functools
import io
import logging
import os
import queue
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.config import Config
from summarize.discovery import STDIN, Skipped
from summarize.engines import Models, load_models
from summarize.errors import SummarizeError
from summarize.planning import Planned, plan
from summarize.protocol import (
    VERSION,
    ProtocolError,
    from_result,
    peer_allowed,
    peer_uid,
    receive,
    send,
    socket_path,
)
from summarize.report import ArticleResult, Report, Status
from summarize.runners.local import run_local
from summarize.state import signature

__all__ = ["Request", "parse_request", "serve"]

log = logging.getLogger(__name__)

#: how long a connection may take to send its request, and a client to take a message
_IO_TIMEOUT = 60.0
_STOP = object()
_INTERRUPTED = "not done: the run was interrupted"
_FIELDS = {
    "type", "version", "signature", "cwd", "paths", "force", "fail_fast", "output_dir",
    "exclude", "stdin", "log_levels",
}  # fmt: skip


@dataclass(eq=False)
class Request:
    """One client's run: its arguments, its connection, and what the server planned for it."""

    cwd: str
    paths: list[str]
    force: bool = False
    fail_fast: bool = False
    output_dir: str | None = None
    exclude: list[str] = field(default_factory=list)
    stdin: bytes | None = None
    log_levels: dict[str, int] = field(default_factory=dict)
    conn: socket.socket | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    planned: list[Planned] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)

    @property
    def names(self) -> set[str]:
        return {p.job.name for p in self.planned} | {s.name for s in self.skipped}

    @property
    def todo(self) -> list[Planned]:
        return [p for p in self.planned if _todo(p)]

    def tell(self, message: dict[str, Any]) -> None:
        """Send a message unless the client has gone; a client that cannot take it has gone."""
        if self.conn is None or self.cancelled.is_set():
            return
        with self.lock:
            try:
                send(self.conn, message)
            except (OSError, ProtocolError):
                self.cancelled.set()

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)
            self.conn.close()


def parse_request(message: dict[str, Any], own_signature: str) -> Request:
    """A run request, every field checked; ProtocolError says what is wrong with it."""
    unknown = set(message) - _FIELDS
    if unknown:
        raise ProtocolError(f"unknown fields: {', '.join(sorted(unknown))}")
    if message.get("version") != VERSION:
        raise ProtocolError(f"protocol version {message.get('version')!r}, expected {VERSION}")
    if message.get("signature") != own_signature:
        raise ProtocolError("the request's settings are not this server's")
    cwd = _text(message.get("cwd"), "cwd")
    if not os.path.isabs(cwd):
        raise ProtocolError("cwd is not an absolute path")
    paths = message.get("paths")
    if not isinstance(paths, list) or not paths:
        raise ProtocolError("paths is not a list of paths")
    exclude = message.get("exclude", [])
    if not isinstance(exclude, list):
        raise ProtocolError("exclude is not a list of paths")
    output_dir = message.get("output_dir")
    stdin = message.get("stdin")
    if (stdin is not None) != (STDIN in paths):
        raise ProtocolError("stdin is given exactly when - is among the paths")
    if stdin is not None and not isinstance(stdin, str):
        raise ProtocolError("stdin is not base64")
    try:
        data = None if stdin is None else base64.b64decode(stdin, validate=True)
    except binascii.Error:
        raise ProtocolError("stdin is not base64") from None
    levels = message.get("log_levels", {})
    if not isinstance(levels, dict) or not all(
        isinstance(k, str) and type(v) is int for k, v in levels.items()
    ):
        raise ProtocolError("log_levels is not a map of logger names to levels")
    return Request(
        cwd=cwd,
        paths=[_text(p, "paths") for p in paths],
        force=_flag(message.get("force", False), "force"),
        fail_fast=_flag(message.get("fail_fast", False), "fail_fast"),
        output_dir=None if output_dir is None else _text(output_dir, "output_dir"),
        exclude=[_text(p, "exclude") for p in exclude],
        stdin=data,
        log_levels=levels,
    )


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or "\0" in value:
        raise ProtocolError(f"{name}: not a non-empty path without NUL")
    return value


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"{name} is not true or false")
    return value


def _todo(item: Planned) -> bool:
    return item.reason is not None and item.error is None and not item.refused


@dataclass
class _Routed(Report):
    """The report of a shared wave: each result goes to the client whose article it is."""

    owners: dict[str, Request] = field(default_factory=dict)

    def add(self, result: ArticleResult) -> None:
        super().add(result)
        owner = self.owners.get(result.name)
        if owner is not None:
            owner.reported.add(result.name)
            owner.tell(from_result(result))


class _Forward(logging.Handler):
    """The run's log records, to the clients whose run it is, at each client's own levels."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.recipients: list[Request] = []

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        progress = record.name.startswith("summarize.progress")
        for req in self.recipients:
            level = req.log_levels.get("summarize.progress" if progress else "summarize", 30)
            if record.levelno >= level:
                message = record.getMessage()
                req.tell({"type": "log", "logger": record.name, "level": record.levelno,
                          "message": message})  # fmt: skip


class _Server:
    def __init__(
        self, config: Config, models: Models, listener: socket.socket, path: Path, gather: float
    ) -> None:
        self.config = config
        self.path = path
        self.models = models
        self.listener = listener
        self.gather = gather
        self.signature = signature(config)
        self.queue: queue.Queue[object] = queue.Queue()
        self.backlog: deque[Request] = deque()
        self.forward = _Forward()

    def accept(self) -> None:
        """Take connections until the listener closes; each is read in its own thread."""
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            uid = peer_uid(conn)
            if not peer_allowed(uid):
                log.warning("refused a connection from user %s", uid)
                _refuse(conn, f"refused: user {uid} is not the user who started the server")
                continue
            threading.Thread(target=self.connection, args=(conn,), daemon=True).start()

    def connection(self, conn: socket.socket) -> None:
        conn.settimeout(_IO_TIMEOUT)
        try:
            message = receive(conn)
            if message is None:
                conn.close()
                return
            kind = message.get("type")
            if kind == "stop":
                send(conn, {"type": "stopping", "pid": os.getpid()})
                conn.close()
                self.queue.put(_STOP)
                return
            if kind != "run":
                raise ProtocolError(f"unknown request type {kind!r}")
            req = parse_request(message, self.signature)
        except (ProtocolError, OSError) as exc:
            log.warning("refused a request: %s", exc)
            _refuse(conn, f"refused: {exc}")
            return
        req.conn = conn
        self.queue.put(req)
        while True:  # a client that closes its end has gone (Ctrl-C): drop what has not started
            try:
                if not conn.recv(4096):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        req.cancelled.set()

    def loop(self, idle_timeout: float) -> None:
        """Serve groups of requests until stopped or idle; a stop signal ends it after the
        steps it cannot cut, its clients told which articles were not done."""
        stopping = False
        while True:
            if self.backlog:
                first: object = self.backlog.popleft()
            else:
                try:
                    first = self.queue.get(timeout=0 if stopping else idle_timeout)
                except queue.Empty:
                    return
            if first is _STOP:
                self._close_listener()
                stopping = True
                continue
            assert isinstance(first, Request)
            if not self._planned(first):
                continue
            group = [first]
            if not first.fail_fast:
                stopping |= self._gather(group)
            self._run(group)

    def _gather(self, group: list[Request]) -> bool:
        """Add the requests that arrive within the gathering wait and can share the group's
        waves; the others wait for a later group. Returns whether a stop arrived."""
        for waiting in list(self.backlog):
            if self._joins(group, waiting):
                self.backlog.remove(waiting)
                group.append(waiting)
        deadline = time.monotonic() + self.gather
        while (left := deadline - time.monotonic()) > 0:
            try:
                got = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if got is _STOP:
                self._close_listener()
                return True
            assert isinstance(got, Request)
            item = got
            if item.cancelled.is_set():
                item.close()
            elif not self._planned(item):
                continue
            elif self._joins(group, item):
                group.append(item)
            else:
                self.backlog.append(item)
        return False

    def _joins(self, group: list[Request], item: Request) -> bool:
        """Whether ``item`` can share the group's waves: same folder and --force, no
        --fail-fast, and no article name in common (results are routed by name)."""
        first = group[0]
        if item.fail_fast or item.cwd != first.cwd or item.force != first.force:
            return False
        taken = set().union(*(g.names for g in group))
        return not (item.names & taken)

    def _planned(self, req: Request) -> bool:
        """Plan a request with the same rules as a local run, in the client's folder; a
        request whose plan fails is answered with the error and dropped."""
        self.forward.recipients = [req]
        try:
            os.chdir(req.cwd)
            req.planned = plan(
                self.config,
                req.paths,
                force=req.force,
                output_dir=Path(req.output_dir) if req.output_dir else None,
                exclude=[Path(p) for p in req.exclude],
                skipped=req.skipped,
            )
        except (SummarizeError, OSError) as exc:
            text = str(exc) if isinstance(exc, SummarizeError) else _os_error(exc)
            req.tell({"type": "error", "message": text})
            req.close()
            return False
        finally:
            self.forward.recipients = []
        if not req.planned and not req.skipped:
            req.tell({"type": "end", "interrupted": None})
            req.close()
            return False
        return True

    def _run(self, group: list[Request]) -> None:
        """The group's articles through the local runner: first those with nothing to generate,
        then waves of runtime.wave_size over all the group's articles, skipping a client's
        articles once it has gone."""
        os.chdir(group[0].cwd)
        report = _Routed(owners={name: req for req in group for name in req.names})
        self.forward.recipients = list(group)
        stdin = next((io.BytesIO(r.stdin) for r in group if r.stdin is not None), None)
        run = functools.partial(
            run_local, self.config, load=self._engines, force=group[0].force, stdin=stdin,
            report=report,
        )  # fmt: skip
        try:
            for req in group:
                req.tell({"type": "start", "count": len(req.todo)})
            if group[0].fail_fast:
                run(group[0].planned, group[0].skipped, fail_fast=True)
            else:
                rest = [p for r in group for p in r.planned if not _todo(p)]
                run(rest, [s for r in group for s in r.skipped])
                todo = [p for r in group for p in r.todo]
                while todo and report.interrupted is None:
                    todo = [p for p in todo if not report.owners[p.job.name].cancelled.is_set()]
                    size = self.config.runtime.wave_size
                    wave, todo = todo[:size], todo[size:]
                    run(wave)
        except KeyboardInterrupt as exc:
            report.interrupted = getattr(exc, "signum", signal.SIGINT)
        finally:
            self.forward.recipients = []
        for req in group:
            if report.interrupted is not None:
                for item in req.todo:
                    if item.job.name not in req.reported:
                        report.add(ArticleResult(item.job.name, Status.NOT_DONE, _INTERRUPTED))
            req.tell({"type": "end", "interrupted": report.interrupted})
            req.close()
        if report.interrupted is not None:
            raise KeyboardInterrupt

    def _engines(self) -> Models:
        return self.models

    def _close_listener(self) -> None:
        """Take no more connections (the socket goes now); what is queued is still served."""
        self.listener.close()
        _unlink(self.path)


def _refuse(conn: socket.socket, text: str) -> None:
    with contextlib.suppress(OSError, ProtocolError):
        send(conn, {"type": "error", "message": text})
    conn.close()


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def serve(
    config: Config,
    *,
    idle_timeout: float,
    gather: float,
    ready: Callable[[Path], None] = lambda path: None,
    load: Callable[[Config], Models] = load_models,
) -> None:
    """Load the engines once and serve the runs of clients with these settings on a Unix
    socket, until ``--stop``, a stop signal or ``idle_timeout`` seconds without a request.

    One server per settings: a lock next to the socket says one is running; without it, a
    socket left by a killed server is replaced. ``gather`` seconds after a request, the
    requests that arrived meanwhile share its waves.
    """
    path = socket_path(signature(config))
    lock = _lock(path.with_suffix(".lock"))
    try:
        models = load(config)
        _unlink(path)  # we hold the lock: a socket here is a killed server's
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(64)
        server = _Server(config, models, listener, path, gather)
        logging.getLogger("summarize").addHandler(server.forward)
        threading.Thread(target=server.accept, daemon=True).start()
        ready(path)
        try:
            server.loop(idle_timeout)
        finally:
            logging.getLogger("summarize").removeHandler(server.forward)
            server._close_listener()
    finally:
        os.close(lock)


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ServerRunning(
            f"a server for these settings is already running ({path.with_suffix('.sock')})"
        ) from None
    return fd


class ServerRunning(SummarizeError):
    """Another server already serves these settings."""
