"""Settings: frozen dataclasses, TOML loading (defaults < file < --set), validation, signature()."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import string
import sys
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.backends import BACKENDS
from summarize.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "Config",
    "EvalSettings",
    "InputSettings",
    "OutputSettings",
    "RuntimeSettings",
    "SummarizerSettings",
    "TranslatorSettings",
    "load_config",
    "load_config_with_origins",
    "signature",
    "template_regex",
    "to_toml",
]

DTYPES = ("auto", "float32", "float16", "bfloat16")
# CTranslate2 compute types; "auto" is int8 on the CPU and float16 on CUDA.
QUANTIZATIONS = (
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)
TRANSLATABLE = ("summary", "article")
LANGUAGE_CHECKS = ("warn", "refuse", "off")
#: the allowed range of every numeric setting: a value outside it is a mistake (or would
#: overflow a library), never a wish; the cross-key rules come after, in _validate.
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
    "runtime.batch_tokens": (1, 100_000_000),
    "runtime.threads": (0, 4096),
    "runtime.wave_size": (1, 1_000_000),
    "runtime.claim_timeout": (1, 100 * 365 * 24 * 3600),
    # Standard input is read into one buffer of this size.
    "input.max_bytes": (1, 1_000_000_000),
}
_DEVICE_RE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
_TEMPLATE_FIELDS = ("summary", "summary_ar", "article_ar", "sidecar")
#: The fields a file name template may use: the input's name without, and with, its extension.
NAME_FIELDS = ("stem", "name")


@dataclass(frozen=True)
class SummarizerSettings:
    model: str = "sshleifer/distilbart-cnn-12-6"
    revision: str = "main"
    backend: str = "transformers"
    max_input_tokens: int = 1024
    num_beams: int = 4
    min_length: int = 56
    max_length: int = 142
    no_repeat_ngram_size: int = 3
    length_penalty: float = 2.0
    # Only the ctranslate2 backend quantizes; the others ignore this.
    quantization: str = "auto"


@dataclass(frozen=True)
class TranslatorSettings:
    model: str = "Helsinki-NLP/opus-mt-en-ar"
    revision: str = "main"
    backend: str = "transformers"
    source_prefix: str = ">>ara<<"
    # Well below Marian's 512 positions: OPUS-MT models are trained on sentence pairs and
    # start dropping sentences when fed long multi-sentence segments.
    max_input_tokens: int = 256
    num_beams: int = 4
    max_length_ratio: float = 2.0
    max_length_extra: int = 16
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0
    quantization: str = "auto"


@dataclass(frozen=True)
class RuntimeSettings:
    device: str = "auto"
    dtype: str = "auto"
    batch_tokens: int = 8192
    threads: int = 0
    wave_size: int = 16
    # Seconds without a refresh after which another host's (or an unreadable) claim on an
    # article counts as abandoned (claims of this host are checked by their file lock).
    claim_timeout: int = 3600


@dataclass(frozen=True)
class InputSettings:
    globs: list[str] = field(default_factory=lambda: ["*.txt", "*.md"])
    exclude: list[str] = field(default_factory=list)
    cleanup: bool = True
    max_bytes: int = 10_000_000
    language_check: str = "warn"


@dataclass(frozen=True)
class OutputSettings:
    summary: str = "{stem}.summary.txt"
    summary_ar: str = "{stem}.summary.ar.txt"
    article_ar: str = "{stem}.ar.txt"
    sidecar: str = "{stem}.summarize.json"
    summarize: bool = True
    translate: list[str] = field(default_factory=lambda: list(TRANSLATABLE))


@dataclass(frozen=True)
class EvalSettings:
    """Where ``summarize eval`` finds human references, next to each article."""

    summary_reference: str = "{stem}.ref.summary.txt"
    summary_ar_reference: str = "{stem}.ref.summary.ar.txt"
    article_ar_reference: str = "{stem}.ref.ar.txt"


@dataclass(frozen=True)
class Config:
    summarizer: SummarizerSettings = field(default_factory=SummarizerSettings)
    translator: TranslatorSettings = field(default_factory=TranslatorSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    input: InputSettings = field(default_factory=InputSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)

    @property
    def reserved_names(self) -> tuple[str, ...]:
        """File name templates that are never inputs: the outputs and the references."""
        out, ref = self.output, self.eval
        return (
            out.summary, out.summary_ar, out.article_ar, out.sidecar,
            ref.summary_reference, ref.summary_ar_reference, ref.article_ar_reference,
        )  # fmt: skip

    @property
    def templates(self) -> dict[str, str]:
        """Every file name template, by its ``section.key``."""
        named = {f"output.{key}": getattr(self.output, key) for key in _TEMPLATE_FIELDS}
        named |= {
            f"eval.{f.name}": getattr(self.eval, f.name) for f in dataclasses.fields(self.eval)
        }
        return named

    @property
    def needs_summarizer(self) -> bool:
        return self.output.summarize

    @property
    def needs_translator(self) -> bool:
        return bool(self.output.translate)


_SECTIONS: dict[str, type[Any]] = typing.get_type_hints(Config)


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
        _merge(values, origins, _read_toml(path), str(path))
    for item in overrides:
        section, key, value = _parse_override(item)
        _merge(values, origins, {section: {key: value}}, "--set")
    return _build(values, origins), origins


def to_toml(config: Config, origins: Mapping[str, str] | None = None) -> str:
    """The configuration as a TOML document; with ``origins``, each line says where it came from."""
    lines: list[str] = []
    for section, table in as_dict(config).items():
        lines.append(f"[{section}]")
        rows = [
            (f"{key} = {_toml_value(value)}", f"{section}.{key}") for key, value in table.items()
        ]
        width = max(len(row) for row, _ in rows)
        for row, name in rows:
            origin = f"  # {origins.get(name, 'default')}" if origins is not None else ""
            lines.append(f"{row:<{width}}{origin}".rstrip())
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # JSON strings and lists of strings are valid TOML, escapes included.
    return json.dumps(value, ensure_ascii=False)


def signature(config: Config) -> str:
    """A readable string of every setting that changes the outputs, plus the tool version.

    Two runs whose signatures differ may produce different text, so an article written under one
    is out of date under the other. Device, dtype and batching are recorded in the sidecar but
    left out here: they change speed, not what the models are asked to do.
    """
    from summarize import __version__

    parts = [f"summarize={__version__}"]
    for section in ("summarizer", "translator"):
        settings = getattr(config, section)
        values = dataclasses.asdict(settings)
        if settings.backend != "ctranslate2":
            del values["quantization"]  # it changes the numbers only where an engine applies it
        parts += [f"{section}.{k}={v}" for k, v in _model_named(values).items()]
    parts.append(f"input.cleanup={config.input.cleanup}")
    parts.append(f"output.summarize={config.output.summarize}")
    parts.append(f"output.translate={','.join(config.output.translate)}")
    return "|".join(parts)


def _model_named(values: dict[str, Any]) -> dict[str, Any]:
    """A local model directory by its content: new weights under one path are another model,
    and two paths to one directory the same. A hub id stays id and revision."""
    if values["backend"] == "echo":
        return values  # the echo engine loads nothing
    from summarize.model_identity import model_identity

    identity = model_identity(values["model"])
    if identity is None:
        return values
    # Loaders ignore the revision of a local directory.
    return {**values, "model": identity, "revision": "local"}


def as_dict(config: Config) -> dict[str, dict[str, Any]]:
    """The configuration as plain TOML-like tables (for the sidecar)."""
    return dataclasses.asdict(config)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8; e.g. a UTF-16 file from an editor
        byte = exc.object[exc.start]
        raise ConfigError(
            f"{path}: not valid TOML: not UTF-8 text (byte {exc.start} is {byte:#04x}); "
            "save the file as UTF-8"
        ) from None


def _parse_override(item: str) -> tuple[str, str, Any]:
    name, sep, raw = item.partition("=")
    name = name.strip()
    if not sep or "." not in name:
        raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. runtime.device=cpu")
    section, key = name.split(".", 1)
    if _declared_type(section, key) is str:
        # Taken verbatim: "1.0" is a revision, "true" a prefix, not a number or a boolean.
        return section, key, _unquoted(raw.strip())
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # then the type check names the key and the type it wants
    return section, key, value


def _declared_type(section: str, key: str) -> Any:
    """The type of ``section.key``, or None when there is no such key (_merge reports it)."""
    cls = _SECTIONS.get(section)
    return None if cls is None else typing.get_type_hints(cls).get(key)


def _unquoted(raw: str) -> str:
    """A TOML string literal (``"x"``, ``'x'``, ``""``) gives its text; anything else is raw."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            return raw
        if isinstance(value, str):
            return value
    return raw


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
        for key, value in values[section].items():
            _check_type(f"{section}.{key}", value, hints[key], origins)
        sections[section] = cls(**values[section])
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


