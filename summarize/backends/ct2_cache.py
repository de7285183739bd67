"""The CTranslate2 conversion cache: each model converted once, keyed by content; list, prune."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarize import jsontext
from summarize.backends.huggingface import first_line, load_advice
from summarize.errors import ModelError
from summarize.families import CT2_CONVERTS
from summarize.model_identity import cache_root, model_identity

__all__ = ["Conversion", "converted_model", "list_conversions", "prune_conversions"]

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# What a conversion is of, written into its folder (CTranslate2 ignores other files).
_ABOUT = "summarize-conversion.json"
# An unfinished conversion untouched this long was killed: nothing writes to it any more.
_PARTIAL_GRACE = 3600.0


def converted_model(model_id: str, revision: str, quantization: str, *, role: str) -> Path:
    """The CTranslate2 conversion of ``model_id``, converted now unless already in the cache."""
    import ctranslate2

    local = model_identity(model_id)  # by content: a copy elsewhere reuses the conversion
    if local is not None:
        config_dir, pinned = Path(model_id).expanduser(), revision
        source = local
    else:
        config_dir = _hub_snapshot(model_id, revision, role)
        pinned = config_dir.name
        source = f"hub:{model_id}@{pinned}"
    # The model format is stable within a CTranslate2 major version.
    major = ctranslate2.__version__.split(".")[0]
    key = f"{source}\n{quantization}\nctranslate2-{major}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    name = config_dir.name if local is not None else model_id
    target = cache_root() / "ct2" / f"{_UNSAFE.sub('_', name.replace('/', '--'))}-{digest}"
    if ctranslate2.contains_model(str(target)):
        log.info("%s: using the CTranslate2 conversion in %s", role, target)
        _mark_used(target)
        return target
    about = {"model": model_id, "revision": pinned, "quantization": quantization}
    _convert(model_id, pinned, config_dir, quantization, target, role, about)
    return target


def _convert(
    model_id: str,
    revision: str,
    config_dir: Path,
    quantization: str,
    target: Path,
    role: str,
    about: dict[str, str],
) -> None:
    import ctranslate2
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    log.info(
        "%s: converting %s@%s to CTranslate2 (%s) in %s",
        role,
        model_id,
        revision,
        quantization,
        target,
    )
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Converted beside the target and renamed into place in one step, so that an interrupted
    # conversion never leaves a half model that a later run would take for a whole one.
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    )
    try:
        converter = _converter(model_id, revision, config_dir)
        converter.convert(str(staging / "model"), quantization=quantization)
        (staging / "model" / _ABOUT).write_text(json.dumps(about, indent=1), encoding="utf-8")
        if target.exists() and not ctranslate2.contains_model(str(target)):
            # Not a whole model, nor one being written (renames are atomic): debris to replace.
            shutil.rmtree(target)
        try:
            os.replace(staging / "model", target)
        except OSError:
            if not ctranslate2.contains_model(str(target)):
                raise
            log.info("%s: another run converted %s first; using its copy", role, model_id)
    except Exception as exc:  # the converter raises ValueError, OSError, hub errors...
        raise ModelError(
            f"{role}.model: cannot convert {model_id!r} to CTranslate2 ({first_line(exc)}); "
            f"CTranslate2 converts {', '.join(sorted(CT2_CONVERTS))} models; else set "
            f"{role}.backend = 'transformers'"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%s: converted in %.1f s", role, time.perf_counter() - started)


def _converter(model_id: str, revision: str, config_dir: Path) -> Any:
    """A TransformersConverter that reads the model, its config and tokenizer at ``revision``.

    The stock converter reads config.json and the tokenizer (whose vocabulary becomes the
    converted model's) at the default branch, which fails offline for a pinned commit and can
    mismatch the weights. So it is given the folder holding the right config.json (the hub
    snapshot of that commit), and the weights and tokenizer are loaded by id and revision.
    """
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):  # type: ignore[misc]
        def load_model(self, model_class: Any, name: str, **kwargs: Any) -> Any:
            model = super().load_model(model_class, model_id, revision=revision, **kwargs)
            # transformers 5 dropped normalize_before from the BART, mBART and PEGASUS
            # configs, which the ctranslate2 4.x loaders still read: BART is post-norm, the
            # other two pre-norm.
            if not hasattr(model.config, "normalize_before"):
                model.config.normalize_before = model.config.model_type in {"mbart", "pegasus"}
            return model

        def load_tokenizer(self, tokenizer_class: Any, name: str, **kwargs: Any) -> Any:
            return super().load_tokenizer(tokenizer_class, model_id, revision=revision, **kwargs)

    return Converter(str(config_dir))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = jsontext.read_file(path)
    except (OSError, jsontext.JsonError):  # missing or damaged: a memo, rebuilt as needed
        return {}
    return data if isinstance(data, dict) else {}


def _mark_used(target: Path) -> None:
    """Note the time of use, so that ``summarize cache prune`` keeps what is in use."""
    with contextlib.suppress(OSError):  # a read-only cache is still usable
        os.utime(target)


@dataclass(frozen=True)
class Conversion:
    """One folder of the CTranslate2 cache."""

    path: Path
    model: str
    quantization: str
    size: int
    #: seconds since the epoch of its last use (or of an unfinished conversion's last write)
    used: float
    #: left by a conversion that was killed (or is still running)
    partial: bool


def list_conversions() -> list[Conversion]:
    """The conversions in the cache and the debris of killed ones, least recently used first."""
    root = cache_root() / "ct2"
    if not root.is_dir():
        return []
    found = [_describe(entry) for entry in root.iterdir() if entry.is_dir()]
    return sorted(found, key=lambda c: c.used)


def prune_conversions(*, older_than_days: float | None) -> list[Conversion]:
    """Remove conversions unused for ``older_than_days`` (all when None) and stale debris.

    An unfinished conversion is removed once untouched for an hour, so a running one is left
    alone. Returns what was removed.
    """
    now = time.time()
    removed = []
    for conversion in list_conversions():
        idle = now - conversion.used
        limit = _PARTIAL_GRACE if conversion.partial else (older_than_days or 0) * 86400
        if idle >= limit:
            shutil.rmtree(conversion.path, ignore_errors=True)
            removed.append(conversion)
    return removed


def _describe(folder: Path) -> Conversion:
    about = _read_json(folder / _ABOUT)
    partial = folder.name.endswith(".partial")
    files = [p for p in folder.rglob("*") if p.is_file()]
    latest = max((p.stat().st_mtime for p in files), default=0.0) if partial else 0.0
    name = folder.name.removesuffix(".partial").lstrip(".")
    return Conversion(
        path=folder,
        model=str(about.get("model", name)),
        quantization=str(about.get("quantization", "?")),
        size=sum(p.stat().st_size for p in files),
        used=max(folder.stat().st_mtime, latest),
        partial=partial,
    )


def _hub_snapshot(model_id: str, revision: str, role: str) -> Path:
    """The cache folder of the commit ``revision`` points at, named by that commit."""
    from huggingface_hub import hf_hub_download

    try:
        config = Path(hf_hub_download(model_id, "config.json", revision=revision))
    except Exception as exc:  # hub and cache errors
        raise ModelError(load_advice(role, model_id, exc)) from exc
    return config.parent
