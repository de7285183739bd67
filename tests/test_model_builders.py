"""Checks that the tiny offline test checkpoints load, tokenise and generate like real ones."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from tests.model_builders import (
    ARCHITECTURES,
    TARGET_LANGUAGE_TOKEN,
    build_summarizer,
    build_translator,
)

pytestmark = [
    pytest.mark.slow,
    # MarianTokenizer warns on every load when the optional sacremoses package is missing.
    pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses"),
]

SHORT = "Hello world. This is a test."
LONG = (
    "The city council met on Monday to discuss the new budget for schools and roads, "
    "and the mayor promised to publish a full report before the end of the month."
)

EXPECTED_FILES = {
    "translator": {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "source.spm",
        "target.spm",
        "tokenizer_config.json",
        "vocab.json",
    },
    "summarizer": {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    },
}


def test_builders_are_small_and_write_only_into_their_directory(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("fresh-tiny-models")
    built = {
        "translator": build_translator(root / "translator"),
        "summarizer": build_summarizer(root / "summarizer"),
    }

    assert {path.name for path in root.iterdir()} == {"translator", "summarizer"}
    for name, directory in built.items():
        assert directory == root / name
        files = {path.name: path.stat().st_size for path in directory.iterdir()}
        assert set(files) == EXPECTED_FILES[name]
        assert sum(files.values()) < 3_000_000, files


def test_translator_tokenizer_keeps_language_token_whole(tiny_models: dict[str, Path]) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["translator"])
    language_id = tokenizer.convert_tokens_to_ids(TARGET_LANGUAGE_TOKEN)
    assert language_id != tokenizer.unk_token_id

    short_ids = tokenizer(f"{TARGET_LANGUAGE_TOKEN} {SHORT}").input_ids
    assert short_ids[0] == language_id
    assert language_id not in short_ids[1:]
    assert not any(">>" in token for token in tokenizer.convert_ids_to_tokens(short_ids[1:]))
    assert short_ids[-1] == tokenizer.eos_token_id
    decoded = tokenizer.decode(short_ids, skip_special_tokens=True)
    assert isinstance(decoded, str) and decoded.endswith(SHORT)

    long_ids = tokenizer(f"{TARGET_LANGUAGE_TOKEN} {LONG}").input_ids
    assert len(long_ids) > len(short_ids)
    assert tokenizer.model_max_length == 512


@pytest.mark.parametrize("kind", ["summarizer", "translator"])
def test_auto_classes_load_and_generate_strings(tiny_models: dict[str, Path], kind: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_models[kind])
    model, loading_info = AutoModelForSeq2SeqLM.from_pretrained(
        tiny_models[kind], output_loading_info=True
    )
    assert not any(loading_info.values()), loading_info
    assert model.config.model_type == {"summarizer": "bart", "translator": "marian"}[kind]
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert model.config.eos_token_id == tokenizer.eos_token_id

    prefix = f"{TARGET_LANGUAGE_TOKEN} " if kind == "translator" else ""
    batch = tokenizer([prefix + SHORT, prefix + LONG], return_tensors="pt", padding=True)
    output = model.generate(**batch, num_beams=2, max_new_tokens=20)
    decoded = tokenizer.batch_decode(output, skip_special_tokens=True)

    assert len(decoded) == 2
    assert all(isinstance(text, str) and text for text in decoded)
    assert "\ufffd" not in "".join(decoded)
    # The random weights are scaled up so that outputs depend on the input (seeded, so stable).
    assert decoded[0] != decoded[1]


@pytest.mark.parametrize(
    ("kind", "build", "architecture"),
    [
        ("summarizer", build_summarizer, "tiny-bart"),
        ("translator", build_translator, "tiny-marian"),
    ],
)
def test_stand_in_settings_pad_the_vocabulary_and_never_end_early(
    tmp_path: Path, kind: str, build: Any, architecture: str
) -> None:
    # The benchmarks' stand-ins (opus-mt-en-ar, distilbart-cnn-12-6 shapes) at a tiny size.
    shape = replace(ARCHITECTURES[architecture], vocab_size=700, words_only=True)
    directory = build(tmp_path / kind, shape)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSeq2SeqLM.from_pretrained(directory)
    assert len(tokenizer) == model.config.vocab_size == 700

    prefix = f"{TARGET_LANGUAGE_TOKEN} " if kind == "translator" else ""
    batch = tokenizer([prefix + SHORT, prefix + LONG], return_tensors="pt", padding=True)
    output = model.generate(**batch, num_beams=1, max_new_tokens=12)
    for row in output.tolist():
        generated = row[1:]  # after the decoder's start token
        assert len(generated) == 12
        # forced_eos_token_id puts </s> at the limit; nothing ends before it.
        assert tokenizer.eos_token_id not in generated[:-1]
    decoded = tokenizer.batch_decode(output, skip_special_tokens=True)
    assert all(text.strip() and "<unused" not in text for text in decoded)


def test_an_architecture_of_the_other_family_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="marian architecture, not bart"):
        build_summarizer(tmp_path / "s", "opus-mt-en-ar")
