"""The local runner: articles in waves through the stages, under claims, stoppable at any step."""

from __future__ import annotations

import errno
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from summarize.backends import Backend
from summarize.claims import Claim, Held, claim
from summarize.discovery import Skipped, display_name
from summarize.interrupts import held
from summarize.outputs import Outputs, remove_temporaries
from summarize.planning import Planned
from summarize.progress import NoProgress, Progress
from summarize.records import Article, Source, Stage, alive
from summarize.report import ArticleResult, Report, Status
from summarize.settings import Config
from summarize.stages import Engines
from summarize.stages.guard import guard
from summarize.stages.read import read_one
from summarize.stages.summarize import summarize
from summarize.stages.translate import translate
from summarize.stages.write import describe_engines, write
from summarize.state import read_sidecar, refresh, signature, stale_reason

__all__ = ["run_local"]

log = logging.getLogger(__name__)

_FAIL_FAST = "not started: --fail-fast stopped the run"


@dataclass(eq=False)
class _Slot:
    """An article of this run, with what only the runner keeps: its claim, and whether its
    result is in the report."""

    article: Article
    claim: Claim | None = None
    reported: bool = False


@dataclass(frozen=True)
class _Context:
    """What every step of one run needs to know."""

    config: Config
    signature: str
    force: bool
    stdin: BinaryIO | None
    progress: Progress
    report: Report
    #: the texts to translate (output.translate)
    sources: tuple[Source, ...]


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

    ``load`` gives the engines, called only once some article is to be done. Each wave is
    claimed, read, summarized, translated and written, and its texts dropped once written. On
    KeyboardInterrupt (also while loading) it stops between two steps, leaves no partial file
    and no claim, and reports the articles not done. With ``fail_fast`` no article starts a step
    after a failure.
    """
    ctx = _context(config, force, stdin, progress, report)
    pending = _to_do(planned, ctx, left_out, fail_fast=fail_fast)
    if not pending:
        return ctx.report
    size = config.runtime.wave_size
    waves = [pending[i : i + size] for i in range(0, len(pending), size)]
    try:
        engines = load()  # an interrupt while loading: all not done
        ctx.progress.start(len(pending))
        for wave in waves:
            _run_wave(wave, engines, ctx, fail_fast=fail_fast)
            if fail_fast and ctx.report.failures:
                _not_done(pending, ctx.report, _FAIL_FAST)
                break
    except KeyboardInterrupt as exc:
        ctx.report.interrupted = getattr(exc, "signum", signal.SIGINT)
        _not_done(pending, ctx.report, "not done: the run was interrupted")
    return ctx.report


def _context(
    config: Config,
    force: bool,
    stdin: BinaryIO | None,
    progress: Progress | None,
    report: Report | None,
) -> _Context:
    return _Context(
        config, signature(config), force, stdin, progress or NoProgress(),
        report if report is not None else Report(),
        tuple(Source(target) for target in config.output.translate),
    )  # fmt: skip


def _to_do(
    planned: list[Planned], ctx: _Context, left_out: Sequence[Skipped], *, fail_fast: bool
) -> list[_Slot]:
    """The articles to do; the others reported. None at all when ``fail_fast`` and a planned
    article failed already: the rest are then reported not done."""
    pending = _pending(planned, ctx, left_out)
    if fail_fast and ctx.report.failures:
        _not_done(pending, ctx.report, _FAIL_FAST)
        return []
    return pending


def _not_done(pending: list[_Slot], report: Report, reason: str) -> None:
    with held():  # a second signal must still leave a complete report
        for slot in pending:
            if not slot.reported:
                report.add(ArticleResult(slot.article.name, Status.NOT_DONE, reason))
                slot.reported = True


def _pending(planned: list[Planned], ctx: _Context, left_out: Sequence[Skipped]) -> list[_Slot]:
    for gone in left_out:
        ctx.report.add(ArticleResult(gone.name, Status.SKIPPED, f"left out: {gone.reason}"))
    pending = []
    for item in planned:
        name = item.job.name
        if item.error is not None:
            ctx.report.add(ArticleResult(name, Status.FAILED, f"{name}: {item.error}"))
            continue
        if item.refused:
            ctx.report.add(ArticleResult(name, Status.FAILED, item.reason or ""))
            continue
        current = (item.reason, Status.SKIPPED, "up to date")
        redo, status, why = _refresh(item, ctx) if item.touched else current
        if redo is None and status is Status.SKIPPED and _flagged_before(item, ctx):
            why = f"{name}: flagged when it was done, failed by --strict (see its sidecar)"
            ctx.report.add(ArticleResult(name, Status.FAILED, why))
        elif redo is None:
            ctx.report.add(ArticleResult(name, status, why))
        else:
            log.debug("%s: to do (%s)", name, redo)
            pending.append(_Slot(Article(item.job, item.outputs, redo)))
    return pending


def _flagged_before(item: Planned, ctx: _Context) -> bool:
    """Under --strict, whether an up-to-date article's sidecar says it was flagged: a rerun
    must not pass what the first run failed."""
    if not ctx.report.strict or item.outputs is None:
        return False
    record = read_sidecar(item.outputs.sidecar) or {}
    flags = record.get("flags") or []
    unrepaired = any(isinstance(f, dict) and not f.get("repaired") for f in flags)
    return unrepaired or bool(record.get("warnings"))


def _refresh(item: Planned, ctx: _Context) -> tuple[str | None, Status, str]:
    """Refresh a touched article's record: why to redo it instead (or None), and if not, the
    status and reason it is reported with.

    Under the article's claim: a run writing the article meanwhile must not be undone.
    """
    assert item.job.path is not None and item.outputs is not None
    outputs = item.outputs
    not_refreshed = "up to date (input touched, record not refreshed: {})"
    try:
        got = claim(outputs.claim, stale_after=ctx.config.runtime.claim_timeout)
    except OSError as exc:
        why = f"cannot write in {outputs.claim.parent}: {exc.strerror or exc}"
        return None, Status.SKIPPED, not_refreshed.format(why)
    if isinstance(got, Held):
        return None, Status.HELD, _held_reason(got)
    try:
        state = refresh(item.job.path, outputs, ctx.signature)
    except (OSError, ValueError) as exc:  # ValueError: text the sidecar cannot hold as UTF-8
        why = f"{getattr(exc, 'filename', None) or outputs.sidecar}: "
        why += str(getattr(exc, "strerror", None) or exc)
        return None, Status.SKIPPED, not_refreshed.format(why)
    finally:
        got.release()
    return state.reason, Status.SKIPPED, "up to date (input touched, record refreshed)"


def _held_reason(got: Held) -> str:
    return f"being processed by another run ({got.holder})"


def _run_wave(wave: list[_Slot], engines: Engines, ctx: _Context, *, fail_fast: bool) -> None:
    """Claim, read, summarize, translate, guard and write one wave; with ``fail_fast``, stop
    the wave at the first failure: articles not yet started stay not done, failed ones are
    reported."""
    config = ctx.config
    mine: list[_Slot] = []
    try:
        ctx.progress.stage("claim")
        for slot in wave:
            if _stopping(fail_fast, ctx, mine):
                return
            if _claim(slot, ctx):
                mine.append(slot)
        ctx.progress.stage("read")
        for slot in mine:
            if _stopping(fail_fast, ctx, mine):
                return
            read_one(slot.article, config.input, ctx.stdin)
        stages = ((Stage.SUMMARIZE, engines.summarizer), (Stage.TRANSLATE, engines.translator))
        for stage, backend in stages:
            if backend is None:
                continue
            if _stopping(fail_fast, ctx, mine):
                return
            _refresh_claims(mine, ctx)
            ctx.progress.stage(stage.value)
            _generate(stage, alive([s.article for s in mine]), backend, ctx)
        if _stopping(fail_fast, ctx, mine):
            return
        ctx.progress.stage("guard")
        guard(alive([s.article for s in mine]), engines, config)
        _refresh_claims(mine, ctx)
        ctx.progress.stage("write")
        info = describe_engines(engines)
        for slot in mine:
            (result,) = write([slot.article], config, info, ctx.signature)
            _report(slot, ctx, result)
            slot.article.drop_texts()
    finally:
        _release(wave)


def _release(slots: list[_Slot]) -> None:
    """Release the claims of ``slots``: a second signal must not leave one behind."""
    with held():
        for slot in slots:
            if slot.claim is not None:
                slot.claim.release()
                slot.claim = None


def _generate(stage: Stage, articles: list[Article], backend: Backend, ctx: _Context) -> None:
    config = ctx.config
    if stage is Stage.SUMMARIZE:
        summarize(articles, backend, config.summarizer, config.runtime.batch_tokens)
    else:
        translate(articles, backend, config.translator, ctx.sources, config.runtime.batch_tokens)


def _stopping(fail_fast: bool, ctx: _Context, mine: list[_Slot]) -> bool:
    """Whether --fail-fast stops here: reports this wave's failures, so the run stops after it."""
    if not fail_fast:
        return False
    for slot in mine:
        article = slot.article
        if article.error is not None and not slot.reported:
            result = ArticleResult(
                article.name, Status.FAILED, article.error, seconds=article.timings()
            )
            _report(slot, ctx, result)
    return bool(ctx.report.failures)


