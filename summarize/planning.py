"""The plan of a run: which articles are out of date and why, before any model is loaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from summarize.config import Config
from summarize.discovery import Job, Skipped, find_inputs
from summarize.errors import UsageError
from summarize.outputs import Outputs, name_too_long, output_paths, overlaps
from summarize.state import assess, signature

__all__ = ["Planned", "plan"]


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
    """What :func:`~summarize.pipeline.run` would do with each article, without loading a model
    or writing a file.

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
