"""The warm server: engines loaded once; requests arriving together share waves of the runner."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import logging
import os
import queue
import select
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from summarize.discovery import display_name
from summarize.engines import Models, load_models
from summarize.errors import Interrupted, SummarizeError
from summarize.forwarding import Forward, forward_all
from summarize.identity import settings_identity
from summarize.planning import plan
from summarize.protocol import (
    ProtocolError,
    address,
    peer_allowed,
    peer_uid,
    receive,
    receive_bytes,
    send,
    socket_path,
)
from summarize.report import ArticleResult, Report, Status
from summarize.run_request import Request, parse_request, to_do
from summarize.runners.local import run_local
from summarize.server_replies import (
    Alive,
    Ended,
    Refused,
    Result,
    ServerStatus,
    Started,
    Stopped,
    Stopping,
    encode,
)
from summarize.settings import Config

__all__ = ["ServerRunning", "serve"]

log = logging.getLogger(__name__)

#: how long a connection may take to send its request, and a client to take a message
_IO_TIMEOUT = 60.0
_STOP = object()
#: the gathering wait ends at the latest this many ``gather`` waits after the first request
_GATHER_SPAN = 10


@dataclass
class _Routed(Report):
    """The report of a shared wave: each result goes to the client whose article it is."""

    owners: dict[str, Request] = field(default_factory=dict)

    def add(self, result: ArticleResult) -> None:
        super().add(result)
        if self.interrupted is not None and result.status is Status.NOT_DONE:
            return  # the server stops: not its caller's result, the caller may do it itself
        owner = self.owners.get(result.name)
        if owner is not None:
            owner.tell(Result(result))


class _Server:
    def __init__(
        self, config: Config, models: Models, listener: socket.socket, path: Path, gather: float
    ) -> None:
        self.config = config
        self.path = path
        self.models = models
        self.listener = listener
        self.gather = gather
        self.settings = settings_identity(config).server
        self.queue: queue.Queue[object] = queue.Queue()
        self.backlog: deque[Request] = deque()
        self.forward = Forward()
        self.started = time.monotonic()

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
        """Take one request; a run is queued, and its client hears from the server at least
        every heartbeat until the run is over. Whatever is wrong with a request is refused:
        a thread that died instead would leave its caller waiting."""
        conn.settimeout(_IO_TIMEOUT)
        try:
            req = self._request(conn)
        except (ProtocolError, OSError) as exc:
            log.warning("refused a request: %s", exc)
            _refuse(conn, f"refused: {exc}")
            return
        except Exception as exc:
            log.error("refused a request: internal error: %s: %s", type(exc).__name__, exc)
            log.debug("internal error", exc_info=True)
            _refuse(conn, f"refused: internal error of the server ({type(exc).__name__})")
            return
        if req is None:
            return
        req.conn = conn
        self.queue.put(req)
        _beat(req, conn)
        req.cancelled.set()

    def _request(self, conn: socket.socket) -> Request | None:
        """The run request on ``conn``; None once a stop or status request is answered."""
        message = receive(conn)
        if message is None:
            conn.close()
            return None
        kind = message.get("type")
        if kind in ("stop", "status"):
            if kind == "stop":
                _unlink(self.path)  # gone for new callers before --stop returns
            send(conn, encode(Stopping(os.getpid()) if kind == "stop" else self.status()))
            conn.close()
            if kind == "stop":
                self.queue.put(_STOP)
            return None
        if kind != "run":
            raise ProtocolError(f"unknown request type {str(kind)[:40]!r}")
        req = parse_request(message, self.settings, self.config.input.max_bytes + 1)
        if req.stdin_size is not None:
            req.stdin = receive_bytes(conn, req.stdin_size)
        return req

    def status(self) -> ServerStatus:
        return ServerStatus(
            pid=os.getpid(),
            summarizer=self.config.summarizer.model,
            translator=self.config.translator.model,
            uptime=round(time.monotonic() - self.started, 1),
        )

    def loop(self, idle_timeout: float) -> str:
        """Serve groups of requests until stopped or idle, and say which; a stop signal ends
        it after the steps it cannot cut, its clients told that it stopped."""
        stopping = False
        while True:
            if self.backlog:
                first: object = self.backlog.popleft()
            else:
                try:
                    first = self.queue.get(timeout=0 if stopping else idle_timeout)
                except queue.Empty:
                    if stopping:
                        return "asked to stop (serve --stop)"
                    return f"idle for {idle_timeout:g} s (--idle-timeout)"
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
            log.debug("serving %d request(s) together", len(group))
            with _caller_umask(first.umask):
                self._run(group)

    def _gather(self, group: list[Request]) -> bool:
        """Add the requests that arrive within the gathering wait and can share the group's
        waves; the others wait for a later group. Returns whether a stop arrived.

        The wait starts again with each request that joins, since callers started together
        (``make -j8``) arrive spread over their start-up, more so on a busy machine; it ends
        ``gather`` seconds after the last one, and at most ``_GATHER_SPAN`` waits after the
        first."""
        for waiting in list(self.backlog):
            if self._joins(group, waiting):
                self.backlog.remove(waiting)
                group.append(waiting)
        now = time.monotonic()
        deadline, latest = now + self.gather, now + self.gather * _GATHER_SPAN
        while True:  # within the wait, and all that queued while the engines were busy
            try:
                wait = min(deadline, latest) - time.monotonic()
                got = self.queue.get(timeout=max(0.0, wait))
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
                deadline = time.monotonic() + self.gather
            else:
                self.backlog.append(item)
        return False

    def _joins(self, group: list[Request], item: Request) -> bool:
        """Whether ``item`` can share the group's waves: same folder, umask, --force and
        --strict, no --fail-fast, and no article name in common (results are routed by name)."""
        first = group[0]
        if item.fail_fast or item.cwd != first.cwd or item.force != first.force:
            return False
        if item.umask != first.umask or item.strict != first.strict:
            return False
        taken = set().union(*(g.names for g in group))
        return not (item.names & taken)

    def _planned(self, req: Request) -> bool:
        """Plan a request with the same rules as a local run, in the client's folder; a
        request whose plan fails is answered with the error and dropped."""
        self.forward.recipients = [req]
        try:
            with _in_folder(req.cwd), _caller_umask(req.umask):
                req.planned = plan(
                    self.config,
                    req.paths,
                    force=req.force,
                    output_dir=Path(req.output_dir) if req.output_dir else None,
                    exclude=[Path(p) for p in req.exclude],
                    skipped=req.skipped,
                    shard=req.shard,
                )
        except (SummarizeError, OSError) as exc:
            text = str(exc) if isinstance(exc, SummarizeError) else _os_error(exc)
            req.tell(Refused(text))
            req.close()
            return False
        finally:
            self.forward.recipients = []
        if not req.planned and not req.skipped:
            req.tell(Ended())
            req.close()
            return False
        return True

    def _run(self, group: list[Request]) -> None:
        """The group's articles through the local runner: first those with nothing to generate,
        then waves of runtime.wave_size over all the group's articles, skipping a client's
        articles once it has gone."""
        try:
            os.chdir(group[0].cwd)  # gone since it was planned
        except OSError as exc:
            os.chdir("/")
            for req in group:
                req.tell(Refused(_os_error(exc)))
                req.close()
            return
        report = _Routed(
            owners={name: req for req in group for name in req.names}, strict=group[0].strict
        )
        try:
            self._waves(group, report)
        finally:
            os.chdir("/")  # before the callers hear the end, idle in no caller's folder
        for req in group:
            if report.interrupted is None:
                req.tell(Ended())
            else:
                req.tell(Stopped(f"the server was stopped by signal {report.interrupted}"))
            req.close()
        if report.interrupted is not None:
            raise Interrupted(report.interrupted)  # the server stops too

    def _waves(self, group: list[Request], report: _Routed) -> None:
        self.forward.recipients = list(group)
        stdin = next((io.BytesIO(r.stdin) for r in group if r.stdin is not None), None)
        run = functools.partial(
            run_local, self.config, load=self._engines, force=group[0].force, stdin=stdin,
            report=report,
        )  # fmt: skip
        try:
            for req in group:
                req.tell(Started(len(req.todo)))
            if group[0].fail_fast:
                run(group[0].planned, group[0].skipped, fail_fast=True)
            else:
                rest = [p for r in group for p in r.planned if not to_do(p)]
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

    def _engines(self) -> Models:
        return self.models

    def _close_listener(self) -> None:
        """Take no more connections (the socket goes now); what is queued is still served."""
        self.listener.close()
        _unlink(self.path)


@contextlib.contextmanager
def _in_folder(folder: str) -> Iterator[None]:
    """Work in a caller's folder, and leave it after: a server idle in it would keep its file
    system from being unmounted until the server ends."""
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir("/")


def _beat(req: Request, conn: socket.socket) -> None:
    """Until the client closes its end (it has gone, e.g. Ctrl-C: what has not started is
    dropped) or the server closes it (the run is over), send a heartbeat after each
    ``req.heartbeat`` seconds, queued or at work: a client that hears nothing for longer
    knows the server froze."""
    watch = select.poll()
    watch.register(conn, select.POLLIN)
    while True:
        if not watch.poll(req.heartbeat * 1000):
            req.tell(Alive())
            continue
        try:
            if not conn.recv(4096):
                return
        except OSError:
            return


@contextlib.contextmanager
def _caller_umask(mask: int) -> Iterator[None]:
    """Files and folders made meanwhile get the caller's umask, as in a run of its own.

    The umask is the process's, yet setting it races with nothing: only the main thread, which
    serves one group at a time, makes files (the others read requests and send messages), and
    the callers of a group share one umask (:meth:`_Server._joins`). A mode computed per file
    instead would miss what the kernel does with the umask (a folder's default ACL replaces it).
    """
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _refuse(conn: socket.socket, text: str) -> None:
    with contextlib.suppress(OSError, ProtocolError):
        send(conn, encode(Refused(text)))
    conn.close()


def _os_error(exc: OSError) -> str:
    where = f"{display_name(exc.filename)}: " if exc.filename else ""
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
) -> str:
    """Load the engines once and serve the runs of clients with these settings on a Unix
    socket, until ``--stop``, a stop signal or ``idle_timeout`` seconds without a request;
    returns which of the first two ended it.

    One server per settings: a lock next to the socket says one is running; without it, a
    socket left by a killed server is replaced. ``gather`` seconds after a request, the
    requests that arrived meanwhile share its waves.
    """
    path = socket_path(settings_identity(config).server)
    lock = _lock(path.with_suffix(".lock"))
    try:
        with address(path):
            pass  # a folder no socket can be made in is said before the engines load
        models = load(config)
        _unlink(path)  # we hold the lock: a socket here is a killed server's
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with address(path) as where:
            listener.bind(where)
        os.chmod(path, 0o600)
        listener.listen(64)
        os.chdir("/")  # the folder it was started in is no more its than any caller's
        server = _Server(config, models, listener, path, gather)
        forward_all(server.forward)
        threading.Thread(target=server.accept, daemon=True).start()
        ready(path)
        try:
            return server.loop(idle_timeout)
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