def _refresh_claims(mine: list[_Slot], ctx: _Context) -> None:
    """A wave may outlast runtime.claim_timeout: refresh its claims so no run takes them over.

    An article whose claim another run took over all the same is left to that run.
    """
    for slot in list(mine):
        if slot.claim is None or slot.claim.refresh():
            continue
        with held():
            slot.claim.release()
            slot.claim = None
            mine.remove(slot)
            _settle(slot, ctx, Status.HELD, "taken over by another run while being done")


def _claim(slot: _Slot, ctx: _Context) -> bool:
    """Claim a file article for this run; report and return False if it is not ours to do."""
    article = slot.article
    outputs, source = article.outputs, article.job.path
    if outputs is None or source is None:
        return True
    name = article.name
    folder = outputs.sidecar.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = _file_error(f"{name}: cannot write in {display_name(folder)}", exc)
        return _settle(slot, ctx, Status.FAILED, reason)
    try:
        with held():  # claim() never blocks; taken, it must be recorded to be released
            got = claim(outputs.claim, stale_after=ctx.config.runtime.claim_timeout)
            if isinstance(got, Claim):
                slot.claim = got
    except OSError as exc:
        return _settle(slot, ctx, Status.FAILED, _claim_error(name, outputs, exc))
    if isinstance(got, Held):
        return _settle(slot, ctx, Status.HELD, _held_reason(got))
    remove_temporaries(outputs)
    if not ctx.force and stale_reason(source, outputs, ctx.signature) is None:
        with held():
            got.release()
            slot.claim = None
        return _settle(slot, ctx, Status.SKIPPED, "up to date (done by another run)")
    return True


def _claim_error(name: str, outputs: Outputs, exc: OSError) -> str:
    where = display_name(exc.filename or outputs.claim)
    return _file_error(f"{name}: cannot claim it with {where}", exc)


def _file_error(what: str, exc: OSError) -> str:
    """``what`` failed, and why; advice on --output-dir only where permissions are the cause."""
    reason = f"{what} ({exc.strerror or exc})"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason += "; use --output-dir DIR for read-only inputs"
    return reason


def _report(slot: _Slot, ctx: _Context, result: ArticleResult) -> None:
    """Add an article's result once: recording and marking it are one step for signals."""
    with held():
        ctx.report.add(result)
        slot.reported = True
    ctx.progress.advance()


def _settle(slot: _Slot, ctx: _Context, status: Status, reason: str) -> bool:
    _report(slot, ctx, ArticleResult(slot.article.name, status, reason))
    return False
