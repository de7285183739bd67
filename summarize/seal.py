"""The sidecar's seal: a checksum of its own text, so a reader knows a file is as the tool wrote it.

A rerun reads one sidecar per article. Parsing and checking every field of thousands of them
cost most of a no-op rerun; a sidecar whose seal holds is exactly what the writer made (every
field as the tool writes it), so the rerun check reads only the two values it needs. A sidecar
edited by hand, cut short or written by another tool has no seal that holds, and is read and
checked in full. A CRC-32 is enough for that: it tells an edited or damaged file from the one
written (anyone can forge a seal, as they could write the sidecar), at a third of sha256's cost.
"""

from __future__ import annotations

import json
import re
import zlib

__all__ = ["KEY", "seal", "unsealed", "value_at"]

#: the sidecar's last key: the CRC-32 (8 hex digits) of the text the file would hold without it
KEY = "seal"
_END = "\n}"
_HEAD = f',\n  "{KEY}": "'.encode()
_TAIL = b'"\n}\n'
_DIGITS = 8
_LENGTH = len(_HEAD) + _DIGITS + len(_TAIL)
_CLOSE = (_END + "\n").encode()
_HEX = re.compile(rb"[0-9a-f]{%d}" % _DIGITS).fullmatch
_DECODER = json.JSONDecoder()


def seal(text: str) -> str:
    """``text``, a JSON object as ``json.dumps(..., indent=2)`` writes it plus a newline, with
    its seal as the last key (text of another shape is returned as it is)."""
    if not text.endswith(_END + "\n"):
        return text
    return text[: -len(_END) - 1] + (_HEAD + _checksum(text.encode("utf-8")) + _TAIL).decode()


def unsealed(raw: bytes) -> str | None:
    """The text ``raw`` held before it was sealed, when its seal holds; None otherwise."""
    if len(raw) < _LENGTH or not raw.endswith(_TAIL) or raw[-_LENGTH:][: len(_HEAD)] != _HEAD:
        return None
    digest = raw[-len(_TAIL) - _DIGITS : -len(_TAIL)]
    body = memoryview(raw)[:-_LENGTH]  # not copied: this runs for every article of a rerun
    if not _HEX(digest) or _checksum(body, _CLOSE) != digest:
        return None
    try:
        return str(body, "utf-8") + _CLOSE.decode()
    except UnicodeDecodeError:
        return None


def _checksum(*parts: bytes | memoryview) -> bytes:
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return b"%08x" % crc


def value_at(text: str, key: str) -> tuple[object, bool]:
    """The value of the top-level ``key`` of an unsealed text, and whether the key is there.

    In the writer's layout a top-level key alone starts a line two spaces in (strings hold
    no newline, nested keys are further in), so it is found without parsing the rest.
    """
    start = text.find(f'\n  "{key}": ')
    if start < 0:
        return None, False
    try:
        value, _ = _DECODER.raw_decode(text, start + len(key) + 7)
    except ValueError:
        return None, False
    return value, True
