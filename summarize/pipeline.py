"""The run: plan what is out of date, load the engines it needs, and hand it to a runner."""

from __future__ import annotations

import functools
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import BinaryIO

from summarize.discovery import Skipped
from summarize.engines import Models, load_models, needed_models
from summarize.errors import UsageError
from summarize.planning import Planned, Shard, plan
from summarize.progress import Progress
from summarize.report import Report
from summarize.runners.local import run_local
from summarize.settings import Config

__all__ = ["RUNNERS", "Models", "Planned", "Progress", "load_models", "plan", "run"]

#: where the articles are done (``--runner``)
RUNNERS = ("local", "ray")
#: a path as the API takes it: a string or any path-like object
PathArg = str | os.PathLike[str]


def run(
    config: Config,
    paths: PathArg | Sequence[PathArg],
    *,
    force: bool = False,
    output_dir: PathArg | None = None,
    fail_fast: bool = False,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
    models: Models | None = None,
    report: Report | None = None,
    exclude: Sequence[Path] = (),
    shard: Shard | None = None,
    runner: str = "local",
    ray_address: str | None = None,
    only: Collection[str] | None = None,
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
    out are reported as skipped. With ``shard`` only that share of the articles is seen (see
    :class:`~summarize.planning.Shard`). The articles go through the ``runner``: ``"local"``
    (this process), or ``"ray"`` (a Ray cluster at ``ray_address``, or a local Ray; see
    :func:`~summarize.runners.ray.run_ray`), which loads its models in its own actors.
    With ``only``, just the articles (and left-out paths) of those names are planned and
    reported: a run that takes over what a lost server did not finish.
    """
    if runner not in RUNNERS:
        raise UsageError(f"runner {runner!r}: choose one of {', '.join(RUNNERS)}")
    output_dir = None if output_dir is None else Path(output_dir)
    if runner == "ray" and models is not None:
        raise UsageError("the Ray runner loads its models in its actors: pass no models")
    if runner == "ray":
        from summarize.runners.ray import import_ray  # imports ray: only when asked for

        import_ray(ray_address, config.ray.connect_timeout)  # missing: says what to install
    if models is not None:
        models = needed_models(models, config)
    left_out: list[Skipped] = []
    planned = plan(
        config,
        _path_list(paths),
        force=force,
        output_dir=output_dir,
        exclude=exclude,
        skipped=left_out,
        shard=shard,
    )
    if only is not None:
        planned = [p for p in planned if p.job.name in only]
        left_out = [s for s in left_out if s.name in only]
    report = report if report is not None else Report()
    report.shard = None if shard is None else str(shard)
    if runner == "ray":
        from summarize.runners.ray import run_ray

        return run_ray(
            config,
            planned,
            left_out,
            address=ray_address,
            force=force,
            fail_fast=fail_fast,
            progress=progress,
            report=report,
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


def _path_list(paths: PathArg | Sequence[PathArg]) -> list[str]:
    """``paths`` as strings; one path alone is one path, not a sequence of one-letter paths."""
    if isinstance(paths, str | os.PathLike):
        return [os.fspath(paths)]
    return [os.fspath(path) for path in paths]


def _given_or_loaded(models: Models | None, config: Config) -> Models:
    return models or load_models(config)
