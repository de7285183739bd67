"""The ctranslate2 backend on tiny real models: conversion cache, generation, errors, CLI."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")

from summarize.backends import GenerateOptions, load_backend
from summarize.backends.ct2 import INSTALL, CTranslate2Backend, resolve_device, resolve_quantization
from summarize.backends.hf import TransformersBackend
from summarize.cli import main
from summarize.config import load_config
from summarize.errors import ConfigError, ModelError
from summarize.model_identity import cache_root
from tests.conftest import CONFIGS, ROOT, captured_log, on_cpu

pytestmark = pytest.mark.slow

CPU_TYPES = {"int8", "int8_float32", "float32"}
TEXTS = [
    "The council met.",
    "Prices rose sharply in the city today.",
    "Scientists found a new species of frog in the forest.",
]


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One conversion cache for the module's shared backends."""
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("ct2-cache")
        patch.setenv("SUMMARIZE_CACHE", str(cache))
        yield cache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty conversion cache of the test's own."""
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def ct2_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The log records of the backend and of its conversion cache."""
    with captured_log(caplog, "summarize.backends", logging.INFO) as log:
        yield log


@pytest.fixture(scope="module")
def translator(tiny_models: dict[str, Path], module_cache: Path) -> CTranslate2Backend:
    return CTranslate2Backend.load(
        on_cpu("ctranslate2", str(tiny_models["translator"]), "translator")
    )


@pytest.fixture(scope="module")
def summarizer(tiny_models: dict[str, Path], module_cache: Path) -> CTranslate2Backend:
    return CTranslate2Backend.load(
        on_cpu("ctranslate2", str(tiny_models["summarizer"]), "summarizer")
    )


def entries(cache: Path) -> list[Path]:
    """The cache's converted models, and any leftovers of a conversion (hidden names)."""
    return sorted((cache / "ct2").iterdir())


def messages(log: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in log.records)


def test_first_load_converts_into_the_cache_and_later_loads_reuse_it(
    tiny_models: dict[str, Path], cache: Path, ct2_log: pytest.LogCaptureFixture
) -> None:
    model = str(tiny_models["translator"])
    CTranslate2Backend.load(on_cpu("ctranslate2", model, "translator"))
    (entry,) = entries(cache)  # one model, no leftovers of the conversion
    assert entry.name.startswith("translator-")
    assert (entry / "model.bin").is_file()
    assert "converting" in messages(ct2_log)
    stamp = (entry / "model.bin").stat().st_mtime_ns

    ct2_log.clear()
    CTranslate2Backend.load(on_cpu("ctranslate2", model, "translator"))
    assert entries(cache) == [entry]
    assert (entry / "model.bin").stat().st_mtime_ns == stamp
    assert "converting" not in messages(ct2_log)
    assert f"using the CTranslate2 conversion in {entry}" in messages(ct2_log)


def test_an_entry_without_its_model_is_converted_again(
    tiny_models: dict[str, Path], cache: Path, ct2_log: pytest.LogCaptureFixture
) -> None:
    model = str(tiny_models["translator"])
    CTranslate2Backend.load(on_cpu("ctranslate2", model, "translator"))
    (entry,) = entries(cache)
    (entry / "model.bin").unlink()  # as if something other than a rename had left it half-done

    ct2_log.clear()
    backend = CTranslate2Backend.load(on_cpu("ctranslate2", model, "translator"))
    assert "converting" in messages(ct2_log)
    assert entries(cache) == [entry]
    assert (entry / "model.bin").is_file()
    assert len(backend.generate(TEXTS[:1], GenerateOptions(max_new_tokens=4))) == 1


def test_quantization_is_part_of_the_cache_key(tiny_models: dict[str, Path], cache: Path) -> None:
    model = str(tiny_models["translator"])
    exact = load_backend(on_cpu("ctranslate2", model, "translator", quantization="float32"))
    default = load_backend(on_cpu("ctranslate2", model, "translator"))
    assert len(entries(cache)) == 2
    assert exact.dtype == "float32"
    assert default.dtype != "float32"  # auto is int8 on the CPU and float16 on CUDA


def test_a_changed_local_model_is_converted_again(
    tiny_models: dict[str, Path], cache: Path, tmp_path: Path
) -> None:
    from tests.model_builders import build_translator

    model = build_translator(tmp_path / "model")
    CTranslate2Backend.load(on_cpu("ctranslate2", str(model), "translator"))
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config["dropout"] = 0.25  # new content under the same name
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    CTranslate2Backend.load(on_cpu("ctranslate2", str(model), "translator"))
    assert len(entries(cache)) == 2


