"""The server's replies: one typed record per kind, written by the server, checked by the client.

A client trusts nothing a server sends: :func:`parse_reply` takes a message only if it has
exactly the fields of its kind, each of its type, and says what is wrong otherwise
(:class:`~summarize.protocol.ProtocolError`), which the client treats as a lost server.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from summarize.protocol import ProtocolError
from summarize.report import ArticleResult, Flag, Status

__all__ = [
    "Alive",
    "Ended",
    "LogLine",
    "Refused",
    "Reply",
    "Result",
    "ServerStatus",
    "Started",
    "Stopped",
    "Stopping",
    "encode",
    "parse_reply",
]


@dataclass(frozen=True)
class Alive:
    """A heartbeat: the server still works on the run (sent after each quiet interval)."""


@dataclass(frozen=True)
class LogLine:
    """A log record of the run, for the client to log at its own levels."""

    logger: str
    level: int
    message: str


@dataclass(frozen=True)
class Started:
    """The run's articles to generate are about to start: ``count`` of them."""

    count: int


@dataclass(frozen=True)
class Result:
    """One article's result."""

    result: ArticleResult


@dataclass(frozen=True)
class Refused:
    """The request is refused, or its plan failed: the message says why."""

    message: str


@dataclass(frozen=True)
class Ended:
    """The run is over: every article it asked for has had its result."""


@dataclass(frozen=True)
class Stopped:
    """The server stops before the run is over (a stop signal): what is left is not done."""

    reason: str


@dataclass(frozen=True)
class Stopping:
    """The answer to ``serve --stop``: the server takes no new run and ends."""

    pid: int


@dataclass(frozen=True)
class ServerStatus:
    """The answer to ``serve --list``: who serves, with which models, since when."""

    pid: int
    summarizer: str
    translator: str
    uptime: float


Reply = Alive | LogLine | Started | Result | Refused | Ended | Stopped | Stopping | ServerStatus

_KINDS: dict[str, type[Any]] = {
    "alive": Alive,
    "log": LogLine,
    "start": Started,
    "result": Result,
    "error": Refused,
    "end": Ended,
    "stopped": Stopped,
    "stopping": Stopping,
    "status": ServerStatus,
}
_NAMES = {kind: name for name, kind in _KINDS.items()}


def encode(reply: Reply) -> dict[str, Any]:
    """The message that carries ``reply``."""
    if isinstance(reply, Result):
        return {"type": "result", **_from_result(reply.result)}
    return {"type": _NAMES[type(reply)], **dataclasses.asdict(reply)}


def parse_reply(message: dict[str, Any]) -> Reply:
    """The reply ``message`` carries; ProtocolError if it is not exactly one."""
    kind = message.get("type")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None or not isinstance(kind, str):
        raise ProtocolError(f"a reply of unknown type {str(kind)[:40]!r}")
    if cls is Result:
        return Result(_to_result(message))
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    _exact_fields(message, set(fields), kind)
    values = {name: _CHECKS[str(kind_of)](message[name], name) for name, kind_of in fields.items()}
    reply: Reply = cls(**values)
    if isinstance(reply, LogLine) and not (
        reply.logger == "summarize" or reply.logger.startswith("summarize.")
    ):
        raise ProtocolError(f"a log line for another logger ({reply.logger[:40]!r})")
    return reply


def _exact_fields(message: dict[str, Any], expected: set[str], kind: str) -> None:
    given = set(message) - {"type"}
    if given != expected:
        odd = sorted(given ^ expected)
        raise ProtocolError(f"a {kind!r} reply with fields missing or unknown: {', '.join(odd)}")


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{name} is not text")
    return value


def _count(value: object, name: str) -> int:
    if type(value) is not int or value < 0:
        raise ProtocolError(f"{name} is not a count")
    return value


def _number(value: object, name: str) -> float:
    if type(value) not in (int, float):
        raise ProtocolError(f"{name} is not a number")
    return float(value)  # type: ignore[arg-type]


def _finite(value: object, name: str) -> float:
    number = _number(value, name)
    if not math.isfinite(number) or number < 0:
        raise ProtocolError(f"{name} is not a number of seconds")
    return number


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"{name} is not true or false")
    return value


_CHECKS: dict[str, Callable[[object, str], Any]] = {
    "str": _text,
    "int": _count,
    "float": _finite,
}


def _texts(value: object, name: str) -> list[str]:
    if not isinstance(value, list):
        raise ProtocolError(f"{name} is not a list of text")
    return [_text(item, name) for item in value]


def _from_result(result: ArticleResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "status": result.status.value,
        "reason": result.reason,
        "outputs": list(result.outputs),
        "seconds": result.seconds,
        "warnings": list(result.warnings),
        "texts": result.texts,
        "flags": [flag.as_dict() for flag in result.flags],
    }


_RESULT_FIELDS = {"name", "status", "reason", "outputs", "seconds", "warnings", "texts", "flags"}
_STATUSES = {status.value: status for status in Status}


def _to_result(message: dict[str, Any]) -> ArticleResult:
    _exact_fields(message, _RESULT_FIELDS, "result")
    status = _STATUSES.get(message["status"]) if isinstance(message["status"], str) else None
    if status is None:
        raise ProtocolError("status is not an article's status")
    seconds, texts, flags = message["seconds"], message["texts"], message["flags"]
    if not isinstance(seconds, dict):
        raise ProtocolError("seconds is not a map of steps to seconds")
    if texts is not None and not (
        isinstance(texts, dict) and all(isinstance(v, str) for v in texts.values())
    ):
        raise ProtocolError("texts is not a map of outputs to text")
    if not isinstance(flags, list):
        raise ProtocolError("flags is not a list of flags")
    return ArticleResult(
        name=_text(message["name"], "name"),
        status=status,
        reason=_text(message["reason"], "reason"),
        outputs=tuple(_texts(message["outputs"], "outputs")),
        seconds={_text(k, "seconds"): _finite(v, "seconds") for k, v in seconds.items()},
        warnings=tuple(_texts(message["warnings"], "warnings")),
        texts=texts,
        flags=tuple(_to_flag(item) for item in flags),
    )


_FLAG_FIELDS = {"output", "segment", "span", "check", "value", "threshold", "attempts", "repaired"}


def _to_flag(item: object) -> Flag:
    if not isinstance(item, dict) or not _FLAG_FIELDS <= set(item) <= _FLAG_FIELDS | {
        "output_span"
    }:
        raise ProtocolError("a flag that is not one")
    placed = item.get("output_span")
    return Flag(
        _text(item["output"], "flag output"),
        _count(item["segment"], "flag segment"),
        _span(item["span"]),
        _text(item["check"], "flag check"),
        _number(item["value"], "flag value"),
        _number(item["threshold"], "flag threshold"),
        _count(item["attempts"], "flag attempts"),
        _flag(item["repaired"], "flag repaired"),
        None if placed is None else _span(placed),
    )


def _span(value: object) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise ProtocolError("a flag's span is not a pair of offsets")
    return _count(value[0], "span"), _count(value[1], "span")
