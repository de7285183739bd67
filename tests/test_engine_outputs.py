"""A run's output files, byte for byte, against files the tool wrote before, on both engines."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarize.backends import GenerateOptions, ManyBatches, load_backend
from summarize.cli import main
from tests.conftest import CONFIGS, ROOT, on_cpu

pytestmark = pytest.mark.slow

DATA = ROOT / "tests" / "data" / "engine_outputs"
INPUTS = DATA / "inputs"
#: (engine, runtime.threads); each engine's files were the same on 1 and 2 threads when
#: recorded (see tests/data/engine_outputs/README.md), so one folder per engine holds them
CASES = [("transformers", 1), ("ctranslate2", 1), ("ctranslate2", 2)]


def recorded_with() -> dict[str, str]:
    """The versions the files were recorded with that differ from those installed."""
    recorded: dict[str, str] = json.loads((DATA / "versions.json").read_text(encoding="utf-8"))
    return {
        name: version
        for name, version in recorded.items()
        if importlib.metadata.version(name) != version
    }


def run_tool(models: dict[str, Path], engine: str, threads: int, work: Path) -> Path:
    """The tiny config over a copy of the inputs with ``engine`` on ``threads`` threads; the
    folder of text outputs (sidecars hold timings, so they are left out)."""
    articles = work / "articles"
    shutil.copytree(INPUTS, articles)
    argv = ["run", str(articles), "-q", "-c", str(CONFIGS / "tiny.toml")]
    for role in ("summarizer", "translator"):
        argv += ["--set", f"{role}.model={models[role]}", "--set", f"{role}.backend={engine}"]
    argv += ["--set", f"runtime.threads={threads}"]
    assert main(argv) == 0
    outputs = work / "outputs"
    outputs.mkdir()
    for path in sorted(articles.iterdir()):
        if path.name not in {p.name for p in INPUTS.iterdir()} and path.suffix == ".txt":
            shutil.copy2(path, outputs / path.name)
    return outputs


@pytest.fixture
def torch_threads() -> Iterator[None]:
    """torch's thread count is the process's: the runs here set it, later tests get it back."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("engine", "threads"), CASES)
@pytest.mark.usefixtures("torch_threads")
def test_outputs_are_those_recorded_before(
    tiny_models: dict[str, Path], tmp_path: Path, engine: str, threads: int
) -> None:
    if changed := recorded_with():
        # Other library versions may compute other numbers: the next test still holds there.
        pytest.skip(f"the files were recorded with other versions: {changed}")
    outputs = run_tool(tiny_models, engine, threads, tmp_path)
    expected = DATA / engine
    names = sorted(p.name for p in expected.iterdir())
    assert sorted(p.name for p in outputs.iterdir()) == names
    for name in names:
        assert (outputs / name).read_bytes() == (expected / name).read_bytes(), name


def test_batches_run_together_give_what_each_gives_alone(tiny_models: dict[str, Path]) -> None:
    # Two workers: batches of a wave run side by side, and one of three rows is split.
    model = str(tiny_models["translator"])
    backend = load_backend(
        dataclasses.replace(on_cpu("ctranslate2", model, "translator"), threads=2)
    )
    assert isinstance(backend, ManyBatches)
    texts = [
        "The council met.",
        "Prices rose sharply in the city today.",
        "Scientists found a new species of frog in the forest.",
        "Rain fell.",
    ]
    batches = [
        (texts[:3], GenerateOptions(max_new_tokens=12, num_beams=2)),
        (texts[3:], GenerateOptions(max_new_tokens=6, num_beams=2)),
        (texts[1:2], GenerateOptions(max_new_tokens=9, num_beams=1, repetition_penalty=1.3)),
    ]
    alone = [backend.generate(batch, options) for batch, options in batches]
    assert backend.generate_batches(batches) == alone
    # A batch the engine fails is given back as its error; the others still get theirs.
    most = backend.max_output_tokens + 8
    past = GenerateOptions(max_new_tokens=most, min_new_tokens=most)
    outcomes = backend.generate_batches([(texts[:1], past), *batches])
    assert isinstance(outcomes[0], RuntimeError)
    assert outcomes[1:] == alone