def test_a_copy_of_a_local_model_elsewhere_reuses_its_conversion(
    tiny_models: dict[str, Path], cache: Path, tmp_path: Path, ct2_log: pytest.LogCaptureFixture
) -> None:
    """As after `download --to` and a copy to another machine: the conversion goes by what the
    directory holds, not where it is (notes and hidden files aside)."""
    model = tiny_models["translator"]
    CTranslate2Backend.load(on_cpu("ctranslate2", str(model), "translator"))
    (entry,) = entries(cache)
    copy = shutil.copytree(model, tmp_path / "elsewhere" / model.name)
    (copy / "README.md").write_text("copied for the night shift\n", encoding="utf-8")
    (copy / ".cache").mkdir()
    ct2_log.clear()
    CTranslate2Backend.load(on_cpu("ctranslate2", str(copy), "translator"))
    assert "converting" not in messages(ct2_log)
    assert entries(cache) == [entry]


def test_transformers_backend_ignores_quantization(tiny_models: dict[str, Path]) -> None:
    model = str(tiny_models["translator"])
    backend = load_backend(on_cpu("transformers", model, "translator", quantization="int8"))
    assert isinstance(backend, TransformersBackend)
    assert backend.dtype == "float32"


def test_model_limits_device_and_forced_start_come_from_the_models(
    translator: CTranslate2Backend, summarizer: CTranslate2Backend
) -> None:
    assert (translator.max_input_tokens, summarizer.max_input_tokens) == (512, 1024)
    assert translator.device == summarizer.device == "cpu"
    assert translator.dtype in CPU_TYPES
    # BART is forced to begin with <s> (forced_bos_token_id); Marian begins unforced.
    assert (summarizer.target_prefix, translator.target_prefix) == (["<s>"], [])


@pytest.mark.parametrize("role", ["translator", "summarizer"])
def test_token_counts_match_the_transformers_backend(
    role: str, tiny_models: dict[str, Path], module_cache: Path
) -> None:
    texts = [*TEXTS, "", "The vote passed. " * 20]
    fast = CTranslate2Backend.load(on_cpu("ctranslate2", str(tiny_models[role]), role))
    reference = TransformersBackend.load(on_cpu("transformers", str(tiny_models[role]), role))
    assert fast.count_tokens(texts) == reference.count_tokens(texts)
    assert fast.count_tokens([]) == []


def test_generate_returns_one_text_per_input_in_order(translator: CTranslate2Backend) -> None:
    options = GenerateOptions(max_new_tokens=8)
    forward = [g.text for g in translator.generate(TEXTS, options)]
    backward = [g.text for g in translator.generate(TEXTS[::-1], options)]
    assert len(forward) == len(TEXTS) and all(isinstance(t, str) and t for t in forward)
    assert len(set(forward)) > 1  # different inputs give different outputs, so order shows
    assert backward == forward[::-1]
    assert translator.generate([], options) == []


@pytest.mark.parametrize("role", ["translator", "summarizer"])
def test_greedy_batched_equals_one_by_one(
    role: str, translator: CTranslate2Backend, summarizer: CTranslate2Backend
) -> None:
    backend = translator if role == "translator" else summarizer
    options = GenerateOptions(max_new_tokens=10, no_repeat_ngram_size=3)
    batched = backend.generate(TEXTS, options)
    alone = [backend.generate([text], options)[0] for text in TEXTS]
    assert batched == alone  # padding does not leak between inputs


def test_beam_search_with_length_settings_runs(summarizer: CTranslate2Backend) -> None:
    options = GenerateOptions(
        max_new_tokens=12, num_beams=2, min_new_tokens=4, no_repeat_ngram_size=3, length_penalty=2.0
    )
    results = summarizer.generate(TEXTS, options)
    assert len(results) == len(TEXTS)
    # The tiny BART never ends on its own: every summary fills its limit, with printable text.
    assert all(g.hit_limit and g.text and "\ufffd" not in g.text for g in results)


# hit_limit, both ways and on both engines: tests/test_generation_limits.py


def test_missing_local_directory_explains_what_to_do(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(ModelError, match=r"summarizer\.model: .*no such directory; point"):
        CTranslate2Backend.load(on_cpu("ctranslate2", str(tmp_path / "gone"), "summarizer"))


def test_directory_without_a_model_is_a_model_error(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        ModelError, match=r"summarizer\.model: .*not a model folder: it has no config"
    ):
        CTranslate2Backend.load(on_cpu("ctranslate2", str(tmp_path / "empty"), "summarizer"))


def test_quantization_the_device_cannot_run_fails_before_converting(
    tiny_models: dict[str, Path], cache: Path
) -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelError, match=r"translator\.quantization = 'float16' .* choose auto"):
        CTranslate2Backend.load(
            on_cpu(
                "ctranslate2", str(tiny_models["translator"]), "translator", quantization="float16"
            )
        )
    assert not cache.exists()


