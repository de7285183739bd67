"""The shipped configs: each loads, and each names a model whose family the tool knows.

Nothing is downloaded: what the tool reads from a model to tell its family (config.json's
``model_type``, the tokenizer's class and the language tokens of its vocabulary) is written
down below for every model a shipped config names, from the models' files on the Hugging Face
hub, and handed to the same family table (``summarize.families``) the engines consult.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from summarize.config import load_config, to_toml
from summarize.families import Asked, Recipe, recipe
from summarize.settings import Config
from tests.conftest import CONFIGS

SHIPPED = sorted(CONFIGS.glob("*.toml"))


@dataclass(frozen=True)
class Published:
    """What a published model's files say about it, and what the tool should make of it."""

    role: str  # summarizer, translator, or both (an instruction model)
    model_type: str  # config.json
    tokenizer: str  # tokenizer_config.json's tokenizer_class
    language_tokens: tuple[str, ...]  # the ones the family needs, in its vocabulary
    family: str  # the family the tool should tell
    prefix: str = ""  # then put before every input
    target_token: str | None = None  # then forced as the first generated token
    non_commercial: bool = False  # the weights' license forbids commercial use
    chat_template: str | None = None  # a decoder-only instruction model's (tokenizer_config)


MODELS: dict[str, Published] = {
    "sshleifer/distilbart-cnn-12-6": Published("summarizer", "bart", "BartTokenizer", (), "BART"),
    "facebook/bart-large-cnn": Published("summarizer", "bart", "BartTokenizer", (), "BART"),
    "google/pegasus-cnn_dailymail": Published(
        "summarizer", "pegasus", "PegasusTokenizer", (), "PEGASUS"
    ),
    # Multi-target OPUS-MT models: "a sentence initial language token is required" (model card).
    "Helsinki-NLP/opus-mt-en-ar": Published(
        "translator", "marian", "MarianTokenizer", (">>ara<<", ">>arz<<"),
        "Marian (several target languages)", prefix=">>ara<< ",
    ),
    "Helsinki-NLP/opus-mt-tc-big-en-ar": Published(
        "translator", "marian", "MarianTokenizer", (">>ara<<", ">>arq<<"),
        "Marian (several target languages)", prefix=">>ara<< ",
    ),
    "facebook/nllb-200-distilled-600M": Published(
        "translator", "m2m_100", "NllbTokenizer", ("eng_Latn", "arb_Arab", "arz_Arab"),
        "NLLB-200", target_token="arb_Arab", non_commercial=True,
    ),
    "google/madlad400-3b-mt": Published(
        "translator", "t5", "T5Tokenizer", ("<2ar>", "<2en>"), "T5 (MADLAD-400)",
        prefix="<2ar> ",
    ),
    "Qwen/Qwen2.5-1.5B-Instruct": Published(
        "both", "qwen2", "Qwen2Tokenizer", (), "instruction model",
        chat_template="{% for message in messages %}...{% endfor %}",
    ),
}  # fmt: skip


def told(model: str, config: Config) -> Recipe:
    """The recipe the tool makes of ``model`` (as MODELS has it) under ``config``'s settings."""
    published = MODELS[model]
    role = "summarizer" if published.role == "both" else published.role
    settings = getattr(config, role)
    asked = Asked(
        role,
        settings.source_prefix,
        getattr(settings, "source_language", "auto"),
        getattr(settings, "target_language", "auto"),
        settings.prompt,
    )
    vocabulary = {token: i for i, token in enumerate(("<pad>", *published.language_tokens))}
    parts = {"get_vocab": lambda self: vocabulary, "chat_template": published.chat_template}
    tokenizer: Any = type(published.tokenizer, (), parts)()
    files = SimpleNamespace(
        model_type=published.model_type, is_encoder_decoder=published.chat_template is None
    )
    return recipe(asked, model, files, tokenizer)


def named_models(config: Config) -> list[tuple[str, str]]:
    """The (role, model) pairs a config runs."""
    roles = (("summarizer", config.needs_summarizer), ("translator", config.needs_translator))
    return [(role, getattr(config, role).model) for role, needed in roles if needed]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_config_loads_and_shows_as_itself(path: Path, tmp_path: Path) -> None:
    config = load_config(path)
    # What `config show` prints for it loads back as the same settings.
    shown = tmp_path / "shown.toml"
    shown.write_text(to_toml(config), encoding="utf-8")
    assert load_config(shown) == config


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_config_names_models_of_families_the_tool_knows(path: Path) -> None:
    config = load_config(path)
    for role, model in named_models(config):
        assert model in MODELS, f"{path.name}: {model} is not in this test's table"
        published = MODELS[model]
        assert published.role in (role, "both"), f"{path.name}: {model} is a {published.role}"
        found = told(model, config)
        assert (found.family, found.prefix, found.target_token) == (
            published.family,
            published.prefix,
            published.target_token,
        ), f"{path.name}: {model}"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_config_with_a_non_commercial_model_says_so(path: Path) -> None:
    config = load_config(path)
    restricted = [m for _, m in named_models(config) if MODELS[m].non_commercial]
    if restricted:
        assert "NON-COMMERCIAL" in path.read_text(encoding="utf-8"), restricted


def test_the_guide_configs_are_shipped() -> None:
    models = {
        name: {model for _, model in named_models(load_config(CONFIGS / f"{name}.toml"))}
        for name in ("nllb", "madlad", "pegasus", "quality", "llm")
    }
    assert models["llm"] == {"Qwen/Qwen2.5-1.5B-Instruct"}
    assert "facebook/nllb-200-distilled-600M" in models["nllb"]
    assert "google/madlad400-3b-mt" in models["madlad"]
    assert "google/pegasus-cnn_dailymail" in models["pegasus"]
    assert {"facebook/bart-large-cnn", "Helsinki-NLP/opus-mt-tc-big-en-ar"} <= models["quality"]


def test_the_cpu_config_halves_the_beams_and_leaves_the_engine_to_auto() -> None:
    config = load_config(CONFIGS / "cpu.toml")
    assert (config.summarizer.num_beams, config.translator.num_beams) == (2, 2)
    # backend = "auto" already picks CTranslate2 (int8 on the CPU) for both default models.
    assert (config.summarizer.backend, config.translator.backend) == ("auto", "auto")
    assert config.runtime.device == "cpu"
