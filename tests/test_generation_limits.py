"""Generation limits and batching: what the model can hold, map-reduce that always ends, an
article's output independent of its batch, which engine errors are retried, hit_limit."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from summarize import Models, load_models, run
from summarize.backends import Backend, GenerateOptions, Generation, load_backend
from summarize.backends.echo import EchoBackend
from summarize.config import load_config
from summarize.report import Report, Status
from summarize.settings import Config
from tests.conftest import CONFIGS, ECHO_SETTINGS, on_cpu

ENGINES = ["transformers", "ctranslate2"]
TEXTS = [
    "The council met.",
    "Prices rose sharply in the city today.",
    "Scientists found a new species of frog in the forest.",
]
TRANSLATE_ONLY = ["output.summarize=false", 'output.translate=["article"]']
ECHO = ECHO_SETTINGS


@pytest.fixture(scope="module", autouse=True)
def conversions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """CTranslate2 conversions go to this module's own cache, never the user's."""
    patch = pytest.MonkeyPatch()
    patch.setenv("SUMMARIZE_CACHE", str(tmp_path_factory.mktemp("ct2-cache")))
    yield
    patch.undo()


@pytest.fixture(scope="module")
def endless(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny models that never end an output by themselves and have 64 positions."""
    from tests.model_builders import build_summarizer, build_translator

    root = tmp_path_factory.mktemp("endless")
    return {
        "summarizer": build_summarizer(root / "s", max_positions=64, eos_bias=-1e4),
        "translator": build_translator(root / "t", max_positions=64, eos_bias=-1e4),
    }


