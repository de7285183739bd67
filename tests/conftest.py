"""Shared fixtures: no network, tiny models built once per session, the echo engine's settings."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarize.backends import LoadSpec

# Tests never reach a model hub: anything not built locally must fail, not download.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
CONFIGS = ROOT / "configs"

#: The settings that run the whole pipeline with the model-free echo engine. Its
#: "translation" is its English input, so the guards' script and identical checks are off.
ECHO_SETTINGS = [
    "summarizer.backend=echo",
    "summarizer.model=echo",
    "translator.backend=echo",
    "translator.model=echo",
    'guards.checks=["empty", "length_cap", "repetition", "length_ratio", "summary_length", '
    '"grounding"]',
]
#: The same as --set options.
ECHO = [item for setting in ECHO_SETTINGS for item in ("--set", setting)]


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tool's cache (CTranslate2 conversions, model digests) for the whole session, never
    the user's: ``backend = "auto"`` converts every tiny model a CLI test runs. A test that
    needs an empty one sets SUMMARIZE_CACHE itself; each conversion is made once here."""
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("summarize-cache")
        patch.setenv("SUMMARIZE_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny random BART summarizer and Marian translator, saved like real models."""
    from tests.model_builders import build_summarizer, build_translator

    root = tmp_path_factory.mktemp("models")
    return {
        "summarizer": build_summarizer(root / "summarizer"),
        "translator": build_translator(root / "translator"),
    }


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of seeds/."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def on_cpu(backend: str, model: str, role: str, quantization: str = "auto") -> LoadSpec:
    """What load_models builds for ``model`` with ``runtime.device = 'cpu'``, in float32, on one
    thread (as configs/tiny.toml: tiny models gain nothing from more)."""
    return LoadSpec(
        backend, model, role, device="cpu", dtype="float32", quantization=quantization, threads=1
    )


@contextlib.contextmanager
def captured_log(
    caplog: pytest.LogCaptureFixture, name: str, level: int
) -> Iterator[pytest.LogCaptureFixture]:
    """``caplog`` with the records of logger ``name`` from ``level`` up, attached to that logger
    itself, since the CLI stops propagation above ``summarize``."""
    logger = logging.getLogger(name)
    logger.addHandler(caplog.handler)
    caplog.set_level(level, logger=name)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
