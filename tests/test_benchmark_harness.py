"""The benchmark's harness: CountingBackend over a real pipeline run, tallies, ratios, the table."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from summarize import Models, load_config, load_models, run
from summarize.backends import Backend, GenerateOptions, Generation
from tests.conftest import ECHO, ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import contenders
import summary
from harness import (
    REQUESTED,
    SUMMARY_TOKENS,
    CountingBackend,
    Result,
    Tally,
    count_rows,
    requested_translation,
    timed,
)

ECHO_SETTINGS = ECHO[1::2]


def echo_models() -> Models:
    return load_models(load_config(None, ECHO_SETTINGS))


def test_counting_backend_passes_calls_through_and_records_them() -> None:
    inner = echo_models().translator
    assert inner is not None
    counting = CountingBackend(inner, requested_translation)
    assert (counting.model_id, counting.device, counting.dtype) == ("echo", "cpu", "none")
    texts = [">>ara<< one two three four", ">>ara<< five six"]
    options = GenerateOptions(max_new_tokens=3)

    outputs = counting.generate(texts, options)

    assert outputs == inner.generate(texts, options)
    assert [o.text for o in outputs] == ["one two three", "five six"]
    assert counting.count_tokens(texts) == inner.count_tokens(texts) == [6, 4]
    [call] = counting.calls
    assert call.texts == texts and call.options == options and call.outputs == outputs
    assert isinstance(call.seconds, float)  # each call carries its duration
    tally = counting.tally()
    # asked: ceil(1.2 x source tokens) a row; decoded: every row runs to the call's limit
    assert tally == Tally(rows=2, requested=8 + 5, decoded=6, stopped_early=1, calls=1)


def test_counting_backends_see_every_call_of_a_pipeline_run(seeds_copy: Path) -> None:
    loaded = echo_models()
    assert loaded.summarizer is not None and loaded.translator is not None
    counting = {
        "summarizer": CountingBackend(loaded.summarizer, REQUESTED["summarizer"]),
        "translator": CountingBackend(loaded.translator, REQUESTED["translator"]),
    }
    config = load_config(None, ECHO_SETTINGS)
    articles = len(list(seeds_copy.glob("*.txt")))

    report = run(
        config, [str(seeds_copy)], models=Models(counting["summarizer"], counting["translator"])
    )

    assert report.exit_code == 0
    summaries = counting["summarizer"].tally()
    translations = counting["translator"].tally()
    assert summaries.calls >= 1 and translations.calls >= 1
    assert summaries.rows == articles >= 1
    assert summaries.requested == SUMMARY_TOKENS * summaries.rows
    translated = [text for call in counting["translator"].calls for text in call.texts]
    assert translations.rows == len(translated)
    # The stage sends the text alone: the engine puts before it what the model's family needs.
    assert translated and not any(text.startswith(">>") for text in translated)
    assert translations.requested == sum(
        map(requested_translation, loaded.translator.count_tokens(translated))
    )


def test_count_rows_and_timed() -> None:
    tally = Tally()
    count_rows(tally, [5, 3], [5, 4], [False, True])
    count_rows(tally, [2], [2], [False])
    assert tally == Tally(rows=3, requested=11, decoded=10, stopped_early=1, calls=2)
    other = Tally(rows=1, requested=1, decoded=1, stopped_early=0, calls=1)
    tally.add(other)
    assert tally.rows == 4 and tally.calls == 3

    runs: list[str] = []
    seconds, cpu, note = timed(lambda: runs.append("run"), 3, lambda: runs.append("prepare"))
    assert runs == ["prepare", "run"] * 3
    assert isinstance(seconds, float) and isinstance(cpu, float)
    assert note.startswith("; best of ")
    assert timed(lambda: None)[2] == ""


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (10, [1, 1], [5, 5]),
        (10, [3, 1], [8, 2]),
        (10, [2, 2, 1], [4, 4, 2]),
        (3, [5, 0, 0], [3, 1, 1]),
    ],
)
def test_share_splits_a_total_by_weight(total: int, weights: list[int], parts: list[int]) -> None:
    got = contenders.share(total, weights)
    assert got == parts
    assert sum(got) >= total and min(got) >= 1  # every sentence gets a token


def result(key: str, seconds: float, summary_tokens: int, translation_tokens: int) -> Result:
    return Result(
        key,
        f"contender {key}",
        2,
        seconds,
        seconds,
        1.0,
        Tally(rows=2, requested=summary_tokens, decoded=summary_tokens, calls=1),
        Tally(rows=4, requested=translation_tokens, decoded=translation_tokens, calls=2),
    )


def test_ratios_compare_throughput_on_equal_work_and_the_table_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = {"a": result("a", 40.0, 160, 240), "b": result("b", 10.0, 160, 240)}
    contenders.project_baseline(results["a"], 2, 240)  # timed on all: nothing to project

    ratios = summary.ratios(results)
    assert ratios == {"b/a": 4.0, "b/a (cpu time)": 4.0}
    out = {
        "contenders": {k: r.as_dict(2) for k, r in results.items()},
        "ratios": ratios,
        "work_check": summary.work_check(results),
    }
    out["targets"] = summary.targets(out)
    assert out["targets"]["b/a"] == {"value": 4.0, "target": ">= 4.0", "met": True}
    assert out["work_check"]["a"] == out["work_check"]["b"]
    summary.print_summary(out)
    printed = capsys.readouterr().out
    assert "contender b" in printed and "b/a: 4.0" in printed and "met" in printed


def test_a_sampled_baseline_is_projected_to_the_whole_corpus() -> None:
    a = result("a", 30.0, 80, 100)
    a.articles, a.per_summary, a.per_token = 1, 10.0, 0.2
    contenders.project_baseline(a, 4, 400)
    assert a.projected_tokens == 4 * SUMMARY_TOKENS + 400
    assert a.projected_seconds == pytest.approx(4 * 10.0 + 400 * 0.2)
    assert "projected to all 4" in a.note


class _EmptyFirstTry:
    """The echo engine, but a translation's first try comes back empty: the output guard
    retries every segment with its own (stronger) decoding, in batches of its own."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.model_id, self.device, self.dtype = inner.model_id, inner.device, inner.dtype
        self.engine, self.family = inner.engine, inner.family
        self.max_input_tokens = inner.max_input_tokens
        self.max_output_tokens = inner.max_output_tokens
        self.context_tokens = inner.context_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        outputs = self.inner.generate(texts, options)
        if options.repetition_penalty == 1.0:  # not a guard's retry
            return [Generation("", output.hit_limit) for output in outputs]
        return outputs


