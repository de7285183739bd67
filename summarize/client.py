"""The client of the warm server: find or start one for these settings, send a run, take results."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from summarize.discovery import Skipped, display_name
from summarize.errors import UsageError
from summarize.identity import settings_identity
from summarize.planning import plan
from summarize.progress import Progress
from summarize.protocol import (
    VERSION,
    ProtocolError,
    address,
    receive,
    send,
    socket_path,
    to_result,
)
from summarize.report import ArticleResult, Report, Status
from summarize.run_request import to_do
from summarize.settings import Config

__all__ = [
    "ENVIRONMENT",
    "LocalWork",
    "add_serve_command",
    "add_server_option",
    "run_remote",
    "server_flags",
    "server_mode",
    "stop_server",
]

log = logging.getLogger(__name__)

#: ``SUMMARIZE_SERVER=1`` (or use, auto, fallback) does what ``run --server`` does
ENVIRONMENT = "SUMMARIZE_SERVER"
_MODES = ("use", "auto", "fallback")
#: how long --server=auto waits for the server it started to load its engines
_START_TIMEOUT = 600.0


def add_server_option(run_parser: argparse.ArgumentParser) -> None:
    """``--server`` and its variants, as flags: an optional value would swallow the PATH after
    it (``--server -``); ``--server=MODE`` is read as one of them (:func:`server_flags`)."""
    group = run_parser.add_mutually_exclusive_group()
    group.add_argument(
        "--server",
        dest="server",
        action="store_const",
        const="use",
        help="do the articles in the running `summarize serve` with these settings (none "
        f"running is an error); also ${ENVIRONMENT}=1",
    )
    group.add_argument(
        "--auto-server",
        dest="server",
        action="store_const",
        const="auto",
        help=f"the same, starting one in the background if none runs; also ${ENVIRONMENT}=auto",
    )
    group.add_argument(
        "--server-or-local",
        dest="server",
        action="store_const",
        const="fallback",
        help=f"the same, doing them here if none runs; also ${ENVIRONMENT}=fallback",
    )


#: ``--server=MODE``, as ``dmypy run`` and $SUMMARIZE_SERVER spell it, and the flag it means
_SPELLED = {
    **dict.fromkeys(("use", "1", "yes", "on", "true"), "--server"),
    "auto": "--auto-server",
    **dict.fromkeys(("fallback", "local"), "--server-or-local"),
}


def server_flags(argv: list[str]) -> list[str]:
    """``argv`` with each ``--server=MODE`` (before any ``--``) as the flag of that mode.

    Raises ValueError for a mode that is not one.
    """
    out: list[str] = []
    for index, item in enumerate(argv):
        if item == "--":
            return out + argv[index:]
        if item.startswith("--server="):
            mode = item.partition("=")[2].strip().lower()
            if mode not in _SPELLED:
                raise ValueError(
                    f"--server={mode}: choose --server, --server=auto (or --auto-server) or "
                    "--server=fallback (or --server-or-local)"
                )
            item = _SPELLED[mode]
        out.append(item)
    return out


def add_serve_command(commands: Any, settings: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        parents=[settings],
        help="load the models once and do the articles of `summarize run --server` calls",
        description="Listen on a Unix socket in a private folder ($XDG_RUNTIME_DIR/summarize, "
        "else summarize-UID in the temporary folder), named by these settings; runs with "
        "other settings never reach it. Runs that arrive close together share batches.",
    )
    serve.add_argument(
        "--idle-timeout",
        type=_seconds(0.001, 365 * 86400),
        default=1800.0,
        metavar="S",
        help="stop after S seconds without a run (default 1800)",
    )
    serve.add_argument(
        "--gather",
        type=_seconds(0.0, 60.0),
        default=0.2,
        metavar="S",
        help="after a run arrives, wait for others to share its batches until none has come "
        "for S seconds, at most 10 S (default 0.2)",
    )
    serve.add_argument("--stop", action="store_true", help="stop the server for these settings")


def _seconds(low: float, high: float) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number of seconds in {low}..{high}"
            )
        return value

    return parse


def server_mode(option: str | None) -> str | None:
    """The mode ``--server`` or $SUMMARIZE_SERVER asks for; None for a local run."""
    if option is not None:
        return option
    value = os.environ.get(ENVIRONMENT, "").strip().lower()
    if value in ("", "0", "no", "off", "false"):
        return None
    if value in ("1", "yes", "on", "true"):
        return "use"
    if value not in _MODES:
        raise UsageError(f"{ENVIRONMENT}={value!r}: choose 1 (or use), auto or fallback, or 0")
    return value


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The client's own look at the plan says nothing: the run (here or there) says it."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


@dataclass(frozen=True)
class LocalWork:
    """The part of a run this process does itself: all of it, or what a lost server left."""

    #: the names of the articles to do; None for every article of the run
    only: frozenset[str] | None = None
    #: standard input as read for the server, if it was (stdin can be read only once)
    stdin: bytes | None = None


def run_remote(
    config: Config,
    args: argparse.Namespace,
    mode: str,
    *,
    report: Report,
    progress: Progress,
    stdin: BinaryIO | None,
    exclude: list[Path],
) -> LocalWork | None:
    """Send the run to the server with these settings; None once the server has done it all.

    What is left to do here: the whole run when nothing is to be generated (no engine needed)
    or, in ``mode`` fallback, when no server runs; and in that mode, the articles a server
    that went away mid-run did not finish. Raises UsageError where the local run would (the
    plan is made here first, with the same rules), and when no server runs in mode ``use``.
    """
    skipped: list[Skipped] = []
    with _quiet():
        planned = plan(
            config,
            args.paths,
            force=args.force,
            output_dir=args.output_dir,
            exclude=exclude,
            skipped=skipped,
            shard=args.shard,
        )
    if not any(to_do(p) for p in planned):
        return LocalWork()
    key = settings_identity(config).server
    path = socket_path(key)
    conn = _connect(path) or _wait_for(path, None)  # a server may be loading its engines
    if conn is None and mode == "auto":
        conn = _start(args, path)
    if conn is None:
        if mode == "fallback":
            log.info("no server runs with these settings: doing the articles here")
            return LocalWork()
        raise UsageError(
            "no server runs with these settings; start one with `summarize serve` and the "
            "same -c/--set options, or use --auto-server or --server-or-local"
        )
    # As the read stage reads it: one byte past input.max_bytes says it is too large.
    data = stdin.read(config.input.max_bytes + 1) if stdin is not None else None
    request = {
        "type": "run",
        "version": VERSION,
        "settings": key,
        "cwd": os.getcwd(),
        "paths": list(args.paths),
        "force": args.force,
        "fail_fast": args.fail_fast,
        "strict": args.strict,
        "output_dir": None if args.output_dir is None else str(args.output_dir),
        "exclude": [str(p) for p in exclude],
        "stdin": None if data is None else len(data),  # the bytes follow the request
        "umask": _umask(),
        "shard": None if args.shard is None else str(args.shard),
        "log_levels": {
            name: logging.getLogger(name).getEffectiveLevel()
            for name in ("summarize", "summarize.progress")
        },
    }
    todo = [p.job.name for p in planned if to_do(p)]
    if _exchange(conn, request, report, progress, todo, stdin=data):
        return None
    if mode == "fallback":
        every = [p.job.name for p in planned] + [s.name for s in skipped]
        left = frozenset(every) - {r.name for r in report.results}
        log.warning(
            "the server stopped before this run was done: doing the %d article(s) it did not "
            "finish here",
            len(left),
        )
        return LocalWork(only=left, stdin=data)
    log.error("the server stopped before this run was done (see its log)")
    _unreported(report, todo, Status.FAILED, "{}: not done: the server stopped before it was done")
    return None


def _exchange(
    conn: socket.socket,
    request: dict[str, Any],
    report: Report,
    progress: Progress,
    todo: list[str],
    *,
    stdin: bytes | None = None,
) -> bool:
    """Send the request and then ``stdin``, as bytes (base64 in the JSON would be a third
    larger, and copied several times on each side), then add each result the server streams
    back to ``report``; False if the server went away before the end of the run.

    Ctrl-C closes the connection, which cancels this run's articles not yet started.
    """
    ended = False
    try:
        # A server that refuses closes without reading: its answer still waits to be read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            send(conn, request)
            if stdin is not None:
                conn.sendall(stdin)
        while not ended:
            message = receive(conn, limit=None)  # a result's texts are as long as its article
            if message is None:
                break
            kind = message.get("type")
            if kind == "log":
                logging.getLogger(str(message["logger"])).log(
                    int(message["level"]), "%s", message["message"]
                )
            elif kind == "start":
                progress.start(int(message["count"]))
            elif kind == "result":
                result = to_result(message)
                report.add(result)
                if result.name in todo:  # the bar counts the articles to do, as a local run's
                    progress.advance()
            elif kind == "error":
                raise UsageError(f"the server: {message['message']}")
            elif kind == "end":
                ended = True
                report.interrupted = message["interrupted"]
    except KeyboardInterrupt as exc:
        conn.close()
        report.interrupted = getattr(exc, "signum", signal.SIGINT)
        _unreported(report, todo, Status.NOT_DONE, "not done: the run was interrupted")
        return True
    except (OSError, ProtocolError, KeyError, ValueError, TypeError) as exc:
        log.warning("lost the server: %s", exc)
    finally:
        conn.close()
    return ended


def _umask() -> int:
    """This process's file mode creation mask, for the files the server makes for this run.

    Read by setting it: nothing in the client makes files in another thread meanwhile.
    """
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _unreported(report: Report, todo: list[str], status: Status, why: str) -> None:
    seen = {r.name for r in report.results}
    for name in todo:
        if name not in seen:
            report.add(ArticleResult(name, status, why.format(name)))


def _connect(path: Path) -> socket.socket | None:
    """A connection to the server at ``path``; None if none listens there (a socket left by a
    killed server refuses: the next server replaces it)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with address(path) as where:
            conn.connect(where)
    except (FileNotFoundError, ConnectionRefusedError):
        conn.close()
        return None
    return conn


