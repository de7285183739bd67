"""The engines a configuration needs: their load specs, loading them, the checks at load time."""

from __future__ import annotations

import logging
import os
import stat as statmod
import time
from dataclasses import dataclass
from pathlib import Path

from summarize.backends import MODEL_FREE, Backend, LoadSpec, load_backend
from summarize.cores import engine_threads
from summarize.discovery import display_name
from summarize.errors import ConfigError, ModelError, UsageError
from summarize.families import AUTO, auto_backend
from summarize.settings import Config, SummarizerSettings, TranslatorSettings
from summarize.stages import summarize as summary_stage
from summarize.stages import translate as translation_stage

__all__ = ["Models", "check_models", "load_engine", "load_models", "load_spec", "needed_models"]

log = logging.getLogger(__name__)
#: the fewest tokens of text an input may hold beside what every input carries (a prompt)
_LEAST_TEXT = 8
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
    not yet in the cache: loading is about to download the model anyway. ``runtime.threads =
    0`` is resolved to this process's share of the cores (summarize.cores), so every backend
    with a model gets a positive count; the engines without one use no threads, and neither
    take a share nor count as a process running engines.
    """
    settings: SummarizerSettings | TranslatorSettings = getattr(config, role)
    backend, threads = settings.backend, config.runtime.threads
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
        threads=threads if backend in MODEL_FREE else engine_threads(threads),
        quantization=settings.quantization,
        source_prefix=settings.source_prefix,
        source_language=getattr(settings, "source_language", AUTO),
        target_language=getattr(settings, "target_language", AUTO),
        prompt=settings.prompt,
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
        translator = _shared(summarizer, config) or load_engine("translator", config)
    status_log.info("models loaded in %.1f s", time.perf_counter() - started)
    return Models(summarizer, translator)


def load_engine(role: str, config: Config) -> Backend:
    """Load the engine of one ``role`` (summarizer or translator), with its load-time checks:
    a runner that loads each engine in its own process (one per Ray actor) calls this."""
    return _checked(role, config, load_backend(load_spec(role, config)))


def _shared(summarizer: Backend | None, config: Config) -> Backend | None:
    """The summarizer's engine for the translator too, where both roles name one instruction
    model on one engine: its weights (the most memory a run takes) are loaded once, and each
    role is asked its own way. Only an instruction model's engine can (``for_role``)."""
    s, t = config.summarizer, config.translator
    if (s.model, s.revision, s.backend, s.quantization) != (
        t.model,
        t.revision,
        t.backend,
        t.quantization,
    ):
        return None
    for_role = getattr(summarizer, "for_role", None)
    engine: Backend | None = None if for_role is None else for_role(load_spec("translator", config))
    if engine is None:
        return None
    log.info("translator: the summarizer's %s, loaded once for both roles", engine.model_id)
    return _checked("translator", config, engine)


def _checked(role: str, config: Config, engine: Backend) -> Backend:
    """``engine`` for ``role``, after the checks at load time (the budgets it leaves)."""
    if role == "summarizer":
        budget = summary_stage.input_limit(engine, config.summarizer)
        _check_room_for_text(engine, role, config.summarizer.max_input_tokens, budget)
        _check_summary_limits(engine, config.summarizer)
    else:
        budget = translation_stage.input_limit(engine, config.translator)
        _check_room_for_text(engine, role, config.translator.max_input_tokens, budget)
    return engine


def check_models(config: Config) -> None:
    """Every model is local or in the cache, or the hub answers: else one error naming all."""
    wanted = [
        (role, settings.model, settings.revision)
        for role, settings, needed in (
            ("summarizer", config.summarizer, config.needs_summarizer),
            ("translator", config.translator, config.needs_translator),
        )
        if needed and settings.backend not in MODEL_FREE
    ]
    if wanted:
        from summarize.backends.huggingface import check_models_available

        check_models_available(wanted)
    for role, model, _ in wanted:
        special = _special_file(model)
        if special is not None:
            raise ModelError(
                f"{role}.model: {display_name(special)}: not a regular file (a FIFO or a "
                "device), which loading the model would wait on or read for ever; put the "
                "model's file there"
            )


def _special_file(model: str) -> str | None:
    """The first file of a local model folder that is not a regular file or folder, if any:
    the engines' readers (transformers, CTranslate2) open the model's files as they are."""
    directory = Path(model).expanduser()
    if not directory.is_dir():
        return None  # a hub model: its cache holds the files as downloaded
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        try:
            mode = os.stat(path).st_mode  # through symlinks, as the readers go
        except OSError:
            continue  # a dangling link: loading says what is missing
        if not (statmod.S_ISREG(mode) or statmod.S_ISDIR(mode)):
            return path
    return None


def _check_room_for_text(engine: Backend, role: str, setting: int, budget: int) -> None:
    """An instruction model's prompt counts against the input ``budget`` (what the stage
    gives each input, from the ``setting`` and the model's limits): one that leaves almost no
    room would have every input cut into pieces of a few tokens, so it is refused."""
    (carried,) = engine.count_tokens([""])
    if budget - carried < _LEAST_TEXT:
        raise ConfigError(
            f"{role}.max_input_tokens = {setting}: every input to "
            f"{engine.model_id} takes {carried} tokens before its text (the prompt, through the "
            f"chat template), which leaves {max(0, budget - carried)} of the {budget} for the "
            f"text; raise {role}.max_input_tokens (at least {carried + _LEAST_TEXT}) or shorten "
            f"{role}.prompt"
        )


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
