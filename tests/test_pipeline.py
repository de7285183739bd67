"""Pipeline logic with the model-free echo engine: completeness, map-reduce, batching, failures."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from summarize import Models, run
from summarize.backends import GenerateOptions, Generation
from summarize.backends.echo import EchoBackend
from summarize.config import load_config
from summarize.report import Status
from summarize.settings import Config
from tests.conftest import ECHO_SETTINGS

ECHO = ECHO_SETTINGS


def echo_config(*overrides: str) -> Config:
    return load_config(None, [*ECHO, *overrides])


def article(paragraphs: int, sentences: int, tag: str = "") -> str:
    return "\n\n".join(
        " ".join(
            f"In paragraph {tag}{p} sentence {s} the council discussed item {p * 100 + s}."
            for s in range(sentences)
        )
        for p in range(paragraphs)
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_sentence_is_translated_once_and_in_order(tmp_path: Path) -> None:
    text = article(paragraphs=12, sentences=9)
    source = write(tmp_path / "long.txt", text)
    # A small budget forces several segments per paragraph.
    report = run(echo_config("translator.max_input_tokens=40"), [str(source)])
    assert report.exit_code == 0
    translated = (tmp_path / "long.ar.txt").read_text(encoding="utf-8").rstrip("\n")
    assert translated.split("\n\n") == text.split("\n\n")  # paragraph for paragraph, word for word
    sidecar = json.loads((tmp_path / "long.summarize.json").read_text(encoding="utf-8"))
    assert sidecar["counts"]["article_segments"] > 12
    assert sidecar["counts"]["sentences"] == 12 * 9


def test_article_over_the_summarizer_input_goes_map_reduce(tmp_path: Path) -> None:
    source = write(tmp_path / "long.txt", article(paragraphs=10, sentences=10))
    config = echo_config(
        "summarizer.max_input_tokens=200", "summarizer.max_length=40", "summarizer.min_length=5"
    )
    run(config, [str(source)])
    sidecar = json.loads((tmp_path / "long.summarize.json").read_text(encoding="utf-8"))
    assert sidecar["map_reduce"] is True
    assert sidecar["counts"]["summary_chunks"] > 1
    assert sidecar["counts"]["summary_rounds"] >= 2
    assert any("map-reduce" in note for note in sidecar["notes"])
    assert not any("map-reduce" in w for w in sidecar["warnings"])  # a note flags nothing
    summary = (tmp_path / "long.summary.txt").read_text(encoding="utf-8")
    assert 0 < len(summary.split()) <= 40
    # Echo keeps the head of each chunk, so the summary starts where the article does.
    assert summary.startswith("In paragraph 0 sentence 0")


def test_short_article_is_summarised_in_one_pass(tmp_path: Path) -> None:
    source = write(tmp_path / "short.txt", article(paragraphs=2, sentences=2))
    run(echo_config(), [str(source)])
    sidecar = json.loads((tmp_path / "short.summarize.json").read_text(encoding="utf-8"))
    assert sidecar["map_reduce"] is False
    assert sidecar["counts"]["summary_chunks"] == 1


def test_articles_batched_together_get_their_own_results(tmp_path: Path) -> None:
    sources = [write(tmp_path / f"a{i}.txt", article(3, 3, tag=f"A{i}-")) for i in range(7)]
    config = echo_config("runtime.wave_size=3", "runtime.batch_tokens=200")
    report = run(config, [str(tmp_path)])
    assert report.count(Status.DONE) == 7
    for source in sources:
        ar = source.with_name(source.stem + ".ar.txt").read_text(encoding="utf-8").rstrip("\n")
        assert ar.split("\n\n") == source.read_text(encoding="utf-8").split("\n\n")


def test_one_bad_file_fails_alone(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", article(2, 2))
    (tmp_path / "bad.txt").write_bytes(b"Caf\xe9 news.")
    write(tmp_path / "empty.txt", "")
    report = run(echo_config(), [str(tmp_path)])
    assert report.exit_code == 1
    assert report.count(Status.DONE) == 1
    reasons = sorted(r.reason for r in report.failures)
    assert reasons == [
        f"{tmp_path / 'bad.txt'}: not valid UTF-8 at byte 3; re-encode the file as UTF-8",
        f"{tmp_path / 'empty.txt'}: empty: the file holds no text",
    ]
    assert (tmp_path / "good.summarize.json").exists()
    assert not (tmp_path / "bad.summarize.json").exists()
    assert not (tmp_path / "bad.summary.txt").exists()


class ExplodingBackend(EchoBackend):
    """Echo, except that any batch containing the word EXPLODE raises."""

    def __init__(self) -> None:
        super().__init__("exploding")
        self.batch_sizes: list[int] = []

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        self.batch_sizes.append(len(texts))
        if any("EXPLODE" in t for t in texts):
            raise RuntimeError("engine failure")
        return super().generate(texts, options)


def test_an_engine_failure_fails_only_the_article_whose_input_caused_it(tmp_path: Path) -> None:
    for i in range(5):
        write(tmp_path / f"ok{i}.txt", article(2, 2, tag=f"{i}-"))
    write(tmp_path / "boom.txt", "This line will EXPLODE the engine.")
    translator = ExplodingBackend()
    models = Models(summarizer=EchoBackend("echo"), translator=translator)
    report = run(echo_config(), [str(tmp_path)], models=models)
    assert report.count(Status.DONE) == 5
    assert [r.reason for r in report.failures] == [
        f"{tmp_path / 'boom.txt'}: translate failed: engine failure"
    ]
    assert translator.batch_sizes[0] > 1  # it was batched with the others, then isolated


def test_rerun_skips_up_to_date_articles_and_force_redoes_them(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", article(2, 2))
    config = echo_config()
    assert run(config, [str(tmp_path)]).count(Status.DONE) == 1
    before = (tmp_path / "a.summarize.json").stat().st_mtime_ns
    summarizer, translator = ExplodingBackend(), ExplodingBackend()
    again = run(config, [str(tmp_path)], models=Models(summarizer, translator))
    assert summarizer.batch_sizes == translator.batch_sizes == []  # no engine was used
    assert again.count(Status.SKIPPED) == 1
    assert (tmp_path / "a.summarize.json").stat().st_mtime_ns == before
    assert run(config, [str(tmp_path)], force=True).count(Status.DONE) == 1


def test_changed_setting_makes_articles_out_of_date(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", article(2, 2))
    run(echo_config(), [str(tmp_path)])
    report = run(echo_config("summarizer.num_beams=2"), [str(tmp_path)])
    assert [(r.status, r.reason) for r in report.results] == [(Status.DONE, "settings changed")]


def test_only_the_outputs_asked_for_are_written(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", article(2, 2))
    config = echo_config("output.summarize=false", 'output.translate=["article"]')
    run(config, [str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ar.txt", "a.summarize.json", "a.txt"]


def test_stdin_results_come_back_as_texts_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a "-" named file's outputs would go
    stdin = io.BytesIO(b"Breaking news today. The vote passed.\n")
    report = run(echo_config(), ["-"], stdin=stdin)
    (result,) = report.results
    assert result.status is Status.DONE
    assert result.texts == {
        "summary": "Breaking news today. The vote passed.",
        "summary_ar": "Breaking news today. The vote passed.",
        "article_ar": "Breaking news today. The vote passed.",
    }
    assert list(tmp_path.iterdir()) == []


def test_sidecar_records_provenance(tmp_path: Path) -> None:
    source = write(tmp_path / "a.txt", "Title\n\nTitle\n\nA first sentence here. A second one.\n")
    run(echo_config(), [str(source)])
    sidecar = json.loads((tmp_path / "a.summarize.json").read_text(encoding="utf-8"))
    assert sidecar["input"]["path"] == str(source)
    assert len(sidecar["input"]["sha256"]) == 64
    assert "summarizer.model=echo" in sidecar["signature"]
    assert sidecar["engines"]["translator"] == {
        "model": "echo",
        "device": "cpu",
        "dtype": "none",
        "engine": "echo",
        "family": "echo (gives back its input)",
    }
    assert sidecar["removed_lines"] == ["Title"]
    assert sidecar["counts"]["paragraphs"] == 2
    assert {"read", "summarize", "translate"}.issubset(sidecar["seconds"])
    assert sidecar["outputs"] == {
        "summary": "a.summary.txt",
        "summary_ar": "a.summary.ar.txt",
        "article_ar": "a.ar.txt",
    }


class RecordingBackend(EchoBackend):
    """Echo that remembers the token lengths of each batch it was given."""

    def __init__(self) -> None:
        super().__init__("recording")
        self.batches: list[list[int]] = []
        self.limits: list[int] = []

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        self.batches.append(self.count_tokens(texts))
        self.limits.append(options.max_new_tokens)
        return super().generate(texts, options)


def test_batches_group_similar_lengths_within_the_token_budget(tmp_path: Path) -> None:
    # Segments batch only with those of the same length limit and of similar length.
    lengths = [n for n in (3, 5, 8, 12, 20, 33, 49, 50, 70, 90, 110) for _ in range(2)]
    for i, n in enumerate(lengths):
        write(tmp_path / f"a{i}.txt", " ".join(f"w{j}" for j in range(n)) + ".")
    translator = RecordingBackend()
    config = echo_config("runtime.batch_tokens=300", "output.summarize=false",
                         'output.translate=["article"]')  # fmt: skip
    report = run(config, [str(tmp_path)], models=Models(None, translator))
    assert report.failures == []
    tokens = sorted(n for batch in translator.batches for n in batch)
    assert tokens == [n + 1 for n in lengths]  # each article once: its words and EOS
    for batch, limit in zip(translator.batches, translator.limits, strict=True):
        assert max(batch) * len(batch) <= 300 or len(batch) == 1
        assert min(batch) >= max(batch) / 2
        # ratio 2 x tokens + 16, rounded up to the limit grid: each row's own limit is the batch's
        assert all(limit >= 2 * n + 16 for n in batch)
        assert all(limit <= (2 * n + 16) * 9 / 8 for n in batch)
    assert any(len(batch) > 1 for batch in translator.batches)
    assert any(len(set(batch)) > 1 for batch in translator.batches)
