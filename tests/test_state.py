"""The up-to-date check: fingerprints, why an article is stale, and the settings signature."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from summarize.config import load_config
from summarize.outputs import Outputs, output_paths, write_outputs
from summarize.settings import OutputSettings
from summarize.state import fingerprint, signature, stale_reason

OUT = OutputSettings()


def touch(path: Path, text: str = "Some news.") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def done(tmp_path: Path, signature: str = "sig") -> tuple[Path, Outputs]:
    source = touch(tmp_path / "a.txt", "Some news.")
    outputs = output_paths(source, OUT)
    texts = {p: "x" for p in outputs.texts()}
    write_outputs(outputs, texts, {"signature": signature, "input": fingerprint(source)})
    return source, outputs


def test_up_to_date_after_writing_outputs(tmp_path: Path) -> None:
    source, outputs = done(tmp_path)
    assert stale_reason(source, outputs, "sig") is None


def test_touched_but_identical_input_is_still_up_to_date(tmp_path: Path) -> None:
    source, outputs = done(tmp_path)
    os.utime(source, ns=(1, 1))
    assert stale_reason(source, outputs, "sig") is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s, o: s.write_text("Other news, longer.", encoding="utf-8"), "input changed"),
        (lambda s, o: os.remove(o.article_ar), "outputs missing"),
        (lambda s, o: o.sidecar.write_text("{broken", encoding="utf-8"), "sidecar unreadable"),
        (lambda s, o: o.sidecar.unlink(), "new"),
    ],
)
def test_stale_reasons(
    tmp_path: Path, change: Callable[[Path, Outputs], object], reason: str
) -> None:
    source, outputs = done(tmp_path)
    change(source, outputs)
    assert stale_reason(source, outputs, "sig") == reason


def test_other_settings_make_outputs_stale(tmp_path: Path) -> None:
    source, outputs = done(tmp_path, signature="old")
    assert stale_reason(source, outputs, "new") == "settings changed"


# --- the settings signature ----------------------------------------------------------------


@pytest.mark.parametrize(
    "override",
    [
        "summarizer.model=other/model",
        "summarizer.revision=abc123",
        "translator.revision=abc123",
        "translator.num_beams=1",
        "summarizer.max_length=100",
        "translator.source_prefix=>>arz<<",
        "input.cleanup=false",
        'output.translate=["article"]',
        "guards.repair_rounds=0",
        "guards.repair_repetition_penalty=1.5",
        "guards.max_repetition=0.3",
        'guards.checks=["empty"]',
    ],
)
def test_signature_changes_with_anything_that_changes_outputs(override: str) -> None:
    assert signature(load_config(None, [override])) != signature(load_config())


@pytest.mark.parametrize(
    "override", ["runtime.device=cpu", "runtime.batch_tokens=100", "runtime.wave_size=2"]
)
def test_signature_ignores_settings_that_only_change_speed(override: str) -> None:
    assert signature(load_config(None, [override])) == signature(load_config())


def test_quantization_counts_in_the_signature_only_where_an_engine_applies_it() -> None:
    ct2 = ["summarizer.backend=ctranslate2"]
    assert signature(load_config(None, [*ct2, "summarizer.quantization=int8"])) != signature(
        load_config(None, [*ct2, "summarizer.quantization=float32"])
    )
    assert signature(load_config(None, ["summarizer.quantization=int8"])) == signature(
        load_config()
    )


# --- 8.6: a local model counts by its content -----------------------------------------------


def fake_model(folder: Path, weights: bytes = b"\x00" * 64) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "marian"}', encoding="utf-8")
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    return folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def model_signature(model: Path | str) -> str:
    return signature(load_config(None, [f"translator.model={model}"]))


def test_new_weights_under_the_same_path_change_the_signature(tmp_path: Path, cache: Path) -> None:
    model = fake_model(tmp_path / "model")
    before = model_signature(model)
    stat = (model / "model.safetensors").stat()
    (model / "model.safetensors").write_bytes(b"\x01" * 64)  # same size, same mtime
    os.utime(model / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert model_signature(model) != before


def test_a_relative_and_an_absolute_path_to_one_model_are_the_same_model(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = fake_model(tmp_path / "models" / "opus")
    copy = fake_model(tmp_path / "elsewhere" / "opus-copy")  # the same files, another place
    monkeypatch.chdir(tmp_path / "models")
    assert model_signature("opus") == model_signature("./opus") == model_signature(model)
    assert model_signature(copy) == model_signature(model)
    assert str(model) not in model_signature(model)


def test_a_hub_model_counts_by_id_and_revision(tmp_path: Path, cache: Path) -> None:
    sig = signature(load_config(None, ["translator.revision=abc123"]))
    assert "translator.model=Helsinki-NLP/opus-mt-en-ar|translator.revision=abc123" in sig


def test_documentation_and_hidden_files_do_not_change_the_model(
    tmp_path: Path, cache: Path
) -> None:
    model = fake_model(tmp_path / "model")
    before = model_signature(model)
    touch(model / "README.md", "About this model.")
    touch(model / ".cache" / "huggingface" / "download" / "x.metadata", "etag")
    assert model_signature(model) == before
    touch(model / "vocab.json", "{}")
    assert model_signature(model) != before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_symlink_loop_in_a_model_folder_does_not_hang_the_run(
    tmp_path: Path, cache: Path
) -> None:
    """The digest read a FIFO (blocking for ever) and walked a symlink loop: a model pointed
    at the wrong folder hung even --dry-run. Such entries count by their kind alone."""
    model = fake_model(tmp_path / "model")
    os.mkfifo(model / "pipe")
    (model / "sub").mkdir()
    (model / "sub" / "up").symlink_to("..")
    article = tmp_path / "a.txt"
    article.write_text("The vote passed on Tuesday. It was close.\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(article), "--dry-run",
         "--set", f"translator.model={model}"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "SUMMARIZE_CACHE": str(cache)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "a.txt" in done.stdout


def test_file_hashes_are_cached_by_stat_and_a_corrupt_cache_counts_as_empty(
    tmp_path: Path, cache: Path
) -> None:
    model = fake_model(tmp_path / "model")
    expected = model_signature(model)
    weights = model / "model.safetensors"
    info = weights.stat()
    cache.mkdir(exist_ok=True)
    # A cache entry that matches the file's stat is trusted (no re-hashing on a no-op rerun).
    planted = {str(weights): [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino,
                              "f" * 64]}  # fmt: skip
    (cache / "model-digests.json").write_text(json.dumps({"version": 1, "files": planted}))
    from summarize.model_identity import _DigestCache

    _DigestCache._open.clear()
    assert model_signature(model) != expected
    for corrupt in ("[1, 2]", "{not json", '{"version": 1, "files": []}', "\xff"):
        (cache / "model-digests.json").write_text(corrupt, encoding="latin-1")
        _DigestCache._open.clear()
        assert model_signature(model) == expected
