"""The run: plan what is out of date, load the engines it needs, and hand it to a runner."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from summarize.backends import Backend, load_backend
from summarize.config import (
    Config,
    SummarizerSettings,
    TranslatorSettings,
)
from summarize.discovery import Skipped
from summarize.errors import UsageError
from summarize.planning import Planned, plan
from summarize.progress import Progress
from summarize.report import Report
from summarize.runners.local import run_local

__all__ = ["Models", "Planned", "Progress", "load_models", "plan", "run"]

log = logging.getLogger(__name__)
#: shown by default when stderr is a log file (see cli._setup_logging)
progress_log = logging.getLogger("summarize.progress")


@dataclass(frozen=True)
class Models:
    """The loaded engines; None for a stage the configuration does not need."""

    summarizer: Backend | None
    translator: Backend | None


def run(
    config: Config,
    paths: Sequence[str],
    *,
    force: bool = False,
    output_dir: Path | None = None,
    fail_fast: bool = False,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    models: Models | None = None,
    report: Report | None = None,
    exclude: Sequence[Path] = (),
) -> Report:
    """Process every article under ``paths`` that is not up to date; never raises per article.

    ``models`` are engines loaded earlier with :func:`load_models` (to reuse them across runs);
    by default they are loaded here, and only when some article needs them. ``report`` may come
    with a sink that records results as they happen. Raises ConfigError, UsageError or
    ModelError before any article is touched. On KeyboardInterrupt (SIGINT, or SIGTERM and
    SIGHUP turned into :class:`~summarize.errors.Interrupted`), also while loading the models,
    it stops between two steps, leaves no partial file and no claim, and returns the report
    with the articles not done. With ``fail_fast`` no article starts a step after a failure.
    Files in ``exclude`` (the run's own report) are never inputs; paths that discovery leaves
    out are reported as skipped. The articles go through the local runner (the only one yet).
    """
    if models is not None:
        models = _needed(models, config)
    left_out: list[Skipped] = []
    planned = plan(
        config, paths, force=force, output_dir=output_dir, exclude=exclude, skipped=left_out
    )
    return run_local(
        config,
        planned,
        left_out,
        load=functools.partial(_given_or_loaded, models, config),
        force=force,
        fail_fast=fail_fast,
        stdin=stdin,
        progress=progress,
        report=report,
    )


def _given_or_loaded(models: Models | None, config: Config) -> Models:
    return models or load_models(config)


def _needed(models: Models, config: Config) -> Models:
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
    _check_models(config)
    started = time.perf_counter()
    progress_log.info("loading models")
    summarizer = translator = None
    if config.needs_summarizer:
        summarizer = _load_engine("summarizer", config.summarizer, config)
        _check_summary_limits(summarizer, config.summarizer)
    if config.needs_translator:
        translator = _load_engine("translator", config.translator, config)
        _check_prefix(translator, config.translator.source_prefix)
    progress_log.info("models loaded in %.1f s", time.perf_counter() - started)
    return Models(summarizer, translator)


def _check_models(config: Config) -> None:
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
        from summarize.backends.hf import check_models_available

        check_models_available(wanted)


def _load_engine(
    role: str, settings: SummarizerSettings | TranslatorSettings, config: Config
) -> Backend:
    return load_backend(
        settings.backend,
        settings.model,
        settings.revision,
        config.runtime,
        role=role,
        quantization=settings.quantization,
    )


def _check_prefix(translator: Backend, prefix: str) -> None:
    if not prefix:
        return
    with_prefix, without = translator.count_tokens([prefix, ""])
    if with_prefix - without != 1:
        log.warning(
            "translator.source_prefix %r is not one token of %s's vocabulary; "
            "is it the target-language token this model expects?",
            prefix,
            translator.model_id,
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
