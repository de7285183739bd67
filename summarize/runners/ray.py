"""The Ray runner: the same stages as a Ray Data pipeline, models held by pools of actors."""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import time
from collections.abc import Iterator, Sequence
from typing import Any

from summarize.discovery import Skipped
from summarize.engines import Models, check_models, load_engine
from summarize.errors import SummarizeError, UsageError
from summarize.planning import Planned
from summarize.progress import Progress
from summarize.records import Article, Source, alive
from summarize.report import Report, Status
from summarize.runners.bookkeeping import (
    FAIL_FAST,
    RunContext,
    Slot,
    articles_to_do,
    claim_article,
    new_context,
    release_claims,
    report_not_done,
    report_result,
)
from summarize.settings import Config
from summarize.stages.guard import guard
from summarize.stages.read import read
from summarize.stages.summarize import summarize
from summarize.stages.translate import translate
from summarize.stages.write import describe_engines, write

__all__ = ["run_ray"]

log = logging.getLogger(__name__)

INSTALL = "pip install 'summarize[ray]'"
#: CPUs a read or write task reserves: a share, so that tasks always fit beside the actors
_TASK_CPUS = 0.25

Batch = dict[str, Any]


def run_ray(
    config: Config,
    planned: list[Planned],
    left_out: Sequence[Skipped] = (),
    *,
    address: str | None = None,
    force: bool = False,
    fail_fast: bool = False,
    progress: Progress | None = None,
    report: Report | None = None,
) -> Report:
    """Do the ``planned`` articles on Ray; never raises per article, reports like the local runner.

    The driver (this process) plans, claims every article to do and reports; the articles go
    through read, summarize, translate and write as one streamed Ray dataset in batches of
    ``runtime.wave_size``, the models in pools of ``ray.actors`` actors that load them once.
    ``address`` (or RAY_ADDRESS) joins a running cluster; without it, a Ray already started in
    this process is used, else a local one is started and shut down at the end. With
    ``fail_fast`` it stops at the first failure; on KeyboardInterrupt it stops and reports the
    rest not done (an article already in the pipeline may still be written, whole: the next run
    finds it up to date).

    Claims are taken here, on the driver, not in the workers: one process holds each claim's
    lock from before the article is read until its result is back, exactly as a local run
    does, so local runs, shard runs and Ray runs over one tree never do an article twice, and
    a worker that dies leaves no claim behind. They are released as each result comes back.
    """
    ray = import_ray()
    if any(item.job.path is None for item in planned):
        raise UsageError("--runner ray reads files; standard input ('-') needs the local runner")
    ctx = new_context(config, force, None, progress, report)
    pending = articles_to_do(planned, ctx, left_out, fail_fast=fail_fast)
    if not pending:
        return ctx.report
    check_models(config)  # a missing model fails here, before any article is claimed
    started_here = _connect(ray, address)
    try:
        _check_room(ray, config)
        ctx.progress.start(len(pending))
        mine = [slot for slot in pending if claim_article(slot, ctx)]
        if mine:
            _stream(ray, mine, ctx, fail_fast=fail_fast)
        if fail_fast and ctx.report.failures:
            report_not_done(pending, ctx.report, FAIL_FAST)
    except KeyboardInterrupt as exc:
        ctx.report.interrupted = getattr(exc, "signum", signal.SIGINT)
        report_not_done(pending, ctx.report, "not done: the run was interrupted")
    finally:
        release_claims(pending)
        if started_here:
            ray.shutdown()
    return ctx.report


