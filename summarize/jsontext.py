"""Parse JSON that came from outside the tool, within bounds on its size and depth.

Requests, replies, reports and sidecars can be written by anyone. ``json.loads`` alone
reads any size and recurses once per level of nesting, so a line of 100,000 ``[`` is a
``RecursionError`` deep inside the caller instead of a refusal. :func:`loads` turns every
way such text can be wrong into one :class:`JsonError` whose message says why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from summarize.snapshot import read_bounded

#: Deeper than anything the tool writes (a sidecar is four levels deep).
MAX_DEPTH = 32
#: The default size bound; callers with a bound of their own pass it.
MAX_BYTES = 64 * 1024 * 1024


class JsonError(ValueError):
    """Text that is not JSON the tool can take; the message says why."""


def loads(data: str | bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value ``data`` holds, or :class:`JsonError`.

    Bytes must be UTF-8. The size is checked before parsing; the depth after, since the
    parser itself stops at Python's recursion limit, which a depth bound well below it
    turns into a clear refusal for every nesting in between.
    """
    if len(data) > max_bytes:
        raise JsonError(f"larger than {max_bytes:,} bytes")
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonError(f"nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as error:
        raise JsonError(f"not UTF-8 ({error.reason} at byte {error.start})") from None
    except ValueError as error:
        raise JsonError(f"not valid JSON ({error})") from None
    if depth(value) > max_depth:
        raise JsonError(f"nested deeper than {max_depth} levels")
    return value


def read_file(path: Path, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in the file ``path`` (one the tool did not write: a model's config.json),
    read without waiting on a FIFO and within ``max_bytes``.

    Raises OSError (naming the file) when it cannot be read, :class:`JsonError` when it is
    not JSON within the bounds; the caller names the file in what it says.
    """
    return loads(read_bounded(path, max_bytes), max_bytes=max_bytes, max_depth=max_depth)


def depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` goes (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest
