"""Shared fixtures: no network, tiny models built once per session, the echo engine's settings."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Tests never reach a model hub: anything not built locally must fail, not download.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
CONFIGS = ROOT / "configs"

#: --set overrides that run the whole pipeline with the model-free echo engine.
ECHO = [
    "--set", "summarizer.backend=echo",
    "--set", "summarizer.model=echo",
    "--set", "translator.backend=echo",
    "--set", "translator.model=echo",
]  # fmt: skip


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
