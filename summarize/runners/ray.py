"""The Ray runner: the same stages as Ray tasks and actor pools, batches moved on by the driver.

Each batch of articles goes from step to step under this process's control: reading and writing
run as Ray tasks, the summarizer and translator in pools of actors that hold the models.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from summarize.discovery import Skipped
from summarize.engines import check_models
from summarize.errors import SummarizeError, UsageError
from summarize.interrupts import STOP_SIGNALS, held
from summarize.planning import Planned
from summarize.progress import Progress
from summarize.report import ArticleResult, Report
from summarize.runners.bookkeeping import (
    FAIL_FAST,
    RunContext,
    Slot,
    articles_to_do,
    claim_article,
    new_context,
    refresh_claims,
    release_claims,
    report_not_done,
    report_result,
)
from summarize.runners.ray_connect import import_ray, init_ray
from summarize.runners.ray_tasks import EngineActor, read_task, write_task
from summarize.settings import Config
from summarize.stages.write import EngineInfo

__all__ = ["import_ray", "run_ray"]

log = logging.getLogger(__name__)
#: what a run is waiting for, shown unless -q (see cli._setup_logging)
status_log = logging.getLogger("summarize.progress.status")

#: CPUs a read or write task reserves: a share, so that tasks always fit beside the actors
_TASK_CPUS = 0.25
#: batches in flight per actor of a pool: one at work, one ready to follow it
_PER_ACTOR = 2
#: the longest one wait on Ray lasts: a stopped run waits no longer for its waiting thread
_WAIT_S = 0.5
#: an actor that dies (its node lost, out of memory) is started again, and its batch redone
_RETRIES = 2
#: the longest a stopped run waits for its read and write tasks in flight
_CLOSE_SECONDS = 60.0
_WRITE = "write"


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

    The driver (this process) plans, claims and reports; the articles go in batches of
    ``runtime.wave_size`` through read and write as Ray tasks, and through the summarizer and
    the translator in pools of ``ray.actors`` actors that load their model once. ``address``
    (or RAY_ADDRESS) joins a running cluster; without it, a Ray already started in this process
    is used, else a local one is started and shut down at the end. With ``fail_fast`` no batch
    starts a step after a failure. On KeyboardInterrupt (also while Ray starts or the models
    load) it stops between two steps: the batches being written are written and reported, the
    rest are reported not done, and nothing partial is left.

    Claims are taken here, on the driver, not in the workers: one process holds each claim's
    lock from before the article is read until its result is back, exactly as a local run
    does, so local runs, shard runs and Ray runs over one tree never do an article twice, and
    a worker that dies leaves no claim behind. A batch is claimed as it enters the pipeline,
    which holds ``2 x ray.actors`` batches per model pool at most, and released as its results
    come back: a run holds an open file per article in flight, not per article to do.
    """
    ray = import_ray(address, config.ray.connect_timeout)
    if any(item.job.path is None for item in planned):
        raise UsageError("--runner ray reads files; standard input ('-') needs the local runner")
    ctx = new_context(config, force, None, progress, report)
    pending = articles_to_do(planned, ctx, left_out, fail_fast=fail_fast)
    if not pending:
        return ctx.report
    check_models(config)  # a missing model fails here, before any article is claimed
    started_here = not ray.is_initialized()  # then shut down here; a cluster joined goes on
    waiter = _Waiter(ray)
    pipeline = _Pipeline(waiter, ctx, fail_fast=fail_fast)
    try:
        if started_here:
            _connect(waiter, address, config.ray.connect_timeout)
        _check_room(ray, config)
        pipeline.start()  # a model that cannot be loaded fails here, before any claim
        ctx.progress.start(len(pending))
        pipeline.run(pending)
        if fail_fast and ctx.report.failures:
            report_not_done(pending, ctx.report, FAIL_FAST)
    except KeyboardInterrupt as exc:
        ctx.report.interrupted = getattr(exc, "signum", signal.SIGINT)
        report_not_done(pending, ctx.report, "not done: the run was interrupted")
    finally:
        with held():  # the tasks in flight end before their claims go, whatever signal comes
            pipeline.close()
        release_claims(pending)
        waiter.close(shutdown=started_here)
    return ctx.report


def _connect(waiter: _Waiter, address: str | None, timeout: float) -> None:
    """Join the cluster at ``address`` (or RAY_ADDRESS), or start a local Ray.

    Ray's init runs in the waiting thread: in the main thread it would put its own SIGTERM
    handler in place (``sys.exit``), and a signal would cut the start in two, leaving a Ray
    half started that crashes the process as it exits. A run stopped meanwhile lets the start
    end (``timeout`` bounds it), then shuts Ray down (see :meth:`_Waiter.close`).
    """
    init_ray(waiter.call, waiter.ray, address, timeout)
    _reclaim_stop_signals()


