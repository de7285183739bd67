"""The transformers backend on tiny real models: loading, token counts, generation, the CLI path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from summarize.backends import GenerateOptions
from summarize.backends.hf import TransformersBackend, resolve_device, resolve_dtype
from summarize.backends.huggingface import token_counts
from summarize.cli import main
from summarize.errors import ModelError
from tests.conftest import CONFIGS, on_cpu

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def translator(tiny_models: dict[str, Path]) -> TransformersBackend:
    return TransformersBackend.load(
        on_cpu("transformers", str(tiny_models["translator"]), "translator")
    )


@pytest.fixture(scope="module")
def summarizer(tiny_models: dict[str, Path]) -> TransformersBackend:
    return TransformersBackend.load(
        on_cpu("transformers", str(tiny_models["summarizer"]), "summarizer")
    )


def tiny_args(models: dict[str, Path]) -> list[str]:
    return [
        "-c", str(CONFIGS / "tiny.toml"),
        "--set", "summarizer.backend=transformers",
        "--set", "translator.backend=transformers",
        "--set", f"summarizer.model={models['summarizer']}",
        "--set", f"translator.model={models['translator']}",
    ]  # fmt: skip


def test_model_limits_come_from_the_saved_models(
    translator: TransformersBackend, summarizer: TransformersBackend
) -> None:
    assert translator.max_input_tokens == 512
    assert summarizer.max_input_tokens == 1024
    assert (translator.device, translator.dtype) == ("cpu", "float32")


def test_token_counts_include_the_prefix_as_one_token_and_eos(
    translator: TransformersBackend,
) -> None:
    """The engine counts what it sends: the family's >>ara<< (one token) before the text."""
    tokenizer = translator.tokenizer
    plain, longer = translator.count_tokens(["The vote passed.", "The vote passed. " * 5])
    (bare,) = token_counts(tokenizer, ["The vote passed."])
    assert plain == bare + 1
    assert tokenizer("The vote passed.")["input_ids"][-1] == tokenizer.eos_token_id
    assert longer > plain


def test_generate_returns_one_text_per_input_in_order(translator: TransformersBackend) -> None:
    texts = ["The council met.", "Prices rose sharply in the city today."]
    options = GenerateOptions(max_new_tokens=8, num_beams=2)
    batched = translator.generate(texts, options)
    alone = [translator.generate([t], options)[0] for t in texts]
    assert len({g.text for g in alone}) == len(texts)  # distinct, so a reordering would show
    assert [g.text for g in batched] == [g.text for g in alone]  # padding does not leak
    assert all(isinstance(g.text, str) for g in batched)


# hit_limit, both ways and on both engines: tests/test_generation_limits.py


def test_missing_local_directory_explains_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"summarizer\.model: .*no such directory; point"):
        TransformersBackend.load(on_cpu("transformers", str(tmp_path / "gone"), "summarizer"))


def test_uncached_hub_id_offline_explains_what_to_do() -> None:
    with pytest.raises(ModelError) as info:
        TransformersBackend.load(
            on_cpu("transformers", "example-org/not-cached-model", "translator")
        )
    message = str(info.value)
    assert "translator.model" in message
    assert "HF_HUB_OFFLINE" in message
    assert "hf download example-org/not-cached-model" in message


def test_directory_without_a_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"not a model folder: it has no config\.json"):
        TransformersBackend.load(on_cpu("transformers", str(tmp_path), "summarizer"))


def test_device_and_dtype_resolution_on_a_cpu_machine() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto") in {"cpu", "mps"}
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"
    with pytest.raises(ModelError, match="no CUDA device"):
        resolve_device("cuda:0")


def test_seeds_with_tiny_models_write_outputs_then_rerun_loads_nothing(
    seeds_copy: Path, tiny_models: dict[str, Path]
) -> None:
    models = tiny_models
    assert main(["run", str(seeds_copy), *tiny_args(models), "-q"]) == 0
    stem = seeds_copy / "kadhimi-ambassadors"
    outputs = [Path(f"{stem}{s}") for s in (".summary.txt", ".summary.ar.txt", ".ar.txt")]
    sidecar_path = Path(f"{stem}.summarize.json")
    assert all(p.exists() for p in [*outputs, sidecar_path])
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    assert sidecar["engines"]["summarizer"]["dtype"] == "float32"
    # The seed is longer than the tiny config's 64-token summarizer input: map-reduce.
    assert sidecar["map_reduce"] is True
    article_ar = Path(f"{stem}.ar.txt").read_text(encoding="utf-8").rstrip("\n")
    assert len(article_ar.split("\n\n")) == sidecar["counts"]["paragraphs"]
    mtimes = [p.stat().st_mtime_ns for p in [*outputs, sidecar_path]]

    # The models stay: the signature names a local model by its files' content. That nothing
    # is loaded shows in the imports below.
    rerun = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "summarize", "run", str(seeds_copy),
         *tiny_args(models)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.strip().splitlines()[-1] == "0 articles done, 1 up to date"
    assert [p.stat().st_mtime_ns for p in [*outputs, sidecar_path]] == mtimes
    imported = {line.split("|")[-1].strip() for line in rerun.stderr.splitlines() if "|" in line}
    heavy = {"torch", "transformers", "ctranslate2", "pysbd", "py3langid", "numpy"}
    assert heavy.isdisjoint(imported)  # nothing to do costs no heavy import
