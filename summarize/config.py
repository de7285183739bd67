"""Loading the settings: TOML files and --set (defaults < file < --set), and validation."""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from summarize.backends import BACKENDS
from summarize.discovery import display_name
from summarize.errors import ConfigError
from summarize.families import AUTO, TEXT_FIELD
from summarize.settings import (
    DTYPES,
    GUARD_CHECKS,
    LANGUAGE_CHECKS,
    QUANTIZATIONS,
    TRANSLATABLE,
    Config,
)
from summarize.templates import sample_name, template_problem, template_regex
from summarize.toml_text import read_toml, read_toml_value, toml_document

__all__ = ["NUMBER_RANGES", "as_dict", "load_config", "load_config_with_origins", "to_toml"]

# Each TOML section and the settings class that holds it.
_SECTIONS: dict[str, type[Any]] = typing.get_type_hints(Config)

#: the allowed range of every numeric setting: a value outside it is a mistake (or would
#: overflow a library), never a wish; checked as each value is read, the cross-key rules
#: come after, in _validate.
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "summarizer.max_input_tokens": (16, 1_000_000),
    "summarizer.num_beams": (1, 64),
    "summarizer.min_length": (0, 1_000_000),
    "summarizer.max_length": (1, 1_000_000),
    "summarizer.no_repeat_ngram_size": (0, 100),
    "summarizer.length_penalty": (-100.0, 100.0),
    "translator.max_input_tokens": (16, 1_000_000),
    "translator.num_beams": (1, 64),
    "translator.max_length_ratio": (0.01, 100.0),
    "translator.max_length_extra": (0, 1_000_000),
    "translator.no_repeat_ngram_size": (0, 100),
    "translator.length_penalty": (-100.0, 100.0),
    "guards.max_repetition": (0.0, 1.0),
    "guards.min_script_share": (0.0, 1.0),
    "guards.min_length_ratio": (0.0, 100.0),
    "guards.max_length_ratio": (0.0, 100.0),
    "guards.min_ratio_chars": (0, 1_000_000),
    "guards.min_grounded": (0.0, 1.0),
    "guards.repair_rounds": (0, 2),
    "guards.repair_num_beams": (1, 64),
    "guards.repair_no_repeat_ngram_size": (0, 100),
    "guards.repair_repetition_penalty": (1.0, 100.0),
    "runtime.batch_tokens": (1, 100_000_000),
    "runtime.threads": (0, 4096),
    "runtime.wave_size": (1, 1_000_000),
    "runtime.claim_timeout": (1, 100 * 365 * 24 * 3600),
    # Standard input is read into one buffer of this size.
    "input.max_bytes": (1, 1_000_000_000),
    "ray.actors": (1, 100_000),
    "ray.gpus_per_actor": (0, 64),
    "ray.cpus_per_actor": (0.01, 1024),
}
_DEVICE_RE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def load_config(path: Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Build the effective configuration: built-in defaults, then ``path``, then ``overrides``.

    Each override is ``section.key=value``; the value is read as a TOML value when it parses as
    one (``2``, ``true``, ``["article"]``) and as a plain string otherwise (``cpu``).
    """
    return load_config_with_origins(path, overrides)[0]


def load_config_with_origins(
    path: Path | None = None, overrides: Sequence[str] = ()
) -> tuple[Config, dict[str, str]]:
    """Like :func:`load_config`, plus where each non-default ``section.key`` was set."""
    values: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    origins: dict[str, str] = {}
    if path is not None:
        _merge(values, origins, read_toml(path), display_name(path))
    for item in overrides:
        section, key, value = _parse_override(item)
        _merge(values, origins, {section: {key: value}}, "--set")
    return _build(values, origins), origins


def to_toml(config: Config, origins: Mapping[str, str] | None = None) -> str:
    """The configuration as a TOML document; with ``origins``, each line says where it came from."""
    return toml_document(as_dict(config), origins)


def as_dict(config: Config) -> dict[str, dict[str, Any]]:
    """The configuration as plain TOML-like tables (for the sidecar)."""
    return dataclasses.asdict(config)


def _parse_override(item: str) -> tuple[str, str, Any]:
    name, sep, raw = item.partition("=")
    name = name.strip()
    if not sep or "." not in name:
        raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. runtime.device=cpu")
    section, key = name.split(".", 1)
    declared = _declared_type(section, key)
    try:
        return section, key, read_toml_value(raw, text=declared is str)
    except ValueError:  # tomllib: a decimal integer longer than Python converts (4300 digits)
        if name not in NUMBER_RANGES:
            return section, key, raw  # then _merge or the type check names the key
        shown = f"a number of {sum(c.isdigit() for c in raw)} digits"
        raise ConfigError(f"--set: {name}: {_out_of_range(name, shown)}") from None


def _declared_type(section: str, key: str) -> Any:
    """The type of ``section.key``, or None when there is no such key (_merge reports it)."""
    cls = _SECTIONS.get(section)
    return None if cls is None else typing.get_type_hints(cls).get(key)


def _merge(
    values: dict[str, dict[str, Any]],
    origins: dict[str, str],
    data: Mapping[str, Any],
    source: str,
) -> None:
    for section, table in data.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"{source}: unknown section [{section}]; valid sections: {', '.join(_SECTIONS)}"
            )
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: [{section}] must be a table of settings")
        known = [f.name for f in dataclasses.fields(_SECTIONS[section])]
        for key, value in table.items():
            if key not in known:
                raise ConfigError(
                    f"{source}: unknown key {section}.{key}; valid keys in [{section}]: "
                    + ", ".join(known)
                )
            values[section][key] = value
            origins[f"{section}.{key}"] = source


def _build(values: dict[str, dict[str, Any]], origins: dict[str, str]) -> Config:
    sections = {}
    for section, cls in _SECTIONS.items():
        hints = typing.get_type_hints(cls)
        typed = {}
        for key, value in values[section].items():
            name = f"{section}.{key}"
            _check_type(name, value, hints[key], origins)
            typed[key] = (
                _number(name, value, hints[key], origins) if name in NUMBER_RANGES else value
            )
        sections[section] = cls(**typed)
    config = Config(**sections)
    _validate(config, origins)
    return config


def _check_type(name: str, value: Any, expected: Any, origins: Mapping[str, str]) -> None:
    if expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        label = "a number"
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        label = "an integer"
    elif expected is bool:
        ok = isinstance(value, bool)
        label = "true or false"
    elif expected is str:
        ok = isinstance(value, str)
        label = "a string"
    else:  # list[str]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        label = "a list of strings"
    if not ok:
        raise ConfigError(f"{origins.get(name, 'default')}: {name} must be {label}, got {value!r}")
    if name in _PATHS:
        return  # a folder named in another encoding is still a folder (the sidecar keeps it)
    for text in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
        if not _is_utf8(text):  # bytes of another encoding in --set: no text to read or match
            raise ConfigError(
                f"{origins.get(name, 'default')}: {name} must be UTF-8 text, got "
                f"'{display_name(text)}'"
            )


#: settings that name a file system path: any bytes the file system allows
_PATHS = frozenset({"summarizer.model", "translator.model"})


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number(name: str, value: float, expected: Any, origins: Mapping[str, str]) -> float:
    """``value`` in its range (see NUMBER_RANGES), as the type of its setting: a float setting
    holds a float, however it was written (``1`` is ``1.0``), so every reader (the settings
    identity above all) sees one value. An integer too large for a float is out of range."""
    low, high = NUMBER_RANGES[name]
    if isinstance(value, float) and not math.isfinite(value):
        _fail(origins, name, f"must be a finite number, got {value!r}")
    if not low <= value <= high:  # exact for an int of any size, which float() could not hold
        _fail(origins, name, _out_of_range(name, _shown(value)))
    return float(value) if expected is float else value


def _shown(value: float) -> str:
    """A number as an error message shows it: a long integer by its number of digits."""
    if isinstance(value, float) or abs(value) < 10**18:
        return repr(value)
    # Not str(): it refuses beyond 4300 digits. log10 may round either way by a power of ten.
    digits = int(math.log10(abs(value))) + 1
    digits += (10**digits <= abs(value)) - (10 ** (digits - 1) > abs(value))
    return f"{'a negative' if value < 0 else 'a'} number of {digits} digits"


def _out_of_range(name: str, shown: str) -> str:
    low, high = NUMBER_RANGES[name]
    return f"must be at least {low} and at most {high}, got {shown}"


def _fail(origins: Mapping[str, str], name: str, reason: str) -> typing.NoReturn:
    where = f"{origins[name]}: " if name in origins else ""
    raise ConfigError(f"{where}{name}: {reason}")


def _validate(config: Config, origins: Mapping[str, str]) -> None:
    def fail(name: str, reason: str) -> typing.NoReturn:
        _fail(origins, name, reason)

    for section in ("summarizer", "translator"):
        settings = getattr(config, section)
        if not settings.model.strip():
            fail(f"{section}.model", "must name a hub model id or a local directory")
        if settings.backend not in (AUTO, *BACKENDS):
            choices = ", ".join((AUTO, *BACKENDS))
            fail(f"{section}.backend", f"{settings.backend!r} is not a backend; choose {choices}")
        if settings.prompt.count(TEXT_FIELD) != 1:
            fail(
                f"{section}.prompt",
                f"must contain {TEXT_FIELD} once, where the text goes (it has "
                f"{settings.prompt.count(TEXT_FIELD)})",
            )
        if settings.quantization not in QUANTIZATIONS:
            choices = ", ".join(QUANTIZATIONS)
            fail(
                f"{section}.quantization",
                f"{settings.quantization!r} is not valid; choose one of: {choices}",
            )
    summ = config.summarizer
    if not 0 <= summ.min_length <= summ.max_length:
        fail("summarizer.min_length", f"must be between 0 and max_length ({summ.max_length})")
    if summ.max_length >= summ.max_input_tokens:
        # Otherwise map-reduce could not shrink the joined chunk summaries.
        fail("summarizer.max_length", "must be smaller than summarizer.max_input_tokens")

    run = config.runtime
    if not _DEVICE_RE.fullmatch(run.device):
        fail(
            "runtime.device", f"{run.device!r} is not valid; choose auto, cpu, cuda, cuda:N or mps"
        )
    if run.dtype not in DTYPES:
        fail("runtime.dtype", f"{run.dtype!r} is not valid; choose one of: {', '.join(DTYPES)}")

    if not config.input.globs:
        fail("input.globs", "needs at least one pattern, e.g. ['*.txt']")
    if config.input.language_check not in LANGUAGE_CHECKS:
        fail(
            "input.language_check",
            f"{config.input.language_check!r} is not valid; choose one of: "
            + ", ".join(LANGUAGE_CHECKS),
        )

    guards = config.guards
    if any(check not in GUARD_CHECKS for check in guards.checks):
        fail("guards.checks", f"must list only checks among: {', '.join(GUARD_CHECKS)}")
    if guards.min_length_ratio > guards.max_length_ratio:
        fail("guards.min_length_ratio", "must not be above guards.max_length_ratio")

    out = config.output
    names: dict[str, str] = {}
    for key, template in config.templates.items():
        problem = template_problem(template)
        if problem is not None:
            fail(key, problem)
        if template in names:
            fail(key, f"same file name template as {names[template]}")
        names[template] = key
    _check_globs(config, fail)
    bad = [t for t in out.translate if t not in TRANSLATABLE]
    if bad or len(set(out.translate)) != len(out.translate):
        fail("output.translate", f"must list each of {', '.join(TRANSLATABLE)} at most once")
    if "summary" in out.translate and not out.summarize:
        fail("output.translate", "'summary' needs output.summarize = true")
    if not out.summarize and not out.translate:
        fail("output.summarize", "nothing to do: no summary and no translation asked for")


def _check_globs(config: Config, fail: typing.Callable[[str, str], Any]) -> None:
    """Refuse a template that would make every file of an input glob look like an output."""
    for key, template in config.templates.items():
        pattern = re.compile(template_regex(template))
        for glob in config.input.globs:
            sample = sample_name(glob)
            if sample is not None and pattern.fullmatch(sample):
                fail(
                    key,
                    f"{template!r} names every file input.globs {glob!r} selects (e.g. "
                    f"{sample!r}) as an output, so no such file could be an input",
                )