def _reclaim_stop_signals() -> None:
    """Put the run's stop handlers back in front of Ray's crash handler, which takes SIGTERM (a
    stack dump, then an abort) when Ray was imported before :func:`import_ray` turned it off."""
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            handler = signal.getsignal(signum)
            if handler is not None:
                signal.signal(signum, handler)


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


@dataclass(eq=False)
class _Flight:
    """One batch of articles on its way through the steps: the slots it claimed, the step it
    is at and that step's result (the articles, and those that failed in it), the steps still
    to come, and in the end its results."""

    slots: list[Slot]
    ref: Any
    failed: Any
    steps: deque[str]
    step: str = "read"
    actor: Any = None
    #: the slots written, in the order of the write step's results
    written: list[Slot] = field(default_factory=list)
    results: list[ArticleResult] | None = None


class _Pipeline:
    """The actor pools of one run and the batches in flight through them."""

    def __init__(self, waiter: _Waiter, ctx: RunContext, *, fail_fast: bool) -> None:
        self.waiter, self.ray, self.ctx, self.fail_fast = waiter, waiter.ray, ctx, fail_fast
        config = ctx.config
        self.roles = [
            role
            for role, needed in (
                ("summarizer", config.needs_summarizer),
                ("translator", config.needs_translator),
            )
            if needed
        ]
        self.window = _PER_ACTOR * config.ray.actors * max(1, len(self.roles))
        self.pools: dict[str, dict[Any, int]] = {}  # per role: each actor's calls in flight
        self.engines: EngineInfo = {}
        self.flights: deque[_Flight] = deque()

    def start(self) -> None:
        """Start the pools and wait until every actor has loaded its model."""
        config, ray = self.ctx.config, self.ray
        options = {
            "num_cpus": config.ray.cpus_per_actor,
            "num_gpus": config.ray.gpus_per_actor,
            "max_restarts": _RETRIES,
            "max_task_retries": _RETRIES,
        }
        actor = ray.remote(EngineActor).options(**options)
        for role in self.roles:
            self.pools[role] = {actor.remote(config, role): 0 for _ in range(config.ray.actors)}
        described = [a.describe.remote() for pool in self.pools.values() for a in pool]
        started = time.perf_counter()
        status_log.info("loading models in %d actor(s)", len(described))
        for info in self.waiter.get(described):
            self.engines.update(info)
        status_log.info("models loaded in %.1f s", time.perf_counter() - started)
        task = {"num_cpus": _TASK_CPUS, "max_retries": _RETRIES}
        self.read = ray.remote(num_returns=2, **task)(read_task)
        self.write = ray.remote(**task)(write_task)

    def close(self) -> None:
        """End the actors (on a cluster joined, they would outlive the run), then let the read
        and write tasks still in flight end before their claims go.

        Never ray.cancel: a cancelled task that completes meanwhile trips a check in Ray's core
        worker ("Tried to complete task that was not pending"), which aborts this process.
        """
        for pool in self.pools.values():
            for actor in pool:
                with contextlib.suppress(Exception):
                    self.ray.kill(actor)
        refs = [flight.ref for flight in self.flights]
        if refs:
            with contextlib.suppress(Exception):
                self.waiter.call(self.ray.wait, refs, num_returns=len(refs), timeout=_CLOSE_SECONDS)

    def run(self, pending: list[Slot]) -> None:
        """Move ``pending`` through the steps, reporting each batch in order as it is written."""
        size = self.ctx.config.runtime.wave_size
        waves = deque(pending[i : i + size] for i in range(0, len(pending), size))
        refreshed = time.monotonic()
        try:
            while not self._stopping():
                while waves and len(self.flights) < self.window:
                    self._take_off(waves.popleft())
                if not self.flights:
                    return
                self._step()
                if time.monotonic() - refreshed > self.ctx.config.runtime.claim_timeout / 4:
                    refreshed = time.monotonic()
                    for flight in self.flights:  # a long run must not let another take them
                        refresh_claims(list(flight.slots), self.ctx)
            self._land()
        except KeyboardInterrupt:
            self._land()
            raise

    def _stopping(self) -> bool:
        return self.fail_fast and bool(self.ctx.report.failures)

    def _take_off(self, wave: list[Slot]) -> None:
        mine = [slot for slot in wave if claim_article(slot, self.ctx)]
        if mine and not self._stopping():  # a claim it could not take is a failure too
            articles = [slot.article for slot in mine]
            ref, failed = self.read.remote(articles, self.ctx.config.input)
            self.flights.append(_Flight(mine, ref, failed, deque([*self.roles, _WRITE])))

    def _step(self) -> None:
        """Wait for a step to end; start each batch that ended one on its next step, and report
        the batches written, in the order they entered."""
        moving = {f.ref: f for f in self.flights if f.results is None}
        ended = [moving[ref] for ref in self.waiter.ready(list(moving))]
        for flight in ended:
            self._arrive(flight)
        for flight in ended:
            if flight.results is None and not self._stopping():
                self._depart(flight)
        while self.flights and self.flights[0].results is not None:
            self._report(self.flights.popleft())

    def _arrive(self, flight: _Flight) -> None:
        """A step of ``flight`` ended: its results if it was written; with --fail-fast, the
        articles that failed in it, reported at once."""
        if flight.actor is not None:
            self.pools[flight.step][flight.actor] -= 1
            flight.actor = None
        if flight.step == _WRITE:
            (flight.results,) = self.waiter.get([flight.ref])
        elif self.fail_fast:
            (failed,) = self.waiter.get([flight.failed])
            for i, result in failed:
                report_result(flight.slots[i], self.ctx, result)

    def _depart(self, flight: _Flight) -> None:
        """Start ``flight`` on its next step."""
        step = flight.steps[0]
        if step == _WRITE:
            # As the local runner does before writing: an article another run took over is its.
            refresh_claims(list(flight.slots), self.ctx)
            written = [slot for slot in flight.slots if slot.claim is not None]
            keep = [i for i, slot in enumerate(flight.slots) if slot.claim is not None]
            config, signature = self.ctx.config, self.ctx.signature
            with held():  # a stop between the two would wait for the wrong step
                flight.ref = self.write.remote(flight.ref, keep, config, self.engines, signature)
                flight.step, flight.written = flight.steps.popleft(), written
            return
        pool = self.pools[step]
        actor = min(pool, key=pool.__getitem__)  # the least busy
        with held():
            flight.ref, flight.failed = actor.run.options(num_returns=2).remote(flight.ref)
            flight.step, flight.actor = flight.steps.popleft(), actor
            pool[actor] += 1

    def _report(self, flight: _Flight) -> None:
        for slot, result in zip(flight.written, flight.results or [], strict=True):
            if not slot.reported:
                report_result(slot, self.ctx, result)
        release_claims(flight.slots)

    def _land(self) -> None:
        """Stopping: the batches being written finish and are reported (their files are being
        written); the others start no other step, and are left to be reported not done."""
        writing = [f for f in self.flights if f.step == _WRITE and f.results is None]
        if writing:
            for flight, results in zip(
                writing, self.waiter.get([f.ref for f in writing]), strict=True
            ):
                flight.results = results
        for flight in self.flights:
            if flight.results is not None:
                self._report(flight)
        self.flights = deque(f for f in self.flights if f.results is None)


