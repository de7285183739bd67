"""The settings' one identity: what makes an article out of date, and what names a server.

Built from the typed settings (a float setting holds a float however it was written, see
summarize.config), never from how they were spelt: lists whose order means nothing are put in
one order, and a local model directory counts by its content. Two configurations that ask for
the same thing have the same identity. Only light standard-library modules are imported here:
a run with nothing to do computes it, and must not import a model library.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from summarize.backends import MODEL_FREE
from summarize.families import resolve_backend
from summarize.model_identity import model_identity
from summarize.settings import GUARD_CHECKS, TRANSLATABLE, Config
from summarize.version import __version__

__all__ = ["ORDER_FREE", "Identity", "canonical_settings", "settings_identity"]

#: the list settings that are sets (their order and repeats mean nothing), each with the order
#: its items take in the identity (the declared one; items not declared come after, sorted)
ORDER_FREE: dict[str, tuple[str, ...]] = {
    "guards.checks": GUARD_CHECKS,
    "output.translate": TRANSLATABLE,
    "input.globs": (),
    "input.exclude": (),
}


@dataclass(frozen=True)
class Identity:
    """The identity of one configuration, in two extents.

    ``outputs``: every setting that changes what is written for an article (the models by
    content, their revisions, engines, decoding, guards, cleanup, the outputs asked for) and
    the tool version, as readable text: the sidecar's ``signature``; an article recorded under
    another one is out of date. Device, dtype, batching and file names change no text, so they
    are left out.

    ``server``: a digest of every setting, those left out of ``outputs`` too (a server writes
    at its own output names, on its own device): it names the warm server's socket, so only a
    caller with the very same settings reaches it.
    """

    outputs: str
    server: str


def settings_identity(config: Config) -> Identity:
    """The identity of ``config`` (reads local model directories, through the digest cache)."""
    tables = canonical_settings(config)
    outputs = _outputs_text(tables)
    text = json.dumps({"outputs": outputs, "settings": tables}, sort_keys=True, ensure_ascii=True)
    return Identity(outputs, hashlib.sha256(text.encode("ascii")).hexdigest())


def canonical_settings(config: Config) -> dict[str, dict[str, Any]]:
    """Every setting by section, with the order-free lists in their one order."""
    tables = dataclasses.asdict(config)
    for name, declared in ORDER_FREE.items():
        section, key = name.split(".")
        tables[section][key] = _in_order(tables[section][key], declared)
    return tables


def _in_order(items: list[str], declared: tuple[str, ...]) -> list[str]:
    rank = {item: i for i, item in enumerate(declared)}
    return sorted(set(items), key=lambda item: (rank.get(item, len(rank)), item))


def _outputs_text(tables: dict[str, dict[str, Any]]) -> str:
    pairs: list[tuple[str, Any]] = [("summarize", __version__)]
    for section in ("summarizer", "translator"):
        values = dict(tables[section])
        # The engine "auto" stands for here: switching engines redoes the articles.
        device = tables["runtime"]["device"]
        values["backend"] = resolve_backend(
            values["backend"], values["model"], values["revision"], device
        )
        if values["backend"] != "ctranslate2":
            del values["quantization"]  # it changes the numbers only where an engine applies it
        pairs += [(f"{section}.{k}", v) for k, v in _model_named(values).items()]
    pairs += [(f"guards.{k}", v) for k, v in tables["guards"].items()]
    pairs.append(("input.cleanup", tables["input"]["cleanup"]))
    pairs.append(("output.summarize", tables["output"]["summarize"]))
    # Joined, as earlier versions wrote it: their sidecars with these settings stay up to date.
    pairs.append(("output.translate", ",".join(tables["output"]["translate"])))
    return "|".join(f"{name}={_text(value)}" for name, value in pairs)


def _text(value: Any) -> str:
    """A value in the readable form: as Python prints it, except a string that could be read
    as another field (holding ``|``), or taken for a quoted one, is quoted and escaped."""
    if isinstance(value, str) and (not value.isprintable() or any(c in value for c in '|"\\')):
        return json.dumps(value, ensure_ascii=True)
    return str(value)


def _model_named(values: dict[str, Any]) -> dict[str, Any]:
    """A local model directory by its content: new weights under one path are another model,
    and two paths to one directory the same. A hub id stays id and revision."""
    if values["backend"] in MODEL_FREE:
        return values  # an engine that loads nothing
    identity = model_identity(values["model"])
    if identity is None:
        return values
    # Loaders ignore the revision of a local directory.
    return {**values, "model": identity, "revision": "local"}
