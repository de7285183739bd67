"""The local runner: articles in waves through the stages, under claims, stoppable at any step."""

from __future__ import annotations

import dataclasses
import logging
import signal
from collections.abc import Callable, Sequence
from typing import BinaryIO

from summarize.backends import Backend
from summarize.discovery import Skipped
from summarize.identity import settings_identity
from summarize.planning import Planned, no_cycle_collection
from summarize.progress import Progress
from summarize.records import Article, Stage, alive
from summarize.report import Report
from summarize.runners.bookkeeping import (
    FAIL_FAST,
    RunContext,
    Slot,
    articles_to_do,
    claim_article,
    failed_result,
    new_context,
    refresh_claims,
    release_claims,
    report_not_done,
    report_result,
)
from summarize.settings import Config
from summarize.stages import Engines
from summarize.stages.guard import guard
from summarize.stages.read import read_one
from summarize.stages.summarize import summarize
from summarize.stages.translate import translate
from summarize.stages.write import describe_engines, write

__all__ = ["run_local"]

log = logging.getLogger(__name__)


def run_local(
    config: Config,
    planned: list[Planned],
    left_out: Sequence[Skipped] = (),
    *,
    load: Callable[[], Engines],
    force: bool = False,
    fail_fast: bool = False,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    report: Report | None = None,
) -> Report:
    """Do the ``planned`` articles in waves of ``runtime.wave_size``; never raises per article.

    ``load`` gives the engines, called only once an article to be done has been read (a run
    whose articles all fail on reading loads no model). Each wave is
    claimed, read, summarized, translated and written, and its texts dropped once written. On
    KeyboardInterrupt (also while loading) it stops between two steps, leaves no partial file
    and no claim, and reports the articles not done. With ``fail_fast`` no article starts a step
    after a failure.
    """
    ctx = new_context(config, force, stdin, progress, report)
    with no_cycle_collection():
        pending = articles_to_do(planned, ctx, left_out, fail_fast=fail_fast)
    if not pending:
        return ctx.report
    size = config.runtime.wave_size
    waves = [pending[i : i + size] for i in range(0, len(pending), size)]
    engines = _Engines(load, ctx)
    try:
        ctx.progress.start(len(pending))
        for wave in waves:
            _run_wave(wave, engines, fail_fast=fail_fast)
            if fail_fast and ctx.report.failures:
                report_not_done(pending, ctx.report, FAIL_FAST)
                break
    except KeyboardInterrupt as exc:  # also while loading: all not done
        ctx.report.interrupted = getattr(exc, "signum", signal.SIGINT)
        report_not_done(pending, ctx.report, "not done: the run was interrupted")
    return ctx.report


class _Engines:
    """The engines, loaded when the first article that reads needs them: an input that fails
    on reading alone (empty, not text, too large) must not cost a model load on every run."""

    def __init__(self, load: Callable[[], Engines], ctx: RunContext) -> None:
        self._load = load
        self.loaded: Engines | None = None
        #: the context to write with: its signature is exact once the engines are loaded
        self.ctx = ctx

    def get(self) -> Engines:
        if self.loaded is None:
            self.loaded = self._load()
            # backend = "auto" is exact once the models' config.json is in the cache: a model
            # named by hub id is recorded under the engine that ran it on its first run too.
            signature = settings_identity(self.ctx.config).outputs
            self.ctx = dataclasses.replace(self.ctx, signature=signature)
        return self.loaded


def _run_wave(wave: list[Slot], engines: _Engines, *, fail_fast: bool) -> None:
    """Claim, read, summarize, translate, guard and write one wave; with ``fail_fast``, stop
    the wave at the first failure: articles not yet started stay not done, failed ones are
    reported. The engines are loaded only once an article of the wave has been read."""
    ctx = engines.ctx
    config = ctx.config
    mine: list[Slot] = []
    try:
        ctx.progress.stage("claim")
        for slot in wave:
            if _stopping(fail_fast, ctx, mine):
                return
            if claim_article(slot, ctx):
                mine.append(slot)
        ctx.progress.stage("read")
        for slot in mine:
            if _stopping(fail_fast, ctx, mine):
                return
            read_one(slot.article, config.input, ctx.stdin)
        if alive([s.article for s in mine]):
            if not _generate_all(mine, engines.get(), engines.ctx, fail_fast=fail_fast):
                return
        elif _stopping(fail_fast, ctx, mine):
            return
        ctx.progress.stage("write")
        info = describe_engines(engines.loaded) if engines.loaded is not None else {}
        for slot in mine:
            (result,) = write([slot.article], config, info, engines.ctx.signature)
            report_result(slot, ctx, result)
            slot.article.drop_texts()
    finally:
        release_claims(wave)


def _generate_all(mine: list[Slot], engines: Engines, ctx: RunContext, *, fail_fast: bool) -> bool:
    """Summarize, translate and guard the articles of a wave that were read; False when
    ``fail_fast`` stopped it."""
    stages = ((Stage.SUMMARIZE, engines.summarizer), (Stage.TRANSLATE, engines.translator))
    for stage, backend in stages:
        if backend is None:
            continue
        if _stopping(fail_fast, ctx, mine):
            return False
        refresh_claims(mine, ctx)
        ctx.progress.stage(stage.value)
        _generate(stage, alive([s.article for s in mine]), backend, ctx)
    if _stopping(fail_fast, ctx, mine):
        return False
    ctx.progress.stage("guard")
    guard(alive([s.article for s in mine]), engines, ctx.config)
    refresh_claims(mine, ctx)
    return True


def _generate(stage: Stage, articles: list[Article], backend: Backend, ctx: RunContext) -> None:
    config = ctx.config
    if stage is Stage.SUMMARIZE:
        summarize(articles, backend, config.summarizer, config.runtime.batch_tokens)
    else:
        translate(articles, backend, config.translator, ctx.sources, config.runtime.batch_tokens)


def _stopping(fail_fast: bool, ctx: RunContext, mine: list[Slot]) -> bool:
    """Whether --fail-fast stops here: reports this wave's failures, so the run stops after it."""
    if not fail_fast:
        return False
    for slot in mine:
        article = slot.article
        if article.error is not None and not slot.reported:
            report_result(slot, ctx, failed_result(article))
    return bool(ctx.report.failures)
