"""Checks that the tiny offline test checkpoints load, tokenise and generate like real ones."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from tests.model_builders import (
    ARCHITECTURES,
    FAMILIES,
    TARGET_LANGUAGE_TOKEN,
    build_model,
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


# ---- every family the tool runs -------------------------------------------------------------

TRANSLATORS = [name for name, family in FAMILIES.items() if family.role == "translator"]
CONVERTED = [name for name, family in FAMILIES.items() if family.ctranslate2]
WITHOUT_ARABIC = [name for name, family in FAMILIES.items() if family.without_arabic]
TEXTS = [SHORT, LONG]

#: What each family's directory holds, as its hub checkpoints do.
FAMILY_FILES = {
    "marian": EXPECTED_FILES["translator"],
    "marian-single": EXPECTED_FILES["translator"],
    "nllb": {"sentencepiece.bpe.model", "tokenizer.json"},
    "m2m100": {"sentencepiece.bpe.model", "vocab.json", "added_tokens.json"},
    "mbart50": {"sentencepiece.bpe.model", "tokenizer.json"},
    "madlad": {"spiece.model", "tokenizer.json"},
    "bart": EXPECTED_FILES["summarizer"],
    "pegasus": {"spiece.model", "tokenizer.json"},
    "t5": {"spiece.model", "tokenizer.json"},
    "led": EXPECTED_FILES["summarizer"],
}
CHECKPOINT = {"config.json", "generation_config.json", "model.safetensors", "tokenizer_config.json"}


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny model of every family, built once."""
    root = tmp_path_factory.mktemp("families")
    return {name: build_model(root / name, name) for name in FAMILIES}


