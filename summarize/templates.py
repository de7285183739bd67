"""File name templates: the fields they may use, the names they make and the names they match."""

from __future__ import annotations

import re
import string
from pathlib import Path

__all__ = [
    "NAME_FIELDS",
    "format_name",
    "name_fields",
    "owner_regex",
    "sample_name",
    "template_problem",
    "template_regex",
]

#: The fields a file name template may use: the input's name without, and with, its extension.
NAME_FIELDS = ("stem", "name")
# What a field matches: any name, a newline included (a file name may hold every byte but "/"
# and NUL, and "." alone stops at a newline, so "new\nline.summary.txt" would look like an input).
_ANY = "(?s:.+)"


def format_name(template: str, source: Path) -> str:
    """A file name from a template: ``{stem}`` is the source's name without its extension,
    ``{name}`` with it (so that ``x.txt`` and ``x.md`` can have outputs of their own)."""
    return template.format(**name_fields(source))


def name_fields(source: Path) -> dict[str, str]:
    """The fields of :func:`format_name`, to fill several templates for one source."""
    return {"stem": source.stem, "name": source.name}


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot name a file of the tool's own, or None when it can."""
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template)]
    except ValueError as exc:
        return f"{template!r} is not a valid template ({exc}); write {{{{ and }}}} for braces"
    used = [(f, spec, conv) for f, spec, conv in fields if f is not None]
    # Exactly {stem} or {name}: a format spec or an index could cut two names down to one.
    if not used or any(f not in NAME_FIELDS or spec or conv for f, spec, conv in used):
        return (
            f"{template!r} must contain {{stem}} (the input's name without its extension) or "
            "{name} (with it), and no other {...} field; write {{ and }} for literal braces"
        )
    if "/" in template or "\\" in template or ".." in template:
        return f"{template!r} must be a plain file name: no path separators or '..'"
    try:
        template.encode("utf-8")
    except UnicodeEncodeError:  # bytes of another encoding in --set: no sidecar could record it
        shown = template.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
        return f"'{shown}' is not UTF-8 text; write the name in UTF-8"
    if "\0" in template:
        return f"{template!r} holds a NUL character, which no file name can"
    if template.startswith("."):
        # Hidden names belong to the tool's lock and temporary files, and are never inputs.
        return f"{template!r} must not start with '.'"
    return None


def template_regex(template: str) -> str:
    """A regular expression for every file name ``template`` can produce."""
    return "".join(
        re.escape(literal) + (_ANY if field is not None else "")
        for literal, field, _, _ in string.Formatter().parse(template)
    )


def owner_regex(template: str) -> str:
    """Like :func:`template_regex`, capturing the input's ``stem`` or ``name`` it was made from."""
    parts, seen = [], set()
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>{_ANY})")
            seen.add(field)
    return "".join(parts)


def sample_name(glob: str) -> str | None:
    """A typical name ``glob`` selects; None when character sets make one hard to pick."""
    if "[" in glob:
        return None
    return glob.replace("*", "article").replace("?", "a")
