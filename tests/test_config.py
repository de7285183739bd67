"""Configuration: layering, --set parsing and validation messages."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from summarize.config import load_config
from summarize.errors import ConfigError
from summarize.settings import Config
from tests.conftest import CONFIGS, ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_published_models() -> None:
    config = load_config()
    assert config.summarizer.model == "sshleifer/distilbart-cnn-12-6"
    assert config.translator.model == "Helsinki-NLP/opus-mt-en-ar"
    # How each is asked for its job, and on which engine, is left to the model's family.
    assert (config.summarizer.backend, config.translator.backend) == ("auto", "auto")
    assert (config.summarizer.source_prefix, config.translator.source_prefix) == ("auto", "auto")
    assert (config.translator.source_language, config.translator.target_language) == (
        "auto",
        "auto",
    )


def test_default_toml_matches_the_built_in_defaults() -> None:
    assert load_config(CONFIGS / "default.toml") == Config()


def test_file_overrides_defaults_and_set_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[runtime]\ndevice = "cuda"\nthreads = 3\n')
    config = load_config(path, ["runtime.device=cpu", "summarizer.num_beams=2"])
    assert config.runtime.device == "cpu"  # --set beats the file
    assert config.runtime.threads == 3  # the file beats the default
    assert config.summarizer.num_beams == 2
    assert config.runtime.dtype == "auto"  # untouched default


@pytest.mark.parametrize(
    ("override", "attribute", "expected"),
    [
        ("summarizer.model=/models/bart", ("summarizer", "model"), "/models/bart"),
        ("translator.source_prefix=>>arz<<", ("translator", "source_prefix"), ">>arz<<"),
        ("summarizer.length_penalty=1", ("summarizer", "length_penalty"), 1),
        ("input.cleanup=false", ("input", "cleanup"), False),
        ('output.translate=["article"]', ("output", "translate"), ["article"]),
        ("runtime.device=cuda:1", ("runtime", "device"), "cuda:1"),
        ("summarizer.revision=v1.0", ("summarizer", "revision"), "v1.0"),
    ],
)
def test_set_values_are_typed_like_toml(
    override: str, attribute: tuple[str, str], expected: object
) -> None:
    section, key = attribute
    assert getattr(getattr(load_config(None, [override]), section), key) == expected


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[summarizer]\nbeams = 4\n", ["settings.toml", "summarizer.beams", "num_beams"]),
        ("[models]\nx = 1\n", ["settings.toml", "[models]", "runtime"]),
        ("[runtime]\ndevice = 'gpu'\n", ["runtime.device", "'gpu'", "cuda:N"]),
        ("[runtime]\ndtype = 'int8'\n", ["runtime.dtype", "bfloat16"]),
        ("[runtime]\nthreads = 'four'\n", ["runtime.threads", "integer"]),
        ("[input]\ncleanup = 1\n", ["input.cleanup", "true or false"]),
        ("[summarizer]\nbackend = 'onnx'\n", ["summarizer.backend", "auto, transformers"]),
        ("[output]\nsummary = '../{stem}.txt'\n", ["output.summary", "path separators"]),
        ("[output]\nsummary = 'summary.txt'\n", ["output.summary", "{stem}"]),
        ("[output]\narticle_ar = '{stem}.summary.txt'\n", ["output.article_ar", "same"]),
        ("[output]\ntranslate = ['title']\n", ["output.translate", "summary, article"]),
        (
            "[output]\nsummarize = false\ntranslate = ['summary']\n",
            ["output.translate", "output.summarize"],
        ),
        ("[summarizer]\nmin_length = 200\n", ["summarizer.min_length", "max_length"]),
        ("[summarizer]\nmax_length = 2000\n", ["summarizer.max_length", "max_input_tokens"]),
        ("runtime = 3\n", ["[runtime]", "table"]),
        ("[runtime\n", ["settings.toml", "not valid TOML"]),
        # tomllib recurses per level: a RecursionError ended the command
        ("x = " + "[" * 100_000 + "]" * 100_000, ["settings.toml", "nested too deep"]),
        ("x = " + "{a = " * 5_000 + "1" + "}" * 5_000, ["settings.toml", "nested too deep"]),
    ],
)
def test_bad_config_names_the_file_and_key(tmp_path: Path, text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("runtime.device", "SECTION.KEY=VALUE"),
        ("device=cpu", "SECTION.KEY=VALUE"),
        ("runtime.gpu=1", "valid keys in [runtime]"),
        ("runtime.batch_tokens=0", "at least 1"),
        ('guards.checks=["loops"]', "guards.checks: must list only checks among: empty,"),
        ("guards.min_length_ratio=2", "must not be above guards.max_length_ratio"),
        ("guards.max_repetition=1.5", "at most 1.0"),
        ("guards.repair_rounds=3", "at most 2"),
        ("guards.repair_repetition_penalty=0.5", "at least 1.0"),
        ("input.globs=" + "[" * 100_000 + "]" * 100_000, "input.globs must be a list"),
    ],
)
def test_bad_override_names_set(override: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert "--set" in str(info.value)
    assert fragment in str(info.value)


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def config_show(path: Path) -> subprocess.CompletedProcess[str]:
    """``summarize config show -c path`` in a process of its own: killed (failing the test) if
    it waits, and failing rather than filling the memory if it reads a huge file whole."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    return subprocess.run(
        [sys.executable, "-m", "summarize", "config", "show", "-c", str(path)],
        capture_output=True, text=True, timeout=60, preexec_fn=limit_memory,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_a_config_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """-c naming a FIFO waited for ever for a writer."""
    os.mkfifo(tmp_path / "settings.toml")
    done = config_show(tmp_path / "settings.toml")
    assert done.returncode == 2
    assert "settings.toml: cannot read config file (not a regular file but a FIFO)" in done.stderr


def test_a_config_file_far_larger_than_any_config_is_not_read(tmp_path: Path) -> None:
    """Read whole, a file of many GB filled the memory."""
    path = tmp_path / "settings.toml"
    with path.open("wb") as fh:
        fh.truncate(8 * 1024**3)  # sparse: no disk used
    done = config_show(path)
    assert done.returncode == 2
    assert "settings.toml: cannot read config file (8,589,934,592 bytes, more than" in done.stderr