@pytest.fixture(scope="module")
def without_arabic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The variant of each family whose vocabulary has no Arabic token."""
    root = tmp_path_factory.mktemp("without-arabic")
    return {name: build_model(root / name, name, without_arabic=True) for name in WITHOUT_ARABIC}


def arabic_token(name: str) -> str:
    """The token by which a model of ``name`` is asked for Arabic."""
    family = FAMILIES[name]
    return family.target_token or family.prefix.strip()


def source_token(name: str) -> str:
    """The token a tokenizer of ``name`` starts an English source with (its src_lang's)."""
    language = FAMILIES[name].source_language
    return f"__{language}__" if name == "m2m100" else str(language)


def request(name: str, tokenizer: Any, texts: Sequence[str]) -> dict[str, Any]:
    """``generate`` arguments asking a model of ``name`` to translate ``texts`` into Arabic
    (or summarise them) the family's way."""
    family = FAMILIES[name]
    inputs = dict(
        tokenizer([family.prefix + text for text in texts], return_tensors="pt", padding=True)
    )
    if family.target_token:
        inputs["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids(family.target_token)
    if name == "led":  # LED attends globally from the first token, locally elsewhere
        inputs["global_attention_mask"] = torch.zeros_like(inputs["input_ids"])
        inputs["global_attention_mask"][:, 0] = 1
    return inputs


@pytest.mark.parametrize("name", FAMILIES)
def test_each_family_loads_like_its_checkpoints(families: dict[str, Path], name: str) -> None:
    directory = families[name]
    files = {path.name: path.stat().st_size for path in directory.iterdir()}
    assert set(files) == CHECKPOINT | FAMILY_FILES[name]
    assert sum(files.values()) < 3_000_000, files

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model, loading_info = AutoModelForSeq2SeqLM.from_pretrained(directory, output_loading_info=True)
    assert not any(loading_info.values()), loading_info
    assert type(tokenizer).__name__ == FAMILIES[name].tokenizer
    assert model.config.model_type == ARCHITECTURES[FAMILIES[name].architecture].family.replace(
        "m2m100", "m2m_100"
    )
    # Every token has a row of the embedding (M2M100 has eight rows more, as its checkpoints).
    assert max(tokenizer.get_vocab().values()) < model.config.vocab_size
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert model.config.eos_token_id == tokenizer.eos_token_id


@pytest.mark.parametrize("name", [name for name in TRANSLATORS if FAMILIES[name].target_token])
def test_language_codes_are_tokens_of_their_own(families: dict[str, Path], name: str) -> None:
    family = FAMILIES[name]
    tokenizer = AutoTokenizer.from_pretrained(families[name])
    target = tokenizer.convert_tokens_to_ids(family.target_token)
    assert target != tokenizer.unk_token_id
    assert tokenizer.convert_ids_to_tokens(target) == family.target_token
    if name == "m2m100":
        assert tokenizer.get_lang_id("ar") == target
    if name == "nllb":
        assert tokenizer.convert_tokens_to_ids("fra_Latn") != tokenizer.unk_token_id

    ids = tokenizer(SHORT).input_ids
    assert tokenizer.convert_ids_to_tokens(ids[0]) == source_token(name)
    assert ids[-1] == tokenizer.eos_token_id
    # Language codes are special: decoding leaves them out.
    assert tokenizer.decode([target, *ids], skip_special_tokens=True) == SHORT


@pytest.mark.parametrize("name", [name for name in FAMILIES if FAMILIES[name].prefix])
def test_prefix_tokens_stay_whole(families: dict[str, Path], name: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(families[name])
    token = FAMILIES[name].prefix.strip()
    if name == "t5":  # a task prefix is plain text, kept where T5 checkpoints keep it
        config = json.loads((families[name] / "config.json").read_text())
        assert config["task_specific_params"]["summarization"]["prefix"] == FAMILIES[name].prefix
        return
    token_id = tokenizer.convert_tokens_to_ids(token)
    assert token_id != tokenizer.unk_token_id
    ids = tokenizer(FAMILIES[name].prefix + SHORT).input_ids
    assert ids.count(token_id) == 1
    assert tokenizer.convert_ids_to_tokens(ids).count(token) == 1


@pytest.mark.parametrize("name", FAMILIES)
def test_each_family_generates_as_asked(families: dict[str, Path], name: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(families[name])
    model = AutoModelForSeq2SeqLM.from_pretrained(families[name])
    output = model.generate(**request(name, tokenizer, TEXTS), num_beams=2, max_new_tokens=12)

    if FAMILIES[name].target_token:  # after the decoder's start token: the forced language
        target = tokenizer.convert_tokens_to_ids(FAMILIES[name].target_token)
        assert [row[1] for row in output.tolist()] == [target, target]
    decoded = tokenizer.batch_decode(output, skip_special_tokens=True)
    assert len(decoded) == 2
    assert all(isinstance(text, str) and text.strip() for text in decoded)
    assert "\ufffd" not in "".join(decoded)
    if FAMILIES[name].role == "translator" and arabic_token(name):  # never in the text
        assert arabic_token(name) not in "".join(decoded)
    # The random weights are scaled up so that outputs depend on the input (seeded, so stable).
    assert decoded[0] != decoded[1]


@pytest.mark.parametrize("name", WITHOUT_ARABIC)
def test_a_variant_without_arabic_lacks_its_token(
    families: dict[str, Path], without_arabic: dict[str, Path], name: str
) -> None:
    token = arabic_token(name)
    assert token in AutoTokenizer.from_pretrained(families[name]).get_vocab()
    tokenizer = AutoTokenizer.from_pretrained(without_arabic[name])
    assert token not in tokenizer.get_vocab()
    assert tokenizer.convert_tokens_to_ids(token) == tokenizer.unk_token_id
    if name == "m2m100":
        with pytest.raises(KeyError):
            tokenizer.get_lang_id("ar")
    # The rest of the family's machinery is there: other languages, the source language.
    if FAMILIES[name].source_language:
        assert tokenizer.convert_ids_to_tokens(tokenizer(SHORT).input_ids[0]) == source_token(name)
    model = AutoModelForSeq2SeqLM.from_pretrained(without_arabic[name])
    assert max(tokenizer.get_vocab().values()) < model.config.vocab_size


@pytest.mark.parametrize(("name", "reason"), [
    ("mbart50", "no mbart50 model lacks an Arabic token"),
    ("bart", "no bart model lacks an Arabic token"),
    ("marian-single", "no marian-single model lacks an Arabic token"),
    ("opus", "unknown family 'opus': one of marian, marian-single, nllb"),
])  # fmt: skip
def test_build_model_refuses_what_does_not_exist(tmp_path: Path, name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        build_model(tmp_path / name, name, without_arabic=True)
    assert not (tmp_path / name).exists()


def test_an_architecture_of_another_model_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pegasus architecture, not m2m100"):
        build_model(tmp_path / "nllb", "nllb", architecture="tiny-pegasus")


BIASED = [name for name in FAMILIES if ARCHITECTURES[FAMILIES[name].architecture].family != "t5"]


@pytest.mark.parametrize("name", BIASED)
def test_eos_bias_makes_a_model_stop_at_once_or_never(tmp_path: Path, name: str) -> None:
    lengths = []
    for bias in (1e4, -1e4):
        directory = build_model(tmp_path / f"{name}{bias}", name, eos_bias=bias)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForSeq2SeqLM.from_pretrained(directory)
        output = model.generate(**request(name, tokenizer, [SHORT]), max_new_tokens=10)
        lengths.append(len(output[0]))
    # at once: </s> right after the start and any forced first token (the language code, BART's
    # <s>); never: at the limit
    forced = FAMILIES[name].target_token or model.generation_config.forced_bos_token_id
    assert lengths == [3 if forced is not None else 2, 11]


def test_t5_has_no_output_bias_to_move(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="T5ForConditionalGeneration has no way to bias"):
        build_model(tmp_path / "t5", "t5", eos_bias=1e4)


# ---- CTranslate2 ----------------------------------------------------------------------------


def convert(directory: Path, output: Path) -> Path:
    """``directory`` converted by CTranslate2's own converter. Tiny BART's config.json lacks
    ``normalize_before``, as any BART saved by transformers 5 does; the tool's converter fills
    it in (False: BART is post-norm), and so does this one."""
    ctranslate2 = pytest.importorskip("ctranslate2")

    class Converter(ctranslate2.converters.TransformersConverter):  # type: ignore[misc]
        def load_model(self, *args: Any, **kwargs: Any) -> Any:
            model = super().load_model(*args, **kwargs)
            if not hasattr(model.config, "normalize_before"):
                model.config.normalize_before = False
            return model

    Converter(str(directory)).convert(str(output))
    return output


def ct2_translate(
    name: str, directory: Path, converted: Path, texts: Sequence[str], length: int
) -> list[list[str]]:
    """Each text's greedy output tokens from CTranslate2, asked for Arabic the family's way."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    tokenizer = AutoTokenizer.from_pretrained(directory)
    family = FAMILIES[name]
    sources = [
        tokenizer.convert_ids_to_tokens(tokenizer(family.prefix + text).input_ids) for text in texts
    ]
    translator = ctranslate2.Translator(str(converted), device="cpu", intra_threads=1)
    prefix = {"target_prefix": [[family.target_token]] * len(texts)} if family.target_token else {}
    results = translator.translate_batch(sources, beam_size=1, max_decoding_length=length, **prefix)
    return [result.hypotheses[0] for result in results]


@pytest.mark.parametrize("name", CONVERTED)
def test_ctranslate2_converts_each_family_it_knows(
    families: dict[str, Path], tmp_path: Path, name: str
) -> None:
    config = json.loads((families[name] / "config.json").read_text())
    if name in ("mbart50", "pegasus"):  # pre-norm, as their checkpoints say
        assert config["normalize_before"] is True
    converted = convert(families[name], tmp_path / "ct2")
    outputs = ct2_translate(name, families[name], converted, TEXTS, 8)
    assert len(outputs) == 2
    assert all(outputs)
    target = FAMILIES[name].target_token
    if target:
        assert [tokens[0] for tokens in outputs] == [target, target]


def test_ctranslate2_does_not_convert_led(families: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LEDConfig"):
        convert(families["led"], tmp_path / "ct2")


# ---- the benchmarks' stand-ins ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "architecture"),
    [("nllb", "nllb-200-distilled-600M"), ("pegasus", "pegasus-cnn_dailymail")],
)
def test_new_stand_ins_pad_the_vocabulary_and_never_end_early_in_either_engine(
    tmp_path: Path, name: str, architecture: str
) -> None:
    # The published shapes at a tiny size: the vocabulary padding and the output bias.
    shape = replace(
        ARCHITECTURES[architecture], d_model=32, layers=(1, 1), heads=2, ffn_dim=64,
        vocab_size=1200, pieces=(500, 0), generation={},
    )  # fmt: skip
    directory = build_model(tmp_path / name, name, architecture=shape)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSeq2SeqLM.from_pretrained(directory)
    assert len(tokenizer) == model.config.vocab_size == 1200

    output = model.generate(**request(name, tokenizer, TEXTS), num_beams=1, max_new_tokens=12)
    for row in output.tolist():
        assert len(row) == 13  # the decoder's start token and 12 generated
        # nothing ends before the limit (PEGASUS forces </s> there, as its checkpoints do)
        assert tokenizer.eos_token_id not in row[1:-1]
    decoded = tokenizer.batch_decode(output, skip_special_tokens=True)
    assert all(text.strip() and "<unused" not in text for text in decoded)
    if name == "nllb":  # a translator generates target-language pieces alone
        assert all("\u0600" <= char <= "\u06ff" for char in "".join(decoded).replace(" ", ""))

    outputs = ct2_translate(name, directory, convert(directory, tmp_path / "ct2"), TEXTS, 12)
    for tokens in outputs:
        assert len(tokens) == 12
        assert tokenizer.eos_token not in tokens
