"""A client's run request as the server holds it: every field checked, its connection, its plan."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from summarize.discovery import STDIN, Skipped
from summarize.planning import Planned, Shard
from summarize.protocol import VERSION, ProtocolError, send
from summarize.server_replies import Reply, encode

__all__ = ["HEARTBEATS", "Request", "parse_request", "to_do"]

_FIELDS = {
    "type", "version", "settings", "cwd", "paths", "force", "fail_fast", "output_dir",
    "exclude", "stdin", "log_levels", "shard", "strict", "umask", "heartbeat",
}  # fmt: skip
#: the heartbeat a request may ask for, in seconds (see summarize.server_replies.Alive)
HEARTBEATS = (0.01, 3600.0)


@dataclass(eq=False)
class Request:
    """One client's run: its arguments, its connection, and what the server planned for it."""

    cwd: str
    paths: list[str]
    #: the caller's file mode creation mask, for every file and folder made for it
    umask: int
    force: bool = False
    fail_fast: bool = False
    #: --strict: a flagged article fails, also one flagged by an earlier run
    strict: bool = False
    output_dir: str | None = None
    exclude: list[str] = field(default_factory=list)
    #: how many bytes of standard input follow the request (None: no - among the paths)
    stdin_size: int | None = None
    #: standard input, once read from the connection
    stdin: bytes | None = None
    log_levels: dict[str, int] = field(default_factory=dict)
    shard: Shard | None = None
    #: seconds between two messages at most: a quiet run sends a heartbeat, so that the
    #: client can tell a server at work from one that froze
    heartbeat: float = 10.0
    conn: socket.socket | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    planned: list[Planned] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        return {p.job.name for p in self.planned} | {s.name for s in self.skipped}

    @property
    def todo(self) -> list[Planned]:
        return [p for p in self.planned if to_do(p)]

    def tell(self, reply: Reply) -> None:
        """Send a reply unless the client has gone; a client that cannot take it has gone."""
        if self.conn is None or self.cancelled.is_set():
            return
        with self.lock:
            try:
                send(self.conn, encode(reply))
            except (OSError, ProtocolError):
                self.cancelled.set()

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)
            self.conn.close()


def parse_request(message: dict[str, Any], own_settings: str, max_stdin: int) -> Request:
    """A run request, every field checked; ProtocolError says what is wrong with it.

    ``max_stdin``: the most bytes of standard input a caller with these settings sends (it
    reads one past input.max_bytes, as the read stage does, to say the input is too large).
    """
    unknown = set(message) - _FIELDS
    if unknown:
        raise ProtocolError(f"unknown fields: {', '.join(sorted(unknown))}")
    if message.get("version") != VERSION:
        raise ProtocolError(f"protocol version {message.get('version')!r}, expected {VERSION}")
    if message.get("settings") != own_settings:
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
    if stdin is not None and not (type(stdin) is int and 0 <= stdin <= max_stdin):
        raise ProtocolError(f"stdin is not a number of bytes up to {max_stdin}")
    umask = message.get("umask")
    if not (type(umask) is int and 0 <= umask <= 0o777):
        raise ProtocolError("umask is not a file mode creation mask (0 to 0o777)")
    levels = message.get("log_levels", {})
    if not isinstance(levels, dict) or not all(
        isinstance(k, str) and type(v) is int for k, v in levels.items()
    ):
        raise ProtocolError("log_levels is not a map of logger names to levels")
    heartbeat = message.get("heartbeat", 10.0)
    low, high = HEARTBEATS
    if type(heartbeat) not in (int, float) or not low <= heartbeat <= high:
        raise ProtocolError(f"heartbeat is not a number of seconds in {low}..{high}")
    return Request(
        shard=_shard(message.get("shard")),
        cwd=cwd,
        paths=[_text(p, "paths") for p in paths],
        force=_flag(message.get("force", False), "force"),
        fail_fast=_flag(message.get("fail_fast", False), "fail_fast"),
        strict=_flag(message.get("strict", False), "strict"),
        output_dir=None if output_dir is None else _text(output_dir, "output_dir"),
        exclude=[_text(p, "exclude") for p in exclude],
        umask=umask,
        stdin_size=stdin,
        log_levels=levels,
        heartbeat=float(heartbeat),
    )


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or "\0" in value:
        raise ProtocolError(f"{name}: not a non-empty path without NUL")
    return value


def _shard(value: object) -> Shard | None:
    if value is None:
        return None
    try:
        return Shard.parse(_text(value, "shard"))
    except ValueError as exc:
        raise ProtocolError(f"shard: {exc}") from None


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"{name} is not true or false")
    return value


def to_do(item: Planned) -> bool:
    """Whether a planned article is to be generated (not up to date, failed or refused)."""
    return item.reason is not None and item.error is None and not item.refused
