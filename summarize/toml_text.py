"""TOML text of the settings: reading a file or a ``--set`` value, writing tables as a document."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from summarize.discovery import display_name
from summarize.errors import ConfigError
from summarize.snapshot import FileTooLarge, read_bounded

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["CONFIG_MAX_BYTES", "read_toml", "read_toml_value", "toml_document"]

#: A config is a few kB of settings; a larger file is not one, and is not read into memory.
CONFIG_MAX_BYTES = 1024 * 1024


def read_toml(path: Path) -> dict[str, Any]:
    """The tables of the TOML file ``path``; a ConfigError that names the file otherwise.

    The file is read as any file from outside: never waiting (a FIFO is refused, not read) and
    within CONFIG_MAX_BYTES.
    """
    try:
        text = read_bounded(path, CONFIG_MAX_BYTES).decode("utf-8")
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except FileNotFoundError:
        raise ConfigError(f"{display_name(path)}: config file not found") from None
    except FileTooLarge as exc:
        raise ConfigError(
            f"{display_name(path)}: cannot read config file ({exc.size:,} bytes, more than "
            f"{CONFIG_MAX_BYTES:,})"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{display_name(path)}: cannot read config file ({exc.strerror or exc})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{display_name(path)}: not valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{display_name(path)}: not valid TOML (nested too deep)") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8; e.g. a UTF-16 file from an editor
        byte = exc.object[exc.start]
        raise ConfigError(
            f"{display_name(path)}: not valid TOML: not UTF-8 text (byte {exc.start} is "
            f"{byte:#04x}); save the file as UTF-8"
        ) from None
    except ValueError:  # a decimal integer longer than Python converts (4300 digits)
        raise ConfigError(f"{display_name(path)}: {_huge_number(text)}") from None


#: a ``key = integer`` line, and a ``[table]`` header
_KEY_NUMBER = re.compile(r"\s*([\w.\"'-]+)\s*=\s*[+-]?([\d_]+)")
_TABLE = re.compile(r"\s*\[\s*([\w.-]+)\s*\]")


def _huge_number(text: str) -> str:
    """Where the integer too long to read is in ``text``: its line and key, as far as a plain
    ``key = digits`` line below a ``[table]`` shows them."""
    table = ""
    limit = sys.get_int_max_str_digits()
    for number, line in enumerate(text.splitlines(), 1):
        header = _TABLE.match(line)
        table = header[1] if header else table
        found = _KEY_NUMBER.match(line)
        if found and sum(c.isdigit() for c in found[2]) > limit:
            key = f"{table}.{found[1]}" if table else found[1]
            digits = sum(c.isdigit() for c in found[2])
            return f"line {number}: {key}: a number of {digits} digits, too large"
    return f"a number of more than {limit} digits, too large"


def read_toml_value(raw: str, *, text: bool) -> Any:
    """A ``--set`` value: for a ``text`` setting the raw string (or a quoted literal's text),
    otherwise the TOML value when it parses as one and the raw string when it does not."""
    if text:
        # Taken verbatim: "1.0" is a revision, "true" a prefix, not a number or a boolean.
        return _unquoted(raw.strip())
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):  # nested too deep for tomllib, too
        return raw.strip()  # then the type check names the key and the type it wants


def _unquoted(raw: str) -> str:
    """A TOML string literal (``"x"``, ``'x'``, ``""``) gives its text; anything else is raw."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except (tomllib.TOMLDecodeError, RecursionError):
            return raw
        if isinstance(value, str):
            return value
    return raw


def toml_document(
    tables: Mapping[str, Mapping[str, Any]], origins: Mapping[str, str] | None = None
) -> str:
    """``tables`` as a TOML document; with ``origins``, each line says where its value came from."""
    lines: list[str] = []
    for section, table in tables.items():
        lines.append(f"[{section}]")
        rows = [(f"{key} = {_value(value)}", f"{section}.{key}") for key, value in table.items()]
        width = max(len(row) for row, _ in rows)
        for row, name in rows:
            origin = f"  # {origins.get(name, 'default')}" if origins is not None else ""
            lines.append(f"{row:<{width}}{origin}".rstrip())
        lines.append("")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # JSON strings and lists of strings are valid TOML, escapes included.
    return json.dumps(value, ensure_ascii=False)