def _start(args: argparse.Namespace, path: Path) -> socket.socket | None:
    """Start a server for these settings in the background (its log next to its socket), and
    connect once it has loaded; None if it ended without serving."""
    command = [sys.executable, "-m", "summarize", "serve"]
    if args.config is not None:
        command += ["-c", str(args.config)]
    for item in args.overrides:
        command += ["--set", item]
    log_path = path.with_suffix(".log")
    with open(log_path, "ab") as out:
        offset = out.tell()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    conn = _wait_for(path, process)
    if conn is None and process.poll() not in (None, 0):
        # Its reason is this run's (a model that cannot be loaded is exit 2 in a local run too),
        # not "no server runs": the caller asked for one to be started.
        raise UsageError(f"the server started for this run ended: {_ending(log_path, offset)}")
    return conn


def _ending(log_path: Path, offset: int) -> str:
    """The error lines the server wrote to its log from ``offset``, or where to look."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read(64 * 1024).decode("utf-8", "replace")
    except OSError:
        text = ""
    # The log is shared: servers started by other callers at once (make -j) write to it too,
    # and all but one of them end saying that one is already running.
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("summarize: error: ")]
    reasons = [i for i in starts if "already running" not in lines[i]] or starts
    if not reasons:
        return f"see its log, {display_name(log_path)}"
    first = reasons[0]
    ends = [i for i in range(first + 1, len(lines)) if lines[i].startswith("summarize: ")]
    block = lines[first : ends[0] if ends else len(lines)]  # an error may span several lines
    return "\n".join(block).removeprefix("summarize: error: ").strip()


def _wait_for(path: Path, process: subprocess.Popen[bytes] | None) -> socket.socket | None:
    """A connection once the server loading its engines (holding the lock) listens; None if
    none is loading, or the one started (``process``) ended with no other to wait for."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        conn = _connect(path)
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


def stop_server(config: Config) -> Path | None:
    """Ask the server with these settings to stop (it finishes what it has); its socket, or
    None if none runs."""
    path = socket_path(settings_identity(config).server)
    conn = _connect(path)
    if conn is None:
        return None
    with conn:
        send(conn, {"type": "stop", "version": VERSION})
        receive(conn)
    return path
