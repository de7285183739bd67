"""The engines a configuration needs: their load specs, loading them, the checks at load time."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from summarize.backends import Backend, LoadSpec, load_backend
from summarize.errors import UsageError
from summarize.families import AUTO, auto_backend
from summarize.settings import Config, SummarizerSettings, TranslatorSettings

__all__ = ["Models", "check_models", "load_engine", "load_models", "load_spec", "needed_models"]

log = logging.getLogger(__name__)
#: shown by default when stderr is a log file (see cli._setup_logging)
#: what a run is waiting for, shown unless -q (see cli._setup_logging)
status_log = logging.getLogger("summarize.progress.status")


@dataclass(frozen=True)
class Models:
    """The loaded engines; None for a stage the configuration does not need."""

    summarizer: Backend | None
    translator: Backend | None


def load_spec(role: str, config: Config) -> LoadSpec:
    """What the backend of ``role`` (summarizer or translator) loads, from ``config``.

    ``backend = "auto"`` is resolved from the model's config.json, fetched first where it is
    not yet in the cache: loading is about to download the model anyway.
    """
    settings: SummarizerSettings | TranslatorSettings = getattr(config, role)
    backend = settings.backend
    if backend == AUTO:
        backend, why = auto_backend(
            settings.model, settings.revision, config.runtime.device, fetch=True
        )
        log.info("%s.backend = auto: %s (%s)", role, backend, why)
    return LoadSpec(
        backend=backend,
        model=settings.model,
        role=role,
        revision=settings.revision,
        device=config.runtime.device,
        dtype=config.runtime.dtype,
        threads=config.runtime.threads,
        quantization=settings.quantization,
        source_prefix=settings.source_prefix,
        source_language=getattr(settings, "source_language", AUTO),
        target_language=getattr(settings, "target_language", AUTO),
    )


def needed_models(models: Models, config: Config) -> Models:
    """The engines of ``models`` that ``config`` uses; UsageError if one it needs is missing."""
    roles = (
        ("summarizer", config.needs_summarizer, models.summarizer, "output.summarize = true"),
        ("translator", config.needs_translator, models.translator, "output.translate"),
    )
    for role, needed, engine, why in roles:
        if needed and engine is None:
            raise UsageError(
                f"models.{role} is None, but the configuration needs a {role} ({why}); "
                "load the engines with load_models(config)"
            )
    return Models(
        models.summarizer if config.needs_summarizer else None,
        models.translator if config.needs_translator else None,
    )


def load_models(config: Config) -> Models:
    """Load the engines the configuration needs; raise ModelError with advice if one fails."""
    check_models(config)
    started = time.perf_counter()
    status_log.info("loading models")
    summarizer = translator = None
    if config.needs_summarizer:
        summarizer = load_engine("summarizer", config)
    if config.needs_translator:
        translator = load_engine("translator", config)
    status_log.info("models loaded in %.1f s", time.perf_counter() - started)
    return Models(summarizer, translator)


def load_engine(role: str, config: Config) -> Backend:
    """Load the engine of one ``role`` (summarizer or translator), with its load-time checks:
    a runner that loads each engine in its own process (one per Ray actor) calls this."""
    engine = load_backend(load_spec(role, config))
    if role == "summarizer":
        _check_summary_limits(engine, config.summarizer)
    return engine


def check_models(config: Config) -> None:
    """Every model is local or in the cache, or the hub answers: else one error naming all."""
    wanted = [
        (role, settings.model, settings.revision)
        for role, settings, needed in (
            ("summarizer", config.summarizer, config.needs_summarizer),
            ("translator", config.translator, config.needs_translator),
        )
        if needed and settings.backend != "echo"
    ]
    if wanted:
        from summarize.backends.huggingface import check_models_available

        check_models_available(wanted)


def _check_summary_limits(summarizer: Backend, settings: SummarizerSettings) -> None:
    """Say where the model's own limits override the configured ones (runs still work)."""
    if summarizer.max_input_tokens < settings.max_input_tokens:
        log.warning(
            "summarizer.max_input_tokens = %d, but %s reads at most %d tokens: using %d",
            settings.max_input_tokens,
            summarizer.model_id,
            summarizer.max_input_tokens,
            summarizer.max_input_tokens,
        )
    limit = min(settings.max_input_tokens, summarizer.max_input_tokens)
    if settings.max_length >= limit:
        log.warning(
            "summarizer.max_length = %d is not below the summarizer's input limit (%d tokens): "
            "chunk summaries of long articles get a share of that input instead",
            settings.max_length,
            limit,
        )
    if settings.max_length > summarizer.max_output_tokens:
        log.warning(
            "summarizer.max_length = %d, but %s generates at most %d tokens: using %d",
            settings.max_length,
            summarizer.model_id,
            summarizer.max_output_tokens,
            summarizer.max_output_tokens,
        )
