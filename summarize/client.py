"""The client of the warm server: find or start one for these settings, send a run, take results."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from summarize.discovery import Skipped, display_name
from summarize.errors import UsageError
from summarize.identity import settings_identity
from summarize.planning import plan
from summarize.progress import Progress
from summarize.protocol import VERSION, ProtocolError, receive, send, socket_path
from summarize.report import ArticleResult, Report, Status
from summarize.run_request import to_do
from summarize.server_replies import (
    Alive,
    Ended,
    LogLine,
    Refused,
    Reply,
    Result,
    Started,
    Stopped,
    parse_reply,
)
from summarize.servers import Limits, connect, start, wait_for
from summarize.settings import Config

__all__ = [
    "ENVIRONMENT",
    "LocalWork",
    "add_serve_command",
    "add_server_option",
    "run_remote",
    "server_flags",
    "server_mode",
]

log = logging.getLogger(__name__)

#: ``SUMMARIZE_SERVER=1`` (or use, auto, fallback) does what ``run --server`` does
ENVIRONMENT = "SUMMARIZE_SERVER"
_MODES = ("use", "auto", "fallback")


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
        "other settings never reach it. Runs that arrive close together share batches. A caller "
        "takes a server silent for $SUMMARIZE_SERVER_TIMEOUT seconds (default 60; it sends a "
        "heartbeat four times as often) for lost, and waits at most "
        "$SUMMARIZE_SERVER_START_TIMEOUT seconds (default 600) for one loading its models.",
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
    serve.add_argument(
        "--all", action="store_true", help="with --stop: stop every server of this user"
    )
    serve.add_argument(
        "--list",
        action="store_true",
        help="list every server of this user: pid, time up, models, socket",
    )


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
    or, in ``mode`` fallback, when no server runs; and in that mode, the articles a lost
    server did not finish (it stopped, froze, or sent what no server does). Raises
    UsageError where the local run would (the plan is made here first, with the same rules),
    and when no server runs in mode ``use``.
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
    limits = Limits.from_environment()
    key = settings_identity(config).server
    path = socket_path(key)
    try:
        conn = _reach(args, path, mode, limits)
    except OSError as exc:  # a server that does not even take the connection is lost too
        conn, unreachable = None, limits.why(exc)
    else:
        unreachable = "no server runs with these settings"
    if conn is None:
        if mode == "fallback":
            log.warning("%s: doing the articles here", unreachable)
            return LocalWork()
        raise UsageError(
            f"{unreachable}; start one with `summarize serve` and the same -c/--set options, "
            "or use --auto-server or --server-or-local"
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
        "heartbeat": limits.heartbeat,
    }
    asked = _Asked(
        every=frozenset(p.job.name for p in planned) | {s.name for s in skipped},
        todo=[p.job.name for p in planned if to_do(p)],
    )
    lost = _exchange(conn, request, report, progress, asked, limits, stdin=data)
    if lost is None:
        return None
    left = asked.every - {r.name for r in report.results}
    if not left:  # the run is whole: what went wrong came after the last result
        log.warning("lost the server (%s) once every article had its result", lost)
        return None
    if mode == "fallback":
        log.warning(
            "lost the server (%s): doing the %d article(s) it did not finish here", lost, len(left)
        )
        return LocalWork(only=left, stdin=data)
    log.error("lost the server (%s) before this run was done; see its log", lost)
    _unreported(
        report, asked.todo, Status.FAILED, "{}: not done: the server stopped before it was done"
    )
    return None


def _reach(args: argparse.Namespace, path: Path, mode: str, limits: Limits) -> socket.socket | None:
    """A connection to the server at ``path``, waiting while one loads and starting one in
    ``mode`` auto; None if none runs."""
    conn = connect(path, limits) or wait_for(path, None, limits)
    if conn is None and mode == "auto":
        conn = start(args, path, limits)
    return conn


@dataclass(frozen=True)
class _Asked:
    """The articles a run asked for, the results of which the server must send, each once."""

    every: frozenset[str]
    #: those to generate, in the plan's order
    todo: list[str]


def _exchange(
    conn: socket.socket,
    request: dict[str, Any],
    report: Report,
    progress: Progress,
    asked: _Asked,
    limits: Limits,
    *,
    stdin: bytes | None = None,
) -> str | None:
    """Send the request and then ``stdin``, as bytes (base64 in the JSON would be a third
    larger, and copied several times on each side), then add each result the server streams
    back to ``report``; None once the run ended with a result for exactly the articles it
    asked for, else why the server is lost.

    Ctrl-C closes the connection, which cancels this run's articles not yet started.
    """
    conn.settimeout(limits.silence)  # the server sends a heartbeat well within it
    try:
        # A server that refuses closes without reading: its answer still waits to be read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            send(conn, request)
            if stdin is not None:
                conn.sendall(stdin)
        while True:
            message = receive(conn, limit=None)  # a result's texts are as long as its article
            if message is None:
                return "it closed the connection"
            ended = _take(parse_reply(message), report, progress, asked)
            if ended is not None:
                return ended or None
    except KeyboardInterrupt as exc:
        conn.close()
        report.interrupted = getattr(exc, "signum", signal.SIGINT)
        _unreported(report, asked.todo, Status.NOT_DONE, "not done: the run was interrupted")
        return None
    except (OSError, ProtocolError) as exc:
        return limits.why(exc)
    finally:
        conn.close()


def _take(reply: Reply, report: Report, progress: Progress, asked: _Asked) -> str | None:
    """Act on one reply: None to read on, "" once the run is over, else why the server is
    lost (a result for an article not asked for, or asked for and not sent)."""
    if isinstance(reply, LogLine):
        logging.getLogger(reply.logger).log(reply.level, "%s", reply.message)
    elif isinstance(reply, Started):
        progress.start(reply.count)
    elif isinstance(reply, Result):
        name = reply.result.name
        if name not in asked.every or any(r.name == name for r in report.results):
            return f"it sent a result for {display_name(name)}, not asked for or sent before"
        report.add(reply.result)
        if name in asked.todo:  # the bar counts the articles to do, as a local run's
            progress.advance()
    elif isinstance(reply, Refused):
        raise UsageError(f"the server: {reply.message}")
    elif isinstance(reply, Ended):
        missing = asked.every - {r.name for r in report.results}
        if missing:
            return f"it ended the run with no result for {display_name(min(missing))}"
        return ""
    elif isinstance(reply, Stopped):
        return reply.reason
    elif not isinstance(reply, Alive):
        return f"it sent a {type(reply).__name__} reply to a run"
    return None


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