@pytest.fixture(scope="module")
def terse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny models that end every output at once."""
    from tests.model_builders import build_summarizer, build_translator

    root = tmp_path_factory.mktemp("terse")
    return {
        "summarizer": build_summarizer(root / "s", eos_bias=1e4),
        "translator": build_translator(root / "t", eos_bias=1e4),
    }


def engine(engine_name: str, model: Path, role: str) -> Backend:
    return load_backend(on_cpu(engine_name, str(model), role))


def tiny_config(engine_name: str, models: dict[str, Path], *overrides: str) -> Config:
    return load_config(
        CONFIGS / "tiny.toml",
        [
            f"summarizer.model={models['summarizer']}",
            f"translator.model={models['translator']}",
            f"summarizer.backend={engine_name}",
            f"translator.backend={engine_name}",
            *overrides,
        ],
    )


def words(n: int, tag: str = "w") -> str:
    return " ".join(f"{tag}{i}" for i in range(n)) + "."


def sidecar(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        path.with_name(f"{path.stem}.summarize.json").read_text(encoding="utf-8")
    )
    return data


def run_one(config: Config, directory: Path, text: str) -> dict[str, Any]:
    """Run ``text`` as the one article of ``directory`` with real engines; its sidecar."""
    source = directory / "a.txt"
    source.write_text(text, encoding="utf-8")
    assert_all_done(run(config, [str(directory)], models=load_models(config)))
    return sidecar(source)


def assert_all_done(report: Report) -> None:
    assert report.failures == []
    assert all(r.status in (Status.DONE, Status.FLAGGED) for r in report.results)


# --- 8.1: no generation asks for more tokens than the model has positions ------------------


SENTENCE = "The city council met on Monday to discuss the new budget for schools and roads."
CAPPED = {
    # 32-token segments x 2.0 + 16 asks for 80 new tokens of a model with 64 positions.
    "translation": [
        *TRANSLATE_ONLY, "translator.max_length_ratio=2.0", "translator.max_length_extra=16",
        "translator.num_beams=1",
    ],
    # The model reads and writes 64 tokens; max_length asks for 100.
    "summary": [
        "output.translate=[]", "summarizer.max_input_tokens=1024", "summarizer.max_length=100",
        "summarizer.num_beams=1",
    ],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("stage", CAPPED)
@pytest.mark.parametrize("engine_name", ENGINES)
def test_generation_longer_than_the_model_holds_is_capped_not_failed(
    engine_name: str, stage: str, endless: dict[str, Path], tmp_path: Path
) -> None:
    config = tiny_config(engine_name, endless, *CAPPED[stage])
    data = run_one(config, tmp_path, f"{SENTENCE} {SENTENCE}\n")
    assert data["counts"]["capped_by_model"] >= 1
    # The endless model runs to the cap, and the warning names the model as its cause.
    assert any("64 tokens, all the model can generate" in w for w in data["warnings"])
    output = "a.ar.txt" if stage == "translation" else "a.summary.txt"
    assert (tmp_path / output).read_text(encoding="utf-8").strip()


def test_echo_with_positions_fails_past_them_as_a_model_does() -> None:
    backend = EchoBackend.load(on_cpu("echo", "echo:positions=8", "translator"))
    assert (backend.max_input_tokens, backend.max_output_tokens) == (8, 8)
    with pytest.raises(IndexError):
        backend.generate(["a b c"], GenerateOptions(max_new_tokens=9))
    assert backend.generate(["a b c"], GenerateOptions(max_new_tokens=8))[0].text == "a b c"


def test_echo_translation_is_capped_by_its_positions(tmp_path: Path) -> None:
    config = load_config(None, [*ECHO, "translator.model=echo:positions=40", *TRANSLATE_ONLY])
    source = tmp_path / "a.txt"
    source.write_text(words(30) + "\n", encoding="utf-8")
    assert_all_done(run(config, [str(tmp_path)]))
    assert sidecar(source)["counts"]["capped_by_model"] == 1
    assert (tmp_path / "a.ar.txt").read_text(encoding="utf-8").strip() == words(30)


# --- 8.2: map-reduce always converges ------------------------------------------------------


def long_article(sentences: int) -> str:
    return "\n\n".join(
        " ".join(f"Item {p}-{s} of the budget was discussed at length today." for s in range(6))
        for p in range(sentences // 6)
    )


@pytest.mark.parametrize(
    "overrides",
    [
        # A summarizer that reads 128 tokens, with the default max_length of 142.
        ["summarizer.model=echo:positions=128"],
        # max_length close to the input limit, on an article of many chunks.
        ["summarizer.max_length=900"],
    ],
    ids=["reads-128", "max-length-900"],
)
def test_map_reduce_converges_when_summaries_are_long(tmp_path: Path, overrides: list[str]) -> None:
    config = load_config(None, [*ECHO, *overrides, "output.translate=[]"])
    source = tmp_path / "a.txt"
    source.write_text(long_article(600), encoding="utf-8")  # about 6,000 words
    report = run(config, [str(tmp_path)])
    assert_all_done(report)
    data = sidecar(source)
    assert data["counts"]["summary_rounds"] <= 4
    assert not any("no longer shrink" in w for w in data["warnings"])
    summary = (tmp_path / "a.summary.txt").read_text(encoding="utf-8").split()
    assert 0 < len(summary) <= config.summarizer.max_length


class Stubborn(EchoBackend):
    """A summarizer whose outputs never shrink: it ignores the length limit."""

    def __init__(self) -> None:
        super().__init__("stubborn", positions=128)
        self.calls = 0

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        self.calls += 1
        return [Generation(text, hit_limit=False) for text in texts]


def test_map_reduce_that_cannot_shrink_keeps_what_fits_and_says_so(tmp_path: Path) -> None:
    config = load_config(None, [*ECHO, "output.translate=[]"])
    source = tmp_path / "a.txt"
    source.write_text(long_article(60), encoding="utf-8")
    summarizer = Stubborn()
    report = run(config, [str(tmp_path)], models=Models(summarizer, None))
    assert_all_done(report)
    data = sidecar(source)
    assert any("no longer shrink" in w for w in data["warnings"])
    assert data["counts"]["summary_rounds"] == 2
    assert summarizer.calls == 2  # gave up at once, not after eight rounds of work


@pytest.mark.slow
def test_map_reduce_converges_with_a_real_model_that_reads_64_tokens(
    endless: dict[str, Path], tmp_path: Path
) -> None:
    config = tiny_config(
        "transformers", endless, "output.translate=[]", "summarizer.max_input_tokens=1024",
        "summarizer.max_length=60", "summarizer.num_beams=1",
    )  # fmt: skip
    data = run_one(config, tmp_path, long_article(60))
    assert data["counts"]["summary_chunks"] > 4


# --- 8.3: an article's outputs do not depend on its batch -------------------------------------


def outputs_of(directory: Path, stem: str) -> list[bytes]:
    names = (".summary.txt", ".summary.ar.txt", ".ar.txt")
    return [
        (directory / f"{stem}{s}").read_bytes()
        for s in names
        if (directory / f"{stem}{s}").exists()
    ]


def check_alone_and_batched(config: Config, models: Models, tmp_path: Path) -> None:
    # One paragraph each, so one segment each; the others are longer, within one bucket.
    article = "The mayor promised to publish a full report."
    others = [
        "Officials said the plan would cost more than two million dollars.",
        "The mayor promised to publish a full report before the end of the month.",
    ]
    alone, batched = tmp_path / "alone", tmp_path / "batched"
    alone.mkdir()
    batched.mkdir()
    (alone / "a.txt").write_text(article, encoding="utf-8")
    (batched / "a.txt").write_text(article, encoding="utf-8")
    for i, other in enumerate(others):
        (batched / f"b{i}.txt").write_text(other, encoding="utf-8")
    assert_all_done(run(config, [str(alone)], models=models))
    batched_report = run(config, [str(batched)], models=models)
    assert_all_done(batched_report)
    assert len(batched_report.results) == 3
    assert outputs_of(alone, "a")
    assert outputs_of(alone, "a") == outputs_of(batched, "a")


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ENGINES)
def test_outputs_are_the_same_alone_and_batched_with_longer_articles(
    engine_name: str, endless: dict[str, Path], tmp_path: Path
) -> None:
    config = tiny_config(
        engine_name, endless, "translator.num_beams=1", "translator.max_length_ratio=0.5",
        "translator.max_length_extra=0", *TRANSLATE_ONLY,
    )  # fmt: skip
    check_alone_and_batched(config, load_models(config), tmp_path)


def test_echo_outputs_are_the_same_alone_and_batched_with_longer_articles(tmp_path: Path) -> None:
    config = load_config(None, [*ECHO, "translator.max_length_ratio=0.5",
                                "translator.max_length_extra=0", *TRANSLATE_ONLY])  # fmt: skip
    check_alone_and_batched(config, load_models(config), tmp_path)


# --- 9.24: which engine errors are retried in halves -------------------------------------------


class Failing(EchoBackend):
    """Echo that raises ``error`` for any batch of more than ``over`` inputs, or for any input
    holding ``poison``."""

    def __init__(self, error: Exception, over: int = 0, poison: str = "") -> None:
        super().__init__("failing")
        self.error, self.over, self.poison = error, over, poison
        self.calls = 0

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        self.calls += 1
        if len(texts) > self.over or (self.poison and any(self.poison in t for t in texts)):
            raise self.error
        return super().generate(texts, options)


def three_articles(tmp_path: Path) -> Config:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.txt").write_text(f"The {name} council met today.", encoding="utf-8")
    return load_config(None, [*ECHO, "output.summarize=false", 'output.translate=["article"]'])


@pytest.mark.parametrize(
    "error",
    [
        TypeError("bad argument"),
        AttributeError("no attribute"),
        AssertionError(),
        KeyError("k"),
        NotImplementedError("todo"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_programming_error_in_generation_stops_the_run(tmp_path: Path, error: Exception) -> None:
    config = three_articles(tmp_path)
    translator = Failing(error)
    with pytest.raises(type(error)):
        run(config, [str(tmp_path)], models=Models(None, translator))
    assert translator.calls == 1  # not retried in halves


def test_an_input_error_fails_only_its_article(tmp_path: Path) -> None:
    config = three_articles(tmp_path)
    translator = Failing(IndexError("index out of range in self"), over=99, poison="b council")
    report = run(config, [str(tmp_path)], models=Models(None, translator))
    assert [Path(r.name).name for r in report.failures] == ["b.txt"]
    assert "index out of range in self" in report.failures[0].reason
    assert sum(r.status is Status.DONE for r in report.results) == 2


def test_out_of_memory_frees_the_cuda_cache_and_retries_in_halves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    emptied: list[bool] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    config = three_articles(tmp_path)
    translator = Failing(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate"), 1)
    report = run(config, [str(tmp_path)], models=Models(None, translator))
    assert_all_done(report)
    assert len(emptied) >= 1


# --- hit_limit can be False, and batched outputs keep their order ------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("role", ["translator", "summarizer"])
def test_hit_limit_is_true_only_for_an_output_cut_at_its_limit(
    engine_name: str,
    role: str,
    endless: dict[str, Path],
    terse: dict[str, Path],
) -> None:
    options = GenerateOptions(max_new_tokens=6)
    (cut,) = engine(engine_name, endless[role], role).generate(TEXTS[1:2], options)
    (ended,) = engine(engine_name, terse[role], role).generate(TEXTS[1:2], options)
    assert cut.hit_limit is True and cut.text
    assert ended.hit_limit is False


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", ENGINES)
def test_batched_outputs_come_back_in_input_order(
    engine_name: str, tiny_models: dict[str, Path]
) -> None:
    backend = engine(engine_name, tiny_models["translator"], "translator")
    options = GenerateOptions(max_new_tokens=8, num_beams=2)
    alone = [backend.generate([text], options)[0].text for text in TEXTS]
    assert len(set(alone)) == len(TEXTS)  # each output differs, so a reordering would show
    assert [g.text for g in backend.generate(TEXTS, options)] == alone
    assert [g.text for g in backend.generate(TEXTS[::-1], options)] == alone[::-1]