class _Waiter:
    """Ray's blocking calls, made in a thread of their own.

    Inside them Ray runs the signal handlers itself and turns whatever they raise into a bare
    KeyboardInterrupt: the run would no longer know which signal stopped it (SIGTERM exits 143,
    not 130). The main thread waits on that thread instead, where the handler raises as itself.
    Each wait is short, so a stopped run is not kept waiting on it; an error of the tool's own
    in a worker is raised as itself.
    """

    def __init__(self, ray: Any) -> None:
        self.ray = ray
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ray-wait")

    def ready(self, refs: list[Any], *, every: bool = False) -> list[Any]:
        """Those of ``refs`` whose task has ended, once one has (``every``: once all have);
        their values stay where they are."""
        wanted = len(refs) if every else 1
        while True:
            done, _ = self.call(
                self.ray.wait, refs, num_returns=wanted, timeout=_WAIT_S, fetch_local=False
            )
            if len(done) >= wanted:
                return list(done)

    def get(self, refs: list[Any]) -> list[Any]:
        """The values of ``refs``, once their tasks have all ended."""
        self.ready(refs, every=True)
        return list(self.call(self.ray.get, refs))

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.thread.submit(function, *args, **kwargs).result()
        except Exception as exc:
            own = _own_error(exc)
            if own is None:
                raise
            raise own from exc

    def close(self, *, shutdown: bool) -> None:
        """Let the call under way end (a Ray start, say), then shut Ray down if ``shutdown``, in
        that same thread: the processes of a local Ray die with the thread that started them."""
        try:
            if shutdown:
                self.thread.submit(self.ray.shutdown).result()
        finally:
            self.thread.shutdown(wait=True)


def _own_error(exc: BaseException) -> SummarizeError | None:
    """The tool's own error inside one Ray raised (a model that cannot be loaded, say)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        inner = getattr(cause, "cause", None)  # a RayTaskError: what the worker raised
        if isinstance(inner, BaseException):
            cause = inner
        elif isinstance(cause, SummarizeError):
            return cause
        else:
            cause = cause.__cause__ or cause.__context__
    return None
