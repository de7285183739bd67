"""The plan of a run: which articles are out of date and why, before any model is loaded."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from summarize.discovery import Job, Skipped, find_inputs
from summarize.errors import UsageError
from summarize.identity import settings_identity
from summarize.outputs import Outputs, name_too_long, output_paths, overlaps
from summarize.settings import Config
from summarize.state import assess

__all__ = ["Planned", "Shard", "named_outputs", "no_cycle_collection", "plan"]


_SHARD = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` (``--shard K/N``): a fixed share of the articles of a tree.

    An article belongs to the shard its path below its root hashes to, so the N shards are
    disjoint and cover every article whatever the discovery order, the machine or which
    articles are already done: N processes (a Slurm array, a Kubernetes indexed Job, one per
    GPU) can each take one without talking to each other.
    """

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` with 0 <= K < N; ValueError naming what is wrong otherwise."""
        match = _SHARD.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not K/N (e.g. 0/4: the first of four shards)")
        index, count = int(match[1]), int(match[2])
        if count < 1:
            raise ValueError(f"{text!r}: N, the number of shards, must be 1 or more")
        if index >= count:
            last = "0" if count == 1 else f"0 to {count - 1}"
            raise ValueError(f"{text!r}: K must be less than N: {last} for {count} shard(s)")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, job: Job) -> bool:
        """Whether ``job`` is this shard's: by a stable hash of its path below its root."""
        assert job.path is not None
        try:
            where = job.path.relative_to(job.root or job.path.parent)
        except ValueError:  # not below its root as written: its name is what is stable
            where = Path(job.path.name)
        digest = hashlib.sha256(os.fsencode(where.as_posix())).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index


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
    shard: Shard | None = None,
) -> list[Planned]:
    """What :func:`~summarize.pipeline.run` would do with each article, without loading a model
    or writing a file.

    Every output path of every article is planned first, and articles whose outputs overlap
    (each other's, or an input) are refused. Reasons: new, input changed, settings changed,
    outputs missing, outputs renamed (the sidecar records other files), sidecar unreadable,
    sidecar malformed, forced. Paths left out by discovery go to ``skipped``; files in
    ``exclude`` and under ``output_dir`` are never inputs. With a
    ``shard``, only its articles are planned (collisions are still judged over all of them, so
    every shard refuses the same ones); standard input is then a UsageError.
    """
    if output_dir is not None and output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"{output_dir}: --output-dir is not a directory")
    sig = settings_identity(config).outputs
    own = [*exclude, output_dir] if output_dir is not None else list(exclude)
    with no_cycle_collection():
        jobs = find_inputs(paths, config.input, config.reserved_names, exclude=own, skipped=skipped)
        if shard is not None and any(job.path is None for job in jobs):
            raise UsageError("--shard divides files and directories; standard input ('-') has none")
        named, refused = named_outputs(config, jobs, output_dir)
        return _planned(jobs, named, refused, sig, force=force, shard=shard)


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Planning makes a few records per article (and the report one result per article up to
    date) that all live to the end of the run, in no reference cycle: the cyclic collector's
    passes over them, ever longer as they pile up, cost a tenth of a no-op rerun over 10,000
    articles (any cycle is collected later)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _planned(
    jobs: list[Job],
    named: dict[Job, Outputs],
    refused: dict[Job, str],
    sig: str,
    *,
    force: bool,
    shard: Shard | None,
) -> list[Planned]:
    planned = []
    for job in jobs:
        if shard is not None and not shard.holds(job):
            continue
        if job.path is None:
            planned.append(Planned(job, None, "stdin"))  # writes nothing, so overlaps nothing
        elif job in refused:
            planned.append(Planned(job, named[job], refused[job], refused=True))
        else:
            planned.append(_plan_file(job, job.path, named[job], sig, force))
    return planned


def named_outputs(
    config: Config, jobs: Sequence[Job], output_dir: Path | None
) -> tuple[dict[Job, Outputs], dict[Job, str]]:
    """The output files of each file among ``jobs``, and those refused because their outputs
    collide with another article's (or its reference files), with the reason naming it."""
    named = {
        job: output_paths(job.path, config.output, output_dir, job.root)
        for job in jobs
        if job.path is not None
    }
    references = [t for key, t in config.templates.items() if key.startswith("eval.")]
    return named, overlaps(list(named.items()), references)


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
