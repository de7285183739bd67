"""The run: plan what is out of date, then move articles through the stages in waves."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import gc
import logging
import math
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from summarize import __version__
from summarize.backends import Backend, GenerateOptions, Generation, load_backend
from summarize.chunking import Measure, Piece, pack, pack_paragraphs, reassemble
from summarize.claims import Claim, Held, claim
from summarize.config import (
    Config,
    SummarizerSettings,
    TranslatorSettings,
    as_dict,
    signature,
)
from summarize.errors import InputError, UsageError
from summarize.files import (
    FileTooLarge,
    Job,
    Outputs,
    Skipped,
    assess,
    display_name,
    find_inputs,
    fingerprint,
    name_too_long,
    output_paths,
    overlaps,
    read_snapshot,
    refresh,
    remove_temporaries,
    stale_reason,
    write_outputs,
)
from summarize.interrupts import held
from summarize.report import ArticleResult, Report, Status, group_warnings
from summarize.text import Document, detect_language, parse, split_sentences

__all__ = ["Models", "Planned", "Progress", "load_models", "plan", "run"]

log = logging.getLogger(__name__)
#: shown by default when stderr is a log file (see cli._setup_logging)
progress_log = logging.getLogger("summarize.progress")

# Map-reduce shrinks the text each round (at least 4-fold, see _chunk_summary_length); this many
# rounds summarise far more than any article, and the last one is made to fit in one chunk.
_MAX_ROUNDS = 8
# A chunk summary's length limit is never below this fraction of the summarizer's input, so that
# an article of very many chunks still gets summaries that say something.
_CHUNK_SUMMARY_FLOOR = 8
# The language check speaks only about texts long enough, and when it is sure.
_LANGUAGE_MIN_CHARACTERS = 200
_LANGUAGE_CONFIDENCE = 0.9
# The shortest input of a batch is at least this fraction of its longest.
_BUCKET_SPREAD = 0.5
# Translation length limits are rounded up to a grid with this many steps per doubling (see
# _translation_limit): at most 1/8 more than asked, and similar segments batch together.
_LIMIT_STEPS_PER_OCTAVE = 8
# A translation this much shorter than its source (in characters) has likely dropped a sentence.
_SHORT_TRANSLATION = 0.25
# Errors one batch's inputs can cause: out of memory (torch.cuda.OutOfMemoryError and
# CTranslate2's errors are RuntimeErrors), an input too long or odd for the model (IndexError,
# ValueError). Retrying in halves confines them to the article at fault. Any other exception
# (TypeError, AttributeError, AssertionError, KeyError...) is a mistake in the code: retrying
# would only turn it into one failed article after another, so it stops the run.
_INPUT_ERRORS = (RuntimeError, ValueError, IndexError, MemoryError)
# RuntimeErrors that are never the input's fault.
_CODE_ERRORS = (NotImplementedError, RecursionError)


class Progress(Protocol):
    """Where the pipeline reports progress; the CLI puts a tqdm bar behind it."""

    def start(self, total: int) -> None: ...
    def stage(self, name: str) -> None: ...
    def advance(self, count: int = 1) -> None: ...


class _NoProgress:
    def start(self, total: int) -> None:
        pass

    def stage(self, name: str) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


@dataclass(frozen=True)
class Models:
    """The loaded engines; None for a stage the configuration does not need."""

    summarizer: Backend | None
    translator: Backend | None


@dataclass(eq=False)
class _Article:
    """One article's state while its wave moves through the stages."""

    job: Job
    outputs: Outputs | None
    reason: str
    doc: Document | None = None
    input_info: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    translations: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    claim: Claim | None = None
    reported: bool = False

    def fail(self, reason: str) -> None:
        if self.error is None:
            self.error = reason

    def drop_texts(self) -> None:
        """Once written, an article's texts are not needed: memory stays flat over a long run."""
        self.doc = None
        self.summary = ""
        self.translations = {}

    def add_time(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


@dataclass(eq=False)
class _Task:
    """One model input on behalf of one article; ``key`` says where its output goes."""

    owner: _Article
    key: tuple[str, int]
    text: str
    tokens: int
    options: GenerateOptions
    result: Generation | None = None
    # How this output joins the previous one of its paragraph (see chunking.reassemble).
    glue: str = " "
    #: its length limit was lowered to what the model can generate
    capped: bool = False


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
    out are reported as skipped.
    """
    if models is not None:
        models = _needed(models, config)
    ctx = _Context(
        config, signature(config), force, stdin, progress or _NoProgress(),
        report if report is not None else Report(),
    )  # fmt: skip
    left_out: list[Skipped] = []
    planned = plan(
        config, paths, force=force, output_dir=output_dir, exclude=exclude, skipped=left_out
    )
    pending = _pending(planned, ctx, left_out)
    if fail_fast and ctx.report.failures:
        _not_done(pending, ctx.report, "not started: --fail-fast stopped the run")
        return ctx.report
    if not pending:
        return ctx.report
    waves = [
        pending[i : i + config.runtime.wave_size]
        for i in range(0, len(pending), config.runtime.wave_size)
    ]
    try:
        models = models or load_models(config)  # an interrupt while loading: all not done
        ctx.progress.start(len(pending))
        for wave in waves:
            _run_wave(wave, models, ctx, fail_fast=fail_fast)
            if fail_fast and ctx.report.failures:
                _not_done(pending, ctx.report, "not started: --fail-fast stopped the run")
                break
    except KeyboardInterrupt as exc:
        ctx.report.interrupted = getattr(exc, "signum", signal.SIGINT)
        _not_done(pending, ctx.report, "not done: the run was interrupted")
    return ctx.report


@dataclass(frozen=True)
class _Context:
    """What every step of one run needs to know."""

    config: Config
    signature: str
    force: bool
    stdin: BinaryIO | None
    progress: Progress
    report: Report


def _not_done(pending: list[_Article], report: Report, reason: str) -> None:
    with held():  # a second signal must still leave a complete report
        for article in pending:
            if not article.reported:
                report.add(ArticleResult(article.job.name, Status.NOT_DONE, reason))
                article.reported = True


@dataclass(frozen=True)
class Planned:
    """One article and why it is to be done; ``reason`` None means up to date.

    ``error`` says why it cannot be done at all (it fails without being read). ``refused``: the
    article must not run, and ``reason`` says why (its outputs overlap another article's or an
    input). ``touched``: up to date, but its record is to be refreshed.
    """

    job: Job
    outputs: Outputs | None
    reason: str | None
    error: str | None = None
    refused: bool = False
    touched: bool = False

    @property
    def label(self) -> str:
        """What a dry run says about the article."""
        if self.refused:
            return "refused"
        if self.reason is None:
            return "up to date (input touched)" if self.touched else "up to date"
        return self.reason


def plan(
    config: Config,
    paths: Sequence[str],
    *,
    force: bool = False,
    output_dir: Path | None = None,
    exclude: Sequence[Path] = (),
    skipped: list[Skipped] | None = None,
) -> list[Planned]:
    """What :func:`run` would do with each article, without loading a model or writing a file.

    Every output path of every article is planned first, and articles whose outputs overlap
    (each other's, or an input) are refused. Reasons: new, input changed, settings changed,
    outputs missing, sidecar unreadable, sidecar malformed, forced. Paths left out by discovery
    go to ``skipped``; files in ``exclude`` and under ``output_dir`` are never inputs.
    """
    if output_dir is not None and output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"{output_dir}: --output-dir is not a directory")
    sig = signature(config)
    own = [*exclude, output_dir] if output_dir is not None else list(exclude)
    jobs = find_inputs(paths, config.input, config.reserved_names, exclude=own, skipped=skipped)
    named = {
        job: output_paths(job.path, config.output, output_dir, job.root)
        for job in jobs
        if job.path is not None
    }
    eval_templates = [t for key, t in config.templates.items() if key.startswith("eval.")]
    refused = overlaps(list(named.items()), eval_templates)
    planned = []
    for job in jobs:
        if job.path is None:
            planned.append(Planned(job, None, "stdin"))  # writes nothing, so overlaps nothing
        elif job in refused:
            planned.append(Planned(job, named[job], refused[job], refused=True))
        else:
            planned.append(_plan_file(job, job.path, named[job], sig, force))
    return planned


def _plan_file(job: Job, path: Path, outputs: Outputs, sig: str, force: bool) -> Planned:
    problem = name_too_long(outputs)
    if problem is not None:
        return Planned(job, outputs, "cannot be done", error=problem)
    if force:
        return Planned(job, outputs, "forced")
    try:
        state = assess(path, outputs, sig)
    except OSError as exc:  # one article's outputs, not a reason to stop the run
        error = f"cannot check its outputs ({exc.strerror or exc})"
        return Planned(job, outputs, "cannot be done", error=error)
    return Planned(job, outputs, state.reason, touched=state.touched)


def _pending(
    planned: list[Planned], ctx: _Context, left_out: Sequence[Skipped] = ()
) -> list[_Article]:
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
        if redo is None:
            ctx.report.add(ArticleResult(name, status, why))
        else:
            log.debug("%s: to do (%s)", name, redo)
            pending.append(_Article(item.job, item.outputs, redo))
    return pending


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


def _run_wave(wave: list[_Article], models: Models, ctx: _Context, *, fail_fast: bool) -> None:
    """Claim, read, summarize, translate and write one wave; with ``fail_fast``, stop the wave
    at the first failure: articles not yet started stay not done, failed ones are reported."""
    config = ctx.config
    mine: list[_Article] = []
    try:
        ctx.progress.stage("claim")
        for article in wave:
            if _stopping(fail_fast, ctx, mine):
                return
            if _claim(article, ctx):
                mine.append(article)
        ctx.progress.stage("read")
        for article in mine:
            if _stopping(fail_fast, ctx, mine):
                return
            _read(article, config, ctx.stdin)
        stages = (
            ("summarize", models.summarizer, _summarize),
            ("translate", models.translator, _translate),
        )
        for name, backend, stage in stages:
            if backend is None:
                continue
            if _stopping(fail_fast, ctx, mine):
                return
            _refresh_claims(mine, ctx)
            ctx.progress.stage(name)
            stage(_alive(mine), backend, config)
        _refresh_claims(mine, ctx)
        ctx.progress.stage("write")
        for article in mine:
            result = _finish(article, config, models, ctx.signature)
            _report(article, ctx, result)
            article.drop_texts()
    finally:
        with held():  # a second signal must not leave a claim behind
            for article in wave:
                if article.claim is not None:
                    article.claim.release()
                    article.claim = None


def _stopping(fail_fast: bool, ctx: _Context, mine: list[_Article]) -> bool:
    """Whether --fail-fast stops here: reports this wave's failures, so the run stops after it."""
    if not fail_fast:
        return False
    for article in mine:
        if article.error is not None and not article.reported:
            result = ArticleResult(
                article.job.name, Status.FAILED, article.error, seconds=article.seconds
            )
            _report(article, ctx, result)
    return bool(ctx.report.failures)


def _refresh_claims(mine: list[_Article], ctx: _Context) -> None:
    """A wave may outlast runtime.claim_timeout: refresh its claims so no run takes them over.

    An article whose claim another run took over all the same is left to that run.
    """
    for article in list(mine):
        if article.claim is None or article.claim.refresh():
            continue
        with held():
            article.claim.release()
            article.claim = None
            mine.remove(article)
            _settle(article, ctx, Status.HELD, "taken over by another run while being done")


def _claim(article: _Article, ctx: _Context) -> bool:
    """Claim a file article for this run; report and return False if it is not ours to do."""
    outputs, source = article.outputs, article.job.path
    if outputs is None or source is None:
        return True
    name = article.job.name
    folder = outputs.sidecar.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = _file_error(f"{name}: cannot write in {display_name(folder)}", exc)
        return _settle(article, ctx, Status.FAILED, reason)
    try:
        with held():  # claim() never blocks; taken, it must be recorded to be released
            got = claim(outputs.claim, stale_after=ctx.config.runtime.claim_timeout)
            if isinstance(got, Claim):
                article.claim = got
    except OSError as exc:
        return _settle(article, ctx, Status.FAILED, _claim_error(name, outputs, exc))
    if isinstance(got, Held):
        return _settle(article, ctx, Status.HELD, _held_reason(got))
    remove_temporaries(outputs)
    if not ctx.force and stale_reason(source, outputs, ctx.signature) is None:
        with held():
            got.release()
            article.claim = None
        return _settle(article, ctx, Status.SKIPPED, "up to date (done by another run)")
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


def _report(article: _Article, ctx: _Context, result: ArticleResult) -> None:
    """Add an article's result once: recording and marking it are one step for signals."""
    with held():
        ctx.report.add(result)
        article.reported = True
    ctx.progress.advance()


def _settle(article: _Article, ctx: _Context, status: Status, reason: str) -> bool:
    _report(article, ctx, ArticleResult(article.job.name, status, reason))
    return False


def _alive(wave: Iterable[_Article]) -> list[_Article]:
    return [a for a in wave if a.error is None]


def _read(article: _Article, config: Config, stdin: BinaryIO | None) -> None:
    started = time.perf_counter()
    try:
        data = _load(article, config.input.max_bytes, stdin)
        article.doc = parse(data, article.job.name, cleanup=config.input.cleanup)
        _check_language(article, article.doc, config.input.language_check)
    except InputError as exc:
        article.fail(str(exc))
    else:
        doc = article.doc
        article.counts.update(
            characters=doc.characters,
            paragraphs=len(doc.paragraphs),
            sentences=len(doc.sentences),
        )
    article.add_time("read", time.perf_counter() - started)


def _load(article: _Article, max_bytes: int, stdin: BinaryIO | None) -> bytes:
    """The article's bytes, size-checked before reading so a huge file is never loaded.

    A file is opened without following a symlink (discovery resolved those it accepted), so
    one swapped in since cannot make the run read a file outside the tree; and without
    blocking, so a FIFO swapped in is refused instead of hanging the run.
    """
    name, path = article.job.name, article.job.source
    too_big = f"is more than input.max_bytes ({max_bytes}); raise it to process this file"
    try:
        if path is None:
            data = stdin.read(max_bytes + 1) if stdin is not None else b""
            article.input_info = {"path": name}
        else:
            data, stat = read_snapshot(path, max_bytes=max_bytes)
            article.input_info = {"path": name, **fingerprint(path, data, stat)}
    except FileTooLarge as exc:
        raise InputError(f"{name}: {exc.size} bytes {too_big}") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({_read_error(article.job, exc)})") from exc
    if len(data) > max_bytes:  # grew since stat, or standard input
        raise InputError(f"{name}: the input {too_big}")
    return data


def _read_error(job: Job, exc: OSError) -> str:
    if exc.errno != errno.ELOOP:
        return str(exc.strerror or exc)
    if job.target is None:
        return "it became a symlink after the run started; not followed"
    target = display_name(job.target)
    return f"{target} is a symlink, not followed (a loop, or replaced since the run started)"


def _check_language(article: _Article, doc: Document, mode: str) -> None:
    if mode == "off" or doc.characters < _LANGUAGE_MIN_CHARACTERS:
        return  # too short to tell reliably
    try:
        language, probability = detect_language(doc.text)
    except Exception as exc:  # a broken detector must not fail the article, only say so
        article.warnings.append(f"language check skipped: {exc}")
        return
    if language == "en" or probability < _LANGUAGE_CONFIDENCE:
        return
    message = f"mostly not English (detected {language!r}, probability {probability:.2f})"
    if mode == "refuse":
        raise InputError(
            f"{article.job.name}: {message}; set input.language_check = 'warn' to process it"
        )
    article.warnings.append(f"{message}: the models expect English")


# --- summarize stage --------------------------------------------------------------------


def _summarize(articles: list[_Article], backend: Backend, config: Config) -> None:
    """Summaries for all articles, batched together; long articles go map-reduce.

    Each round packs every pending article's text into chunks that fit the model; an article
    with one chunk gets its summary, one with several goes on with its joined chunk summaries.
    Each chunk summary gets its share of the model's input, so the joined summaries fit the
    next round; should a model's output not shrink anyway, the last round keeps what fits
    and says so.
    """
    settings = config.summarizer
    limit = min(settings.max_input_tokens, backend.max_input_tokens)
    (overhead,) = backend.count_tokens([""])  # the special tokens every input carries
    pending = {a: a.doc.sentences for a in articles if a.doc is not None}
    previous: dict[_Article, int] = {}
    for a in pending:
        a.counts.update(summary_chunks=0, summary_rounds=0)
    for round_no in range(1, _MAX_ROUNDS + 1):
        if not pending:
            return
        tasks = []
        for article, sentences in pending.items():
            chunks = pack(sentences, backend.count_tokens, limit)
            total = sum(c.tokens for c in chunks)
            stuck = total >= previous.get(article, total + 1) or round_no == _MAX_ROUNDS
            if len(chunks) > 1 and stuck:
                chunks = _keep_first_chunk(article, chunks, round_no, limit)
            previous[article] = total
            if round_no == 1:
                article.counts["summary_chunks"] = len(chunks)
            article.counts["summary_rounds"] = round_no
            longest = _chunk_summary_length(settings.max_length, limit - overhead, len(chunks))
            tasks += [
                _Task(
                    article,
                    ("summary", i),
                    c.text,
                    c.tokens,
                    _summary_options(settings, c.tokens, longest),
                )
                for i, c in enumerate(chunks)
            ]
        _generate(tasks, backend, config.runtime.batch_tokens, "summarize")
        pending = _next_round(tasks, round_no)


def _chunk_summary_length(max_length: int, budget: int, chunks: int) -> int:
    """The longest summary of one of ``chunks`` chunks, in generated tokens.

    Alone, an article's summary may be max_length long. Of several chunks, each summary gets
    its share of ``budget`` (the input limit less special tokens, one token each for the
    space that joins it), so that together they fit the next round's input; never less than
    1/_CHUNK_SUMMARY_FLOOR of it, which still shrinks the text at least 4-fold each round
    (chunks are over half full on average: two neighbours did not fit in one).
    """
    if chunks <= 1:
        return max_length
    share = budget // chunks - 1
    floor = max(1, (budget + 1) // _CHUNK_SUMMARY_FLOOR)
    return min(max_length, max(share, floor))


def _keep_first_chunk(
    article: _Article, chunks: list[Piece], round_no: int, limit: int
) -> list[Piece]:
    """The last resort when chunk summaries do not shrink: summarise what fits, and say so."""
    total = sum(c.tokens for c in chunks)
    article.warnings.append(
        f"summary round {round_no}: the chunk summaries no longer shrink; the summary is made "
        f"from the first {chunks[0].tokens} of their {total} tokens (the summarizer reads "
        f"{limit}), and the rest is left out"
    )
    return chunks[:1]


def _summary_options(settings: Any, input_tokens: int, longest: int) -> GenerateOptions:
    return GenerateOptions(
        max_new_tokens=longest,
        # A short input cannot support a long minimum: the model would pad it with invention.
        min_new_tokens=min(settings.min_length, input_tokens // 2, longest),
        num_beams=settings.num_beams,
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
        length_penalty=settings.length_penalty,
    )


def _next_round(tasks: list[_Task], round_no: int) -> dict[_Article, list[str]]:
    next_round: dict[_Article, list[str]] = {}
    for article, own in _by_owner(tasks).items():
        if article.error is not None:
            continue
        results = [t.result for t in own if t.result is not None]
        cut = [t for t in own if t.result is not None and t.result.hit_limit]
        if cut:
            origin = _limit_origin(cut[0], "summarizer.max_length or the chunk's input share")
            article.warnings.append(
                f"summary round {round_no}: {len(cut)} of {len(results)} chunk summaries "
                f"stopped at their length limit ({origin})"
            )
        if len(results) == 1:
            article.summary = results[0].text
            if not article.summary:
                article.warnings.append("the summarizer produced an empty summary")
        else:
            if round_no == 1:
                article.warnings.append(
                    f"article longer than the summarizer's input: summarised in "
                    f"{len(results)} chunks, then their summaries (map-reduce)"
                )
            joined = " ".join(r.text for r in results if r.text)
            next_round[article] = split_sentences(joined) or [joined]
    return next_round


def _limit_origin(task: _Task, setting: str) -> str:
    """What set a task's length limit, for a warning that it was reached."""
    tokens = task.options.max_new_tokens
    if task.capped:
        return f"{tokens} tokens, all the model can generate"
    return f"{tokens} tokens, from {setting}"


# --- translate stage --------------------------------------------------------------------


def _translate(articles: list[_Article], backend: Backend, config: Config) -> None:
    """Translate the article and/or summary of every article, sentence by sentence, batched."""
    settings = config.translator
    limit = min(settings.max_input_tokens, backend.max_input_tokens)
    prefix = f"{settings.source_prefix} " if settings.source_prefix else ""

    def measure(texts: Sequence[str]) -> list[int]:
        return backend.count_tokens([prefix + t for t in texts])

    tasks: list[_Task] = []
    for article in articles:
        assert article.doc is not None
        sources = {
            "article": article.doc.paragraphs,
            "summary": [split_sentences(article.summary)] if article.summary else [],
        }
        for target in config.output.translate:
            tasks += _translation_tasks(article, target, sources[target], measure, limit, config)
    _generate(tasks, backend, config.runtime.batch_tokens, "translate")
    for article, own in _by_owner(tasks).items():
        if article.error is None:
            _assemble(article, own)


def _translation_tasks(
    article: _Article,
    target: str,
    paragraphs: list[list[str]],
    measure: Measure,
    limit: int,
    config: Config,
) -> list[_Task]:
    settings = config.translator
    prefix = f"{settings.source_prefix} " if settings.source_prefix else ""
    segments = pack_paragraphs(paragraphs, measure, limit)
    article.counts[f"{target}_segments"] = len(segments)
    article.counts[f"{target}_split_sentences"] = sum(s.split for s in segments)
    article.translations.setdefault(target, "")
    return [
        _Task(
            article,
            (target, seg.paragraph),
            prefix + seg.text,
            seg.tokens,
            GenerateOptions(
                max_new_tokens=_translation_limit(seg.tokens, settings),
                num_beams=settings.num_beams,
                no_repeat_ngram_size=settings.no_repeat_ngram_size,
                length_penalty=settings.length_penalty,
            ),
            glue=seg.glue,
        )
        for seg in segments
    ]


def _translation_limit(tokens: int, settings: TranslatorSettings) -> int:
    """ratio x source + extra, rounded up onto a grid: segments of similar length then share
    identical options and so a batch, while each limit still depends on its own segment alone.
    Limits up to 15 stay exact; above, the step is at most 1/8 of the limit."""
    limit = math.ceil(tokens * settings.max_length_ratio) + settings.max_length_extra
    step = 1 << max(0, limit.bit_length() - _LIMIT_STEPS_PER_OCTAVE.bit_length())
    return -(-limit // step) * step


def _assemble(article: _Article, tasks: list[_Task]) -> None:
    """Join segment translations back into paragraphs, in source order."""
    paragraphs: dict[str, dict[int, list[tuple[str, str]]]] = {}
    for task in tasks:
        target, paragraph = task.key
        result = task.result
        assert result is not None
        source = task.text
        if result.hit_limit and task.capped:
            article.warnings.append(
                f"{target} translation, paragraph {paragraph + 1}: a segment stopped at the "
                f"model's output limit ({_limit_origin(task, '')}) and may be cut (lower "
                "translator.max_input_tokens)"
            )
        elif result.hit_limit:
            article.warnings.append(
                f"{target} translation, paragraph {paragraph + 1}: a segment stopped at its "
                "length limit and may be cut (raise translator.max_length_ratio)"
            )
        elif len(source) > 80 and len(result.text) < _SHORT_TRANSLATION * len(source):
            article.warnings.append(
                f"{target} translation, paragraph {paragraph + 1}: translation is much shorter "
                "than its source; a sentence may have been dropped"
            )
        paragraphs.setdefault(target, {}).setdefault(paragraph, []).append((task.glue, result.text))
    for target, by_paragraph in paragraphs.items():
        article.translations[target] = "\n\n".join(
            reassemble(parts) for _, parts in sorted(by_paragraph.items())
        )


# --- batching -----------------------------------------------------------------------------


def _generate(tasks: list[_Task], backend: Backend, batch_tokens: int, stage: str) -> None:
    """Run all tasks through the model in length-sorted batches of at most ``batch_tokens``."""
    for task in tasks:
        _fit_to_model(task, backend.max_output_tokens)
    for batch in _batches(tasks, batch_tokens):
        _generate_batch(batch, backend, stage)


def _fit_to_model(task: _Task, most: int) -> None:
    """Lower a task's length limit to what the model has positions for; count it in the sidecar.

    A longer limit (e.g. a translation's ratio x source + extra near the input limit) would
    fail the article once its output ran past the model's last position.
    """
    options = task.options
    if options.max_new_tokens <= most:
        return
    task.options = dataclasses.replace(
        options, max_new_tokens=most, min_new_tokens=min(options.min_new_tokens, most)
    )
    task.capped = True
    counts = task.owner.counts
    counts["capped_by_model"] = counts.get("capped_by_model", 0) + 1


def _batches(tasks: list[_Task], batch_tokens: int) -> list[list[_Task]]:
    """Batches of tasks with the same options, widest first, so that an out-of-memory error
    shows up at once. Options are never merged: a task's output must not depend on what else
    its batch holds.
    """
    groups: dict[GenerateOptions, list[_Task]] = {}
    for task in tasks:
        groups.setdefault(task.options, []).append(task)
    batches = [b for group in groups.values() for b in _by_length(group, batch_tokens)]
    return sorted(batches, key=lambda b: b[0].tokens, reverse=True)


def _by_length(tasks: list[_Task], batch_tokens: int) -> list[list[_Task]]:
    """Similar lengths together: a batch decodes until its longest output is done, so a short
    input batched with a long one pays for the long one's steps.
    """
    ordered = sorted(tasks, key=lambda t: t.tokens, reverse=True)
    batches: list[list[_Task]] = []
    current: list[_Task] = []
    for task in ordered:
        # Sorted descending, so the first task of a batch is its widest one.
        width = current[0].tokens if current else task.tokens
        too_many = width * (len(current) + 1) > batch_tokens
        if current and (too_many or task.tokens < width * _BUCKET_SPREAD):
            batches.append(current)
            current = []
        current.append(task)
    if current:
        batches.append(current)
    return batches


def _generate_batch(batch: list[_Task], backend: Backend, stage: str) -> None:
    """Generate for one batch; on an error an input can cause, retry in halves, so that one
    bad input fails only its article. Any other error is a mistake in the code: it propagates.
    """
    live = [t for t in batch if t.owner.error is None]
    if not live:
        return
    started = time.perf_counter()
    try:
        results = backend.generate([t.text for t in live], live[0].options)
    except _INPUT_ERRORS as exc:
        if isinstance(exc, _CODE_ERRORS):
            raise
        reason, out_of_memory = str(exc) or type(exc).__name__, _is_out_of_memory(exc)
    else:
        _share_time(live, stage, time.perf_counter() - started)
        for task, result in zip(live, results, strict=True):
            task.result = result
        return
    # Out of the except block, so the failed batch's tensors (held by the traceback) can go.
    if out_of_memory:
        _free_device_memory()
    if len(live) > 1:
        log.info("%s: batch of %d failed (%s); retrying in halves", stage, len(live), reason)
        middle = len(live) // 2
        _generate_batch(live[:middle], backend, stage)
        _generate_batch(live[middle:], backend, stage)
    else:
        live[0].owner.fail(f"{live[0].owner.job.name}: {stage} failed: {reason}")


def _is_out_of_memory(exc: BaseException) -> bool:
    # torch.cuda.OutOfMemoryError and CTranslate2's CUDA errors are RuntimeErrors saying so.
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


def _free_device_memory() -> None:
    """Give the CUDA memory torch caches back before a retry; never imports torch itself."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _share_time(tasks: list[_Task], stage: str, seconds: float) -> None:
    """A batch serves several articles: each is charged by its share of the input tokens."""
    total = sum(t.tokens for t in tasks) or 1
    for task in tasks:
        task.owner.add_time(stage, seconds * task.tokens / total)


def _by_owner(tasks: list[_Task]) -> dict[_Article, list[_Task]]:
    owners: dict[_Article, list[_Task]] = {}
    for task in tasks:
        owners.setdefault(task.owner, []).append(task)
    return owners


# --- write ----------------------------------------------------------------------------------


def _finish(article: _Article, config: Config, models: Models, sig: str) -> ArticleResult:
    name = article.job.name
    if article.error is not None:
        # A standard-input article always carries texts (none here), so the CLI answers it.
        texts: dict[str, str] | None = {} if article.outputs is None else None
        return ArticleResult(
            name, Status.FAILED, article.error, seconds=article.seconds, texts=texts
        )
    # Grouped once here, so the sidecar, the report and the log all say the same thing.
    article.warnings = group_warnings(article.warnings)
    for warning in article.warnings:
        log.info("%s: %s", name, warning)
    status = Status.FLAGGED if article.warnings else Status.DONE
    texts = {
        "summary": article.summary,
        "summary_ar": article.translations.get("summary", ""),
        "article_ar": article.translations.get("article", ""),
    }
    if article.outputs is None:  # standard input: the CLI prints the texts
        # The same outputs a file would get, named by the same rules.
        wanted = _named_outputs(output_paths(Path("-"), config.output))
        return ArticleResult(
            name,
            status,
            seconds=article.seconds,
            warnings=tuple(article.warnings),
            texts={k: v for k, v in texts.items() if k in wanted},
        )
    outputs = article.outputs
    by_path = {path: texts[key] for key, path in _named_outputs(outputs).items()}
    started = time.perf_counter()
    try:
        write_outputs(outputs, by_path, _sidecar(article, config, models, sig))
    except OSError as exc:
        where = display_name(exc.filename or "")
        reason = f"{name}: cannot write outputs ({exc.strerror or exc}: {where})"
        return ArticleResult(name, Status.FAILED, reason, seconds=article.seconds)
    article.add_time("write", time.perf_counter() - started)
    return ArticleResult(
        name,
        status,
        article.reason,
        outputs=tuple(display_name(p) for p in (*outputs.texts(), outputs.sidecar)),
        seconds=article.seconds,
        warnings=tuple(article.warnings),
    )


def _sidecar(article: _Article, config: Config, models: Models, sig: str) -> dict[str, Any]:
    assert article.outputs is not None and article.doc is not None
    engines = {
        role: {"model": b.model_id, "device": b.device, "dtype": b.dtype}
        for role, b in (("summarizer", models.summarizer), ("translator", models.translator))
        if b is not None
    }
    return {
        "tool": f"summarize {__version__}",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "input": article.input_info,
        "signature": sig,
        "settings": as_dict(config),
        "engines": engines,
        "outputs": {
            key: display_name(path.name) for key, path in _named_outputs(article.outputs).items()
        },
        "counts": article.counts,
        "map_reduce": article.counts.get("summary_chunks", 1) > 1,
        "seconds": {k: round(v, 4) for k, v in article.seconds.items()},
        "removed_lines": article.doc.removed,
        "warnings": article.warnings,
    }


def _named_outputs(outputs: Outputs) -> dict[str, Path]:
    named = {
        "summary": outputs.summary,
        "summary_ar": outputs.summary_ar,
        "article_ar": outputs.article_ar,
    }
    return {key: path for key, path in named.items() if path is not None}