@pytest.mark.parametrize(
    ("requested", "gpus", "expected"),
    [
        ("auto", 0, ("cpu", 0)),
        ("auto", 2, ("cuda", 0)),
        ("cpu", 2, ("cpu", 0)),
        ("cuda", 1, ("cuda", 0)),
        ("cuda:1", 2, ("cuda", 1)),
    ],
)
def test_device_resolution(requested: str, gpus: int, expected: tuple[str, int]) -> None:
    assert resolve_device(requested, gpus) == expected


@pytest.mark.parametrize(
    ("requested", "gpus", "message"),
    [
        ("cuda", 0, "sees 0 CUDA device"),
        ("cuda:2", 2, "sees 2 CUDA device"),
        ("mps", 0, "CPU or CUDA only"),
    ],
)
def test_devices_ctranslate2_cannot_use(requested: str, gpus: int, message: str) -> None:
    with pytest.raises(ModelError, match=rf"runtime\.device = '{requested}'.*{message}"):
        resolve_device(requested, gpus)


@pytest.mark.parametrize(
    ("requested", "device", "supported", "expected"),
    [
        ("auto", "cpu", CPU_TYPES, "int8"),
        ("auto", "cuda", {"float16", "int8", "float32"}, "float16"),
        ("auto", "cuda", {"int8", "float32"}, "int8"),  # a GPU without fast float16
        ("float32", "cpu", CPU_TYPES, "float32"),
        ("int8_float32", "cpu", CPU_TYPES, "int8_float32"),
    ],
)
def test_quantization_resolution(
    requested: str, device: str, supported: set[str], expected: str
) -> None:
    assert resolve_quantization(requested, device, supported, "summarizer") == expected


def test_quantization_setting_is_validated() -> None:
    assert load_config(None, ["translator.quantization=int8_float16"]).translator.quantization == (
        "int8_float16"
    )
    with pytest.raises(ConfigError, match=r"summarizer\.quantization: 'int4' .*: auto, int8"):
        load_config(None, ["summarizer.quantization=int4"])


def test_cache_location_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUMMARIZE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "summarize"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "summarize"
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


def tiny_ct2_args(models: dict[str, Path]) -> list[str]:
    return [
        "-c", str(CONFIGS / "tiny.toml"),
        "--set", "summarizer.backend=ctranslate2",
        "--set", "translator.backend=ctranslate2",
        "--set", f"summarizer.model={models['summarizer']}",
        "--set", f"translator.model={models['translator']}",
    ]  # fmt: skip


def test_cli_run_with_ctranslate2_writes_all_outputs(
    seeds_copy: Path, tiny_models: dict[str, Path], cache: Path
) -> None:
    assert main(["run", str(seeds_copy), *tiny_ct2_args(tiny_models), "-q"]) == 0
    stem = seeds_copy / "kadhimi-ambassadors"
    suffixes = (".summary.txt", ".summary.ar.txt", ".ar.txt", ".summarize.json")
    assert all(Path(f"{stem}{suffix}").is_file() for suffix in suffixes)
    sidecar = json.loads(Path(f"{stem}.summarize.json").read_text(encoding="utf-8"))
    assert sidecar["engines"]["translator"]["device"] == "cpu"
    assert sidecar["engines"]["summarizer"]["dtype"] in CPU_TYPES
    assert Path(f"{stem}.summary.txt").read_text(encoding="utf-8").strip()
    assert len(entries(cache)) == 2


def test_without_ctranslate2_the_run_stops_before_any_article(
    seeds_copy: Path, tiny_models: dict[str, Path], cache: Path
) -> None:
    # A separate interpreter in which `import ctranslate2` fails, as where it is not installed.
    script = (
        "import sys; sys.modules['ctranslate2'] = None; from summarize.cli import main; "
        "raise SystemExit(main(sys.argv[1:]))"
    )
    argv = ["run", str(seeds_copy), *tiny_ct2_args(tiny_models), "-q"]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    assert "summarizer.backend = 'ctranslate2' needs the ctranslate2 package" in done.stderr
    assert INSTALL in done.stderr
    assert sorted(p.name for p in seeds_copy.iterdir()) == ["kadhimi-ambassadors.txt"]
