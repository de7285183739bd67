"""The benchmark's harness: the articles, a Backend wrapper that counts each call, and results."""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import corpus

from summarize.backends import Backend, GenerateOptions, Generation

SUMMARY_TOKENS = 80
TRANSLATION_RATIO = 1.2
BEAMS = 4
PREFIX = ">>ara<<"


def requested_translation(tokens: int) -> int:
    """New tokens asked for a source of ``tokens`` tokens (prefix and </s> included)."""
    return math.ceil(tokens * TRANSLATION_RATIO)


def requested_summary(_source: int) -> int:
    """New tokens asked for a summary, whatever the source's length."""
    return SUMMARY_TOKENS


REQUESTED: dict[str, Callable[[int], int]] = {
    "summarizer": requested_summary,
    "translator": requested_translation,
}


# --- the articles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    path: Path
    text: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def write_corpus(
    folder: Path, count: int, min_words: int, max_words: int, seed: int
) -> list[Article]:
    """``count`` articles as files in ``folder``; the repository's seed article first."""
    from summarize.text import parse

    folder.mkdir(parents=True, exist_ok=True)
    articles = []
    for i, text in enumerate(corpus.make_corpus(count, seed, min_words, max_words)):
        # Store seed articles as the tool would see them after cleanup (no repeated title, no
        # site furniture), so that the baseline, which does no cleanup, gets the same text.
        doc = parse(text.encode("utf-8"), f"article {i}")
        clean = doc.text + "\n"
        path = folder / f"article{i:05d}.txt"
        path.write_text(clean, encoding="utf-8")
        articles.append(Article(path, clean))
    return articles


def copy_corpus(articles: list[Article], folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for a in articles:
        shutil.copy2(a.path, folder / a.path.name)
    return folder


# --- counting -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """Tokens one engine generated: asked for (the work) and decoded (incl. batch padding)."""

    rows: int = 0
    requested: int = 0
    decoded: int = 0
    stopped_early: int = 0  # rows that ended before their call's length limit
    calls: int = 0

    def add(self, other: Tally) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class Call:
    """One generate() call as an engine saw it: texts, options, outputs and its seconds."""

    texts: list[str]
    options: GenerateOptions
    outputs: list[Generation]
    seconds: float


class CountingBackend:
    """Wraps any summarize Backend: passes every call through and records it (see ``tally``).

    Recording is a list append; the tokens are counted afterwards, so that the time measured
    is the engine's. ``requested`` gives the new tokens a row asks for from its source tokens.
    """

    def __init__(self, inner: Backend, requested: Callable[[int], int]) -> None:
        self.inner = inner
        self.requested = requested
        self.model_id = inner.model_id
        self.device = inner.device
        self.dtype = inner.dtype
        self.engine = inner.engine
        self.family = inner.family
        self.max_input_tokens = inner.max_input_tokens
        self.max_output_tokens = inner.max_output_tokens
        self.context_tokens = inner.context_tokens
        self.calls: list[Call] = []

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        started = time.perf_counter()
        outputs = self.inner.generate(texts, options)
        seconds = time.perf_counter() - started
        self.calls.append(Call(list(texts), options, list(outputs), seconds))
        return outputs

    def tally(self) -> Tally:
        """The tokens of the recorded calls: asked for per row, and decoded. Every row of a
        batch decodes until its call's limit (the longest row's) unless it ended early."""
        tally = Tally()
        for call in self.calls:
            tally.calls += 1
            tally.rows += len(call.texts)
            tally.requested += sum(map(self.requested, self.inner.count_tokens(call.texts)))
            tally.decoded += len(call.texts) * call.options.max_new_tokens
            tally.stopped_early += sum(not output.hit_limit for output in call.outputs)
        return tally


def count_rows(
    tally: Tally, decoded: Sequence[int], requested: Sequence[int], early: Sequence[bool]
) -> None:
    """Add one engine call to ``tally``: per row, the tokens decoded and asked for, and
    whether it ended before the call's length limit."""
    tally.calls += 1
    tally.rows += len(decoded)
    tally.decoded += sum(decoded)
    tally.requested += sum(requested)
    tally.stopped_early += sum(early)


# --- what one contender did ---------------------------------------------------------------------


@dataclass
class Result:
    key: str
    label: str
    articles: int
    seconds: float
    cpu_seconds: float
    load_seconds: float
    summary: Tally = field(default_factory=Tally)
    translation: Tally = field(default_factory=Tally)
    verified: str = ""
    note: str = ""
    # a only, when timed on a sample: seconds per summary and per translated token, and from
    # them its seconds for the whole corpus's work (tokens as b asked for them)
    per_summary: float = 0.0
    per_token: float = 0.0
    projected_seconds: float | None = None
    projected_tokens: int | None = None
    # b, c: the seconds the tool's report gives each stage (summed over articles)
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.summary.requested + self.translation.requested

    @property
    def work_seconds(self) -> float:
        """Seconds for the whole corpus (measured, or projected for a sampled baseline)."""
        return self.projected_seconds if self.projected_seconds is not None else self.seconds

    @property
    def work_tokens(self) -> int:
        """Tokens of the whole corpus (measured, or projected for a sampled baseline)."""
        return self.projected_tokens if self.projected_tokens is not None else self.tokens

    def as_dict(self, corpus_articles: int) -> dict[str, Any]:
        return {
            "label": self.label,
            "articles": self.articles,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "load_seconds": round(self.load_seconds, 3),
            "articles_per_minute": round(60 * self.articles / self.seconds, 3),
            "tokens_per_second": round(self.tokens / self.seconds, 2),
            "summary_tokens_per_second": _rate(self.summary.requested, self.seconds),
            "translation_tokens_per_second": _rate(self.translation.requested, self.seconds),
            "tokens": {
                "summary": dataclasses.asdict(self.summary),
                "translation": dataclasses.asdict(self.translation),
                "total_requested": self.tokens,
            },
            "verified": self.verified,
            "projected_seconds_for_corpus": (
                None if self.projected_seconds is None else round(self.projected_seconds, 2)
            ),
            "projected_tokens_for_corpus": self.projected_tokens,
            "corpus_articles_per_minute": round(60 * corpus_articles / self.work_seconds, 3),
            "corpus_tokens_per_second": round(self.work_tokens / self.work_seconds, 2),
            "tool_stage_seconds": self.stages or None,
            "note": self.note,
        }


def _rate(tokens: int, seconds: float) -> float:
    return round(tokens / seconds, 2) if seconds else 0.0


def timed(
    run: Callable[[], Any], repeats: int = 1, prepare: Callable[[], Any] = lambda: None
) -> tuple[float, float, str]:
    """Wall and CPU seconds of the fastest of ``repeats`` runs (each after an untimed
    ``prepare``), and a note naming them all when there are several."""
    times = []
    for _ in range(repeats):
        prepare()
        cpu = time.process_time()
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    seconds, cpu_seconds = min(times)
    note = "" if len(times) < 2 else "; best of " + ", ".join(f"{t:.1f}" for t, _ in times) + " s"
    return seconds, cpu_seconds, note