def _validate(config: Config, origins: Mapping[str, str]) -> None:
    def fail(name: str, reason: str) -> typing.NoReturn:
        where = f"{origins[name]}: " if name in origins else ""
        raise ConfigError(f"{where}{name}: {reason}")

    _check_numbers(config, fail)
    for section in ("summarizer", "translator"):
        settings = getattr(config, section)
        if not settings.model.strip():
            fail(f"{section}.model", "must name a hub model id or a local directory")
        if settings.backend not in BACKENDS:
            fail(
                f"{section}.backend",
                f"{settings.backend!r} is not a backend; choose one of: {', '.join(BACKENDS)}",
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

    out = config.output
    names: dict[str, str] = {}
    for key, template in config.templates.items():
        _check_template(key, template, fail)
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


def _check_numbers(config: Config, fail: typing.Callable[[str, str], Any]) -> None:
    """Every number in every section is finite and in its range (see NUMBER_RANGES)."""
    for section, table in as_dict(config).items():
        for key, value in table.items():
            name = f"{section}.{key}"
            if name not in NUMBER_RANGES:
                continue
            low, high = NUMBER_RANGES[name]
            if not math.isfinite(value):
                fail(name, f"must be a finite number, got {value!r}")
            if not low <= value <= high:
                fail(name, f"must be at least {low} and at most {high}, got {value!r}")


def _check_template(name: str, template: str, fail: typing.Callable[[str, str], Any]) -> None:
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template)]
    except ValueError as exc:
        fail(name, f"{template!r} is not a valid template ({exc}); write {{{{ and }}}} for braces")
    used = [(f, spec, conv) for f, spec, conv in fields if f is not None]
    # Exactly {stem} or {name}: a format spec or an index could cut two names down to one.
    if not used or any(f not in NAME_FIELDS or spec or conv for f, spec, conv in used):
        fail(
            name,
            f"{template!r} must contain {{stem}} (the input's name without its extension) or "
            "{name} (with it), and no other {...} field; write {{ and }} for literal braces",
        )
    if "/" in template or "\\" in template or ".." in template:
        fail(name, f"{template!r} must be a plain file name: no path separators or '..'")
    if template.startswith("."):
        # Hidden names belong to the tool's lock and temporary files, and are never inputs.
        fail(name, f"{template!r} must not start with '.'")


def _check_globs(config: Config, fail: typing.Callable[[str, str], Any]) -> None:
    """Refuse a template that would make every file of an input glob look like an output."""
    for key, template in config.templates.items():
        pattern = re.compile(template_regex(template))
        for glob in config.input.globs:
            sample = _sample_name(glob)
            if sample is not None and pattern.fullmatch(sample):
                fail(
                    key,
                    f"{template!r} names every file input.globs {glob!r} selects (e.g. "
                    f"{sample!r}) as an output, so no such file could be an input",
                )


def _sample_name(glob: str) -> str | None:
    """A typical name ``glob`` selects; None when character sets make one hard to pick."""
    if "[" in glob:
        return None
    return glob.replace("*", "article").replace("?", "a")


def template_regex(template: str) -> str:
    """A regular expression for every file name ``template`` can produce."""
    return "".join(
        re.escape(literal) + (".+" if field is not None else "")
        for literal, field, _, _ in string.Formatter().parse(template)
    )