def import_ray() -> Any:
    """The ``ray`` module with Ray Data; UsageError naming the extra to install without it."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise UsageError(f"--runner ray needs Ray ({exc}): {INSTALL}") from exc
    return ray


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` (or RAY_ADDRESS), the Ray this process already runs, or
    start a local one; whether it was started here (and so is to be shut down here)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address is not None:
        ray.init(address=address, **quiet)
        return True  # disconnects the driver only; the cluster goes on
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(include_dashboard=False, **quiet)
    return True


def _check_room(ray: Any, config: Config) -> None:
    """UsageError when the actor pools would reserve the CPUs the read and write tasks need:
    Ray would wait for them for ever, silently."""
    pools = int(config.needs_summarizer) + int(config.needs_translator)
    reserved = pools * config.ray.actors * config.ray.cpus_per_actor
    cpus = float(ray.cluster_resources().get("CPU", 0))
    if reserved + 2 * _TASK_CPUS > cpus:
        raise UsageError(
            f"[ray] {pools} pool(s) of ray.actors = {config.ray.actors} at ray.cpus_per_actor = "
            f"{config.ray.cpus_per_actor} reserve {reserved:g} of the cluster's {cpus:g} CPUs, "
            f"leaving less than {2 * _TASK_CPUS:g} to read and write: lower one of them"
        )


def _stream(ray: Any, mine: list[Slot], ctx: RunContext, *, fail_fast: bool) -> None:
    """Run ``mine`` through the pipeline, reporting each article as its result comes back."""
    config = ctx.config
    size = config.runtime.wave_size
    rows = [
        {"index": i, "article": pickle.dumps(slot.article), "engines": "{}"}
        for i, slot in enumerate(mine)
    ]
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # results, and so the report, in plan order
    context.enable_progress_bars = False  # the run's own progress says how far it is
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # not a line per dataset step
    data = ray.data.from_items(rows, override_num_blocks=-(-len(rows) // size))
    steps = {"batch_size": size, "batch_format": "numpy"}
    data = data.map_batches(_read_batch, fn_kwargs={"config": config}, num_cpus=_TASK_CPUS, **steps)
    pools = {
        "compute": ray.data.ActorPoolStrategy(size=config.ray.actors),
        "num_cpus": config.ray.cpus_per_actor,
        "num_gpus": config.ray.gpus_per_actor or None,
    }
    for role, needed in (
        ("summarizer", config.needs_summarizer),
        ("translator", config.needs_translator),
    ):
        if needed:
            kwargs = {"config": config, "role": role}
            data = data.map_batches(EngineActor, fn_constructor_kwargs=kwargs, **pools, **steps)
    write_kwargs = {"config": config, "signature": ctx.signature}
    data = data.map_batches(_write_batch, fn_kwargs=write_kwargs, num_cpus=_TASK_CPUS, **steps)
    refresh_every = config.runtime.claim_timeout / 4
    refreshed = time.monotonic()
    for index, result in _results(data):
        slot = mine[index]
        report_result(slot, ctx, result)
        release_claims([slot])
        if fail_fast and result.status is Status.FAILED:
            return
        if time.monotonic() - refreshed > refresh_every:
            refreshed = time.monotonic()
            for other in mine:  # a long run must not let another take its claims over
                if other.claim is not None:
                    other.claim.refresh()


def _results(data: Any) -> Iterator[tuple[int, Any]]:
    """Each article's index and result; an error of the tool's own inside Ray as itself."""
    try:
        for row in data.iter_rows():
            yield int(row["index"]), pickle.loads(row["result"])
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, SummarizeError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from exc
        raise


def _articles(batch: Batch) -> list[Article]:
    return [pickle.loads(blob) for blob in batch["article"]]


def _batch(batch: Batch, articles: list[Article], **columns: Any) -> Batch:
    import numpy as np

    packed = np.empty(len(articles), dtype=object)
    packed[:] = [pickle.dumps(article) for article in articles]
    return {"index": batch["index"], "article": packed, **columns}


def _read_batch(batch: Batch, config: Config) -> Batch:
    """The read stage, as a Ray task over one batch of articles."""
    articles = _articles(batch)
    read(articles, config.input)
    return _batch(batch, articles, engines=batch["engines"])


def _write_batch(batch: Batch, config: Config, signature: str) -> Batch:
    """The write stage, as a Ray task: outputs next to each input; the results to report."""
    import numpy as np

    results = np.empty(len(batch["index"]), dtype=object)
    for i, (article, engines) in enumerate(zip(_articles(batch), batch["engines"], strict=True)):
        (result,) = write([article], config, json.loads(engines), signature)
        results[i] = pickle.dumps(result)
    return {"index": batch["index"], "result": results}


class EngineActor:
    """An actor of a pool that holds one engine (the summarizer's or the translator's), loaded
    once, and runs its stage over each batch of articles."""

    def __init__(self, config: Config, role: str) -> None:
        self.config = config
        self.role = role
        self.engine = load_engine(role, config)
        engines = Models(self.engine, None) if role == "summarizer" else Models(None, self.engine)
        self.engines = engines
        self.info = describe_engines(engines)

    def __call__(self, batch: Batch) -> Batch:
        import numpy as np

        config, articles = self.config, _articles(batch)
        live = alive(articles)
        if live and self.role == "summarizer":
            summarize(live, self.engine, config.summarizer, config.runtime.batch_tokens)
        elif live:
            sources = [Source(target) for target in config.output.translate]
            translate(live, self.engine, config.translator, sources, config.runtime.batch_tokens)
        # The guard runs once, in the last engine's pool, with the translator to repair with.
        if live and (self.role == "translator" or not config.needs_translator):
            guard(live, self.engines, config)
        engines = np.empty(len(articles), dtype=object)
        engines[:] = [json.dumps({**json.loads(e), **self.info}) for e in batch["engines"]]
        return _batch(batch, articles, engines=engines)