def test_the_server_benchmarks_profile_reads_every_batch_the_run_logs(
    seeds_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from server import Profile

    loaded = echo_models()
    assert loaded.translator is not None
    counting = CountingBackend(_EmptyFirstTry(loaded.translator), requested_translation)
    config = load_config(None, ECHO_SETTINGS)
    caplog.set_level(logging.DEBUG, logger="summarize.batching")
    report = run(config, [str(seeds_copy)], models=Models(loaded.summarizer, counting))
    assert report.exit_code == 0

    profile = Profile.read(9.0, [record.getMessage() for record in caplog.records])

    first = [len(c.texts) for c in counting.calls if c.options.repetition_penalty == 1.0]
    retries = [len(c.texts) for c in counting.calls if c.options.repetition_penalty != 1.0]
    assert first and retries  # the guard did retry
    assert sorted(profile.batches["translate"]) == sorted(first)
    assert sorted(profile.batches["guard"]) == sorted(retries)
    assert profile.batches["summarize"] == [1]  # the one seed article
    assert profile.shape("translate") == f"{len(first)} of {sum(first) / len(first):.1f} inputs"
    assert profile.shape("guard") == f"{len(retries)} of {sum(retries) / len(retries):.1f} inputs"
    assert isinstance(profile.engine, float)


@pytest.mark.parametrize(
    "script",
    sorted(
        p.name
        for p in (ROOT / "benchmarks").glob("*.py")
        if 'if __name__ == "__main__"' in p.read_text(encoding="utf-8")
    ),
)
def test_every_benchmark_script_starts(script: str) -> None:
    # A script broken by a move in the package (an import that no longer resolves) is found
    # here, not by the next person who measures with it.
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
