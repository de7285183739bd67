"""Fetch the configured models ahead of time, for machines that will run without network."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from summarize.backends import MODEL_FREE
from summarize.backends.huggingface import hub_offline
from summarize.engines import load_spec
from summarize.errors import ModelError
from summarize.families import resolve_backend
from summarize.settings import Config, SummarizerSettings, TranslatorSettings

__all__ = ["Fetched", "download_models", "fetch_from_hub"]

log = logging.getLogger(__name__)

#: (repo_id, revision, local_dir or None for the cache) -> the directory holding the files
Fetch = Callable[[str, str, "Path | None"], Path]

# Weights for other frameworks, which transformers with torch never reads.
_IGNORE = ["*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx/*", "*.tflite", "*.mlmodel", "coreml/*"]


@dataclass(frozen=True)
class Fetched:
    """One model made available locally."""

    role: str
    model: str
    revision: str
    path: Path
    #: the ``--set`` line that points a config at ``path`` (None when the cache serves it)
    setting: str | None


def fetch_from_hub(repo_id: str, revision: str, local_dir: Path | None) -> Path:
    """Download one model repository (PyTorch and tokenizer files only) at ``revision``."""
    from huggingface_hub import snapshot_download

    path = snapshot_download(
        repo_id, revision=revision, local_dir=local_dir, ignore_patterns=_IGNORE
    )
    return Path(str(path))


def download_models(
    config: Config, to: Path | None = None, *, fetch: Fetch = fetch_from_hub
) -> list[Fetched]:
    """Fetch every model the configuration uses into the Hugging Face cache, or under ``to``.

    Models that are already local directories, and the model-free engines (echo, demo), need
    nothing. Raises ModelError naming the model when a download fails.
    """
    if hub_offline():
        raise ModelError(
            "HF_HUB_OFFLINE is set, so nothing can be downloaded; unset it on a machine "
            "with network, download there, and copy the result over"
        )
    fetched = []
    for role, settings in _models(config):
        if settings.backend in MODEL_FREE or Path(settings.model).expanduser().is_dir():
            log.info("%s: %s needs no download", role, settings.model)
            continue
        target = to / _folder_name(settings.model, settings.revision) if to else None
        try:
            path = fetch(settings.model, settings.revision, target)
        except Exception as exc:  # hub errors come in many classes; each names the cause
            raise ModelError(
                f"{role}.model: cannot download {settings.model!r} at revision "
                f"{settings.revision!r}: {exc}"
            ) from exc
        setting = f"{role}.model={path}" if to else None
        fetched.append(Fetched(role, settings.model, settings.revision, path, setting))
        model = str(path) if to else settings.model
        # "auto" is known now that the model's config.json is here.
        engine = resolve_backend(settings.backend, model, settings.revision, config.runtime.device)
        if engine == "ctranslate2":
            _convert(role, model, config)
    return fetched


def _convert(role: str, model: str, config: Config) -> None:
    """Build the CTranslate2 conversion now, so the offline machine finds it in the cache."""
    from summarize.backends.ct2 import convert

    settings = getattr(config, role)
    revision = "main" if Path(model).is_dir() else settings.revision
    fetched = replace(settings, model=model, revision=revision)
    convert(load_spec(role, replace(config, **{role: fetched})))


def _models(config: Config) -> list[tuple[str, SummarizerSettings | TranslatorSettings]]:
    models: list[tuple[str, SummarizerSettings | TranslatorSettings]] = []
    if config.needs_summarizer:
        models.append(("summarizer", config.summarizer))
    if config.needs_translator:
        models.append(("translator", config.translator))
    return models


def _folder_name(model: str, revision: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "--", model)
    return name if revision == "main" else f"{name}@{re.sub(r'[^A-Za-z0-9._-]+', '-', revision)}"
