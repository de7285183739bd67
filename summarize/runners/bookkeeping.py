"""What every runner keeps of a run: its context, each article's slot and claim, its one result."""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from summarize.claims import Claim, Held, claim, remove_if_abandoned
from summarize.discovery import Skipped, display_name
from summarize.identity import settings_identity
from summarize.interrupts import held
from summarize.outputs import Outputs, remove_temporaries
from summarize.planning import Planned
from summarize.progress import NoProgress, Progress
from summarize.records import Article, Source
from summarize.report import ArticleResult, Report, Status
from summarize.settings import Config
from summarize.sidecar import read as read_sidecar
from summarize.state import refresh, stale_reason

__all__ = [
    "FAIL_FAST",
    "RunContext",
    "Slot",
    "articles_to_do",
    "claim_article",
    "failed_result",
    "new_context",
    "refresh_claims",
    "release_claims",
    "report_not_done",
    "report_result",
]

log = logging.getLogger(__name__)

FAIL_FAST = "not started: --fail-fast stopped the run"


@dataclass(eq=False)
class Slot:
    """An article of this run, with what only the runner keeps: its claim, and whether its
    result is in the report."""

    article: Article
    claim: Claim | None = None
    reported: bool = False


@dataclass(frozen=True)
class RunContext:
    """What every step of one run needs to know."""

    config: Config
    #: the settings' identity as the sidecar records it (summarize.identity)
    signature: str
    force: bool
    stdin: BinaryIO | None
    progress: Progress
    report: Report
    #: the texts to translate (output.translate)
    sources: tuple[Source, ...]


def new_context(
    config: Config,
    force: bool,
    stdin: BinaryIO | None,
    progress: Progress | None,
    report: Report | None,
) -> RunContext:
    return RunContext(
        config, settings_identity(config).outputs, force, stdin, progress or NoProgress(),
        report if report is not None else Report(),
        tuple(Source(target) for target in config.output.translate),
    )  # fmt: skip


def articles_to_do(
    planned: list[Planned], ctx: RunContext, left_out: Sequence[Skipped], *, fail_fast: bool
) -> list[Slot]:
    """The articles to do; the others reported. None at all when ``fail_fast`` and a planned
    article failed already: the rest are then reported not done."""
    pending = _pending(planned, ctx, left_out)
    if fail_fast and ctx.report.failures:
        report_not_done(pending, ctx.report, FAIL_FAST)
        return []
    return pending


def report_not_done(pending: list[Slot], report: Report, reason: str) -> None:
    with held():  # a second signal must still leave a complete report
        for slot in pending:
            if not slot.reported:
                report.add(ArticleResult(slot.article.name, Status.NOT_DONE, reason))
                slot.reported = True


def _pending(planned: list[Planned], ctx: RunContext, left_out: Sequence[Skipped]) -> list[Slot]:
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
            if status is Status.SKIPPED and item.outputs is not None and not item.touched:
                remove_if_abandoned(
                    item.outputs.claim, stale_after=ctx.config.runtime.claim_timeout
                )
            ctx.report.add(ArticleResult(name, status, why))
        else:
            log.debug("%s: to do (%s)", name, redo)
            pending.append(Slot(Article(item.job, item.outputs, redo)))
    return pending


def _flagged_before(item: Planned, ctx: RunContext) -> bool:
    """Under --strict, whether an up-to-date article's sidecar says it was flagged: a rerun
    must not pass what the first run failed."""
    if not ctx.report.strict or item.outputs is None:
        return False
    found = read_sidecar(item.outputs.sidecar)
    if found is None:
        return False
    sidecar, _ = found
    unrepaired = any(not flag.repaired for flag in sidecar.flags) or sidecar.unreadable_flags
    return bool(unrepaired or sidecar.warnings)


def _refresh(item: Planned, ctx: RunContext) -> tuple[str | None, Status, str]:
    """Refresh a touched article's record: why to redo it instead (or None), and if not, the
    status and reason it is reported with.

    Under the article's claim: a run writing the article meanwhile must not be undone.
    """
    assert item.job.path is not None and item.outputs is not None
    outputs = item.outputs
    not_refreshed = "up to date (input touched, record not refreshed: {})"
    with contextlib.ExitStack() as taken:
        try:
            with held():  # a stop signal raises only once the claim is on the stack to release
                got = claim(outputs.claim, stale_after=ctx.config.runtime.claim_timeout)
                if isinstance(got, Claim):
                    taken.callback(got.release)
        except OSError as exc:
            why = f"cannot write in {display_name(outputs.claim.parent)}: {exc.strerror or exc}"
            return None, Status.SKIPPED, not_refreshed.format(why)
        if isinstance(got, Held):
            return None, Status.HELD, _held_reason(got)
        try:
            state = refresh(item.job.path, outputs, ctx.signature)
        except OSError as exc:
            why = f"{display_name(exc.filename or outputs.sidecar)}: {exc.strerror or exc}"
            return None, Status.SKIPPED, not_refreshed.format(why)
    return state.reason, Status.SKIPPED, "up to date (input touched, record refreshed)"


def _held_reason(got: Held) -> str:
    return f"being processed by another run ({got.holder})"


def release_claims(slots: list[Slot]) -> None:
    """Release the claims of ``slots``: a second signal must not leave one behind."""
    with held():
        for slot in slots:
            if slot.claim is not None:
                slot.claim.release()
                slot.claim = None


def refresh_claims(mine: list[Slot], ctx: RunContext) -> None:
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


def claim_article(slot: Slot, ctx: RunContext) -> bool:
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


def report_result(slot: Slot, ctx: RunContext, result: ArticleResult) -> None:
    """Add an article's result once: recording and marking it are one step for signals."""
    with held():
        ctx.report.add(result)
        slot.reported = True
    ctx.progress.advance()


def failed_result(article: Article) -> ArticleResult:
    """The result of an article that failed in a step (its error set), reported before the
    write step would: --fail-fast stops at it."""
    return ArticleResult(
        article.name, Status.FAILED, article.error or "", seconds=article.timings()
    )


def _settle(slot: Slot, ctx: RunContext, status: Status, reason: str) -> bool:
    report_result(slot, ctx, ArticleResult(slot.article.name, status, reason))
    return False
