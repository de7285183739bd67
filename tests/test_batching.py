"""Batching: identical options under a token budget, length-sorted, retried in halves, fitted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from summarize.backends import BatchRequest, GenerateOptions, Generation
from summarize.backends.echo import EchoBackend
from summarize.batching import Task, by_owner, generate, limit_origin
from summarize.discovery import Job
from summarize.records import Article, Stage


class Recording(EchoBackend):
    """Echo, recording each batch's input lengths and options; fails on a poisoned input."""

    def __init__(self, positions: int = 1_000_000, poison: str | None = None) -> None:
        super().__init__("echo", positions=positions)
        self.batches: list[list[int]] = []
        self.options: list[GenerateOptions] = []
        self.poison = poison

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        self.batches.append(self.count_tokens(texts))
        self.options.append(options)
        if self.poison is not None and any(self.poison in t for t in texts):
            raise ValueError("an input the model cannot take")
        return super().generate(texts, options)


class Together(Recording):
    """Recording, taking a wave's batches in one call as an engine with workers does; each
    batch's outcome its own (an input error is given back, not raised)."""

    def __init__(self, poison: str | None = None, error: Exception | None = None) -> None:
        super().__init__(poison=poison)
        self.waves: list[int] = []
        self.error = error

    def generate_batches(
        self, batches: Sequence[BatchRequest]
    ) -> list[list[Generation] | Exception]:
        self.waves.append(len(batches))
        outcomes: list[list[Generation] | Exception] = []
        for texts, options in batches:
            try:
                outcomes.append(self.generate(texts, options))
            except ValueError as exc:
                outcomes.append(exc)
        return outcomes if self.error is None else [self.error, *outcomes[1:]]


def owner(name: str) -> Article:
    return Article(Job(Path(name)), None, "new")


def task(article: Article, words: int, limit: int = 50, index: int = 0) -> Task:
    text = " ".join(f"{article.name}{i}" for i in range(words))
    return Task(article, index, text, words + 1, GenerateOptions(max_new_tokens=limit))


def test_batches_hold_identical_options_under_the_budget_widest_first() -> None:
    a, b = owner("a"), owner("b")
    tasks = [task(a, n, limit=20 + 40 * (n % 2)) for n in (3, 4, 5, 6, 30, 31)]
    tasks += [task(b, n) for n in (7, 8)]
    backend = Recording()
    generate(tasks, backend, batch_tokens=20, stage=Stage.TRANSLATE)
    assert sorted(n for batch in backend.batches for n in batch) == sorted(t.tokens for t in tasks)
    widths = [max(batch) for batch in backend.batches]
    assert widths == sorted(widths, reverse=True)
    for batch in backend.batches:
        assert max(batch) * len(batch) <= 20 or len(batch) == 1
        assert min(batch) >= max(batch) / 2
    # Each task's output is its own: the echo of its text, cut to its own limit.
    for t in tasks:
        assert t.result is not None
        assert t.result.text == " ".join(t.text.split()[: t.options.max_new_tokens])


def test_an_input_error_fails_only_its_owner_after_retrying_in_halves() -> None:
    good, bad = owner("good"), owner("bad")
    tasks = [task(good, 5), task(bad, 5), task(good, 6, index=1)]
    backend = Recording(poison="bad")
    generate(tasks, backend, batch_tokens=1000, stage=Stage.SUMMARIZE)
    assert bad.error == "bad: summarize failed: an input the model cannot take"
    assert good.error is None
    assert [t.result is not None for t in by_owner(tasks)[good]] == [True, True]
    assert len(backend.batches) > 1
    assert set(good.seconds) == {Stage.SUMMARIZE} and bad.seconds == {}


@pytest.mark.parametrize("error", [TypeError("bug"), NotImplementedError("todo")])
def test_a_programming_error_is_not_retried(error: Exception) -> None:
    class Broken(Recording):
        def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
            super().generate(texts, options)
            raise error

    backend = Broken()
    with pytest.raises(type(error)):
        generate([task(owner("a"), 3), task(owner("b"), 3)], backend, 100, Stage.TRANSLATE)
    assert len(backend.batches) == 1


def test_a_limit_past_the_model_is_capped_counted_and_said() -> None:
    article = owner("a")
    capped, kept = task(article, 3, limit=80), task(article, 3, limit=8)
    generate([capped, kept], Recording(positions=32), 1000, Stage.TRANSLATE)
    assert capped.options.max_new_tokens == 32 and capped.capped
    assert kept.options.max_new_tokens == 8 and not kept.capped
    assert article.counts.capped_by_model == 1
    assert limit_origin(capped, "x") == "32 tokens, all the model can generate"
    assert limit_origin(kept, "translator.max_length_ratio") == (
        "8 tokens, from translator.max_length_ratio"
    )


def test_a_batch_s_time_is_shared_by_input_tokens() -> None:
    a, b = owner("a"), owner("b")
    backend = Recording()
    generate([task(a, 29), task(b, 19)], backend, 1000, Stage.TRANSLATE)
    assert backend.batches == [[30, 20]]  # one batch, of 30 and 20 tokens
    assert a.seconds[Stage.TRANSLATE] == pytest.approx(1.5 * b.seconds[Stage.TRANSLATE])


def test_a_wave_s_batches_reach_an_engine_that_takes_them_together_each_alone() -> None:
    a, b = owner("a"), owner("b")
    tasks = [task(a, 5, limit=10), task(b, 5, limit=20), task(a, 6, limit=30, index=1)]
    backend = Together()
    generate(tasks, backend, batch_tokens=1000, stage=Stage.TRANSLATE)
    assert backend.waves == [3]  # one call for the three batches of different limits
    assert sorted(o.max_new_tokens for o in backend.options) == [10, 20, 30]
    for t in tasks:
        assert t.result is not None
        assert t.result.text == " ".join(t.text.split()[: t.options.max_new_tokens])
    assert set(a.seconds) == set(b.seconds) == {Stage.TRANSLATE}


def test_a_batch_that_failed_among_others_is_retried_alone_and_fails_only_its_owner() -> None:
    good, bad = owner("good"), owner("bad")
    tasks = [task(good, 5, limit=10), task(bad, 5, limit=20), task(good, 5, limit=20, index=1)]
    backend = Together(poison="bad")
    generate(tasks, backend, batch_tokens=1000, stage=Stage.SUMMARIZE)
    assert backend.waves == [2]
    assert bad.error == "bad: summarize failed: an input the model cannot take"
    assert good.error is None
    assert [t.result is not None for t in by_owner(tasks)[good]] == [True, True]
    # The failed batch of two was retried in halves, one call each.
    assert len(backend.batches) == 4


def test_a_programming_error_in_a_wave_is_not_retried() -> None:
    backend = Together(error=TypeError("bug"))
    tasks = [task(owner("a"), 3, limit=10), task(owner("b"), 3, limit=20)]
    with pytest.raises(TypeError, match="bug"):
        generate(tasks, backend, 100, Stage.TRANSLATE)
    assert len(backend.batches) == 2
