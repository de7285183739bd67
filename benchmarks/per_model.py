"""Each stand-in alone, through each engine: the speed column of the README's model guide.

A translator's stand-in is run with the summary turned off (``output.summarize = false``,
``output.translate = ["article"]``), a summarizer's with translation off, so that a run's
seconds are that one model's; an instruction model's stand-in plays each role in turn.
Everything else is as for b and c (contenders.run_tool): the same corpus, lengths, beams and
settings, the engine wrapped in a CountingBackend that counts the tokens asked for, loading
timed apart and never counted. Each model is measured next to the default model of its role,
in the same run, so that their ratio holds on a machine whose speed varies with other work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import contenders
import standins
import summary
from harness import Article, Result

ENGINES = ("transformers", "ctranslate2")
#: the settings that turn the other role off
_ALONE = {
    "summarizer": ["output.translate=[]"],
    "translator": ["output.summarize=false", 'output.translate=["article"]'],
}


@dataclass(frozen=True)
class Run:
    """One stand-in through one engine."""

    name: str
    engine: str
    result: Result
    role: str

    @property
    def tokens_per_second(self) -> float:
        return self.result.tokens / self.result.seconds

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "model": self.name,
            "stands_in_for": standins.STANDINS[self.name].model,
            "role": self.role,
            "engine": self.engine,
            "seconds": round(r.seconds, 2),
            "cpu_seconds": round(r.cpu_seconds, 2),
            "load_seconds": round(r.load_seconds, 2),
            "tokens_requested": r.tokens,
            "tokens_per_second": round(self.tokens_per_second, 2),
            "articles_per_minute": round(60 * r.articles / r.seconds, 2),
            "rows_stopped_early": r.summary.stopped_early + r.translation.stopped_early,
            "engine_calls": r.summary.calls + r.translation.calls,
            "note": r.note,
        }


def names(asked: str) -> list[str]:
    """The stand-ins ``--models`` names ("all", or a comma-separated list), each with the
    default model of its role first, so that every model has its reference in the run."""
    wanted = list(standins.STANDINS) if asked.strip() == "all" else asked.split(",")
    unknown = [n for n in (w.strip() for w in wanted) if n and n not in standins.STANDINS]
    if unknown:
        known = ", ".join(standins.STANDINS)
        raise SystemExit(f"--models: unknown stand-in {', '.join(unknown)}; choose from {known}")
    chosen = {w.strip() for w in wanted if w.strip()}
    chosen |= {_reference(role) for n in chosen for role in roles(n)}
    return [n for n in standins.STANDINS if n in chosen]  # the table's order


def roles(name: str) -> tuple[str, ...]:
    """The roles the stand-in ``name`` is measured in."""
    role = standins.STANDINS[name].role
    return ("summarizer", "translator") if role == "both" else (role,)


def _reference(role: str) -> str:
    return standins.SUMMARIZER if role == "summarizer" else standins.TRANSLATOR


def run_all(
    chosen: Sequence[str],
    articles: list[Article],
    work: Path,
    cache: Path,
    device: str,
    threads: int,
    extra: Sequence[str],
    repeats: int,
    say: Callable[[str], None],
    skip_engines: Sequence[str] = (),
) -> list[Run]:
    """Every chosen stand-in through every engine not in ``skip_engines``."""
    runs = []
    for name, role in ((n, r) for n in chosen for r in roles(n)):
        directory = standins.ensure(name, cache)
        # run_tool names both models; the other role's is never loaded (it is turned off).
        dirs = {
            "summarizer": cache / standins.SUMMARIZER,
            "translator": cache / standins.TRANSLATOR,
            role: directory,
        }
        for engine in (e for e in ENGINES if e not in skip_engines):
            say(f"{name} ({role}) alone, {engine} ...")
            result, _ = contenders.run_tool(
                f"{name}/{engine}",
                f"{name} alone, {engine}",
                engine,
                articles,
                work,
                dirs,
                device,
                threads,
                [*_ALONE[role], *extra],
                repeats,
            )
            run = Run(name, engine, result, role)
            runs.append(run)
            say(summary.line(result))
    return runs


def table(runs: Sequence[Run]) -> dict[str, Any]:
    """The runs, and per model its speed against its role's default model on each engine and
    CTranslate2's against transformers'."""
    by = {(r.name, r.engine, r.role): r for r in runs}
    rows = []
    for run in runs:
        row = run.as_dict()
        reference = by.get((_reference(run.role), run.engine, run.role))
        if reference is not None:
            row["speed_vs_default_model"] = round(
                run.tokens_per_second / reference.tokens_per_second, 2
            )
        other = by.get((run.name, "transformers", run.role))
        if run.engine == "ctranslate2" and other is not None:
            row["ctranslate2_vs_transformers"] = round(
                run.tokens_per_second / other.tokens_per_second, 2
            )
        rows.append(row)
    return {
        "note": "each stand-in alone (the other role turned off), same corpus and lengths as "
        "b and c; tokens are those asked for",
        "runs": rows,
    }


def print_table(found: dict[str, Any]) -> None:
    print("\nEach model alone (tokens asked for per second; x default model of its role):")
    print(
        f"  {'stand-in':26} {'role':11} {'engine':13} {'tokens/s':>9} {'x default':>10} "
        f"{'load s':>7}"
    )
    for row in found["runs"]:
        print(
            f"  {row['model']:26} {row['role']:11} {row['engine']:13} "
            f"{row['tokens_per_second']:9.1f} "
            f"{row.get('speed_vs_default_model', float('nan')):10.2f} "
            f"{row['load_seconds']:7.1f}"
        )
