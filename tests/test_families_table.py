"""The table of model families on stand-in configs and tokenizers: what each family is asked,
what the settings override, the errors that name the key, the engine "auto" picks, the limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from summarize.backends.huggingface import RELATIVE_POSITIONS, input_limit, output_limit
from summarize.errors import ModelError
from summarize.families import AUTO, Asked, Recipe, auto_backend, recipe, resolve_backend
from tests.conftest import ROOT

NLLB = ("eng_Latn", "arb_Arab", "fra_Latn", "▁The")
M2M100 = ("__en__", "__ar__", "__fr__", "__de__", "▁The")
MBART50 = ("en_XX", "ar_AR", "fr_XX", "▁The")
MADLAD = ("<2ar>", "<2fr>", "▁The")
MARIAN = (">>ara<<", ">>fra<<", "▁The")


def tokenizer(class_name: str, vocab: tuple[str, ...]) -> Any:
    """A tokenizer of class ``class_name`` (NllbTokenizer, ...) that knows ``vocab``."""
    ids = {token: i for i, token in enumerate(vocab)}
    return type(class_name, (), {"get_vocab": lambda self: dict(ids)})()


def asked_of(role: str, model_type: str, class_name: str, vocab: tuple[str, ...],
             params: dict[str, Any] | None = None, **asked: str) -> Recipe:  # fmt: skip
    config = SimpleNamespace(model_type=model_type, task_specific_params=params)
    return recipe(Asked(role, **asked), "some/model", config, tokenizer(class_name, vocab))


T = "translator"
S = "summarizer"
SUMMARIZE = {"summarization": {"prefix": "summarize: "}}


@pytest.mark.parametrize(
    ("role", "model_type", "class_name", "vocab", "asked", "expected"),
    [
        # Marian: >>ara<< where it has target tokens, nothing where it has one target language
        (T, "marian", "MarianTokenizer", MARIAN, {},
         Recipe("Marian (several target languages)", "marian", ">>ara<< ")),
        (T, "marian", "MarianTokenizer", ("▁The",), {},
         Recipe("Marian (one target language)", "marian")),
        (T, "marian", "MarianTokenizer", MARIAN, {"target_language": "fra"},
         Recipe("Marian (several target languages)", "marian", ">>fra<< ")),
        (T, "marian", "MarianTokenizer", MARIAN, {"target_language": ">>fra<<"},
         Recipe("Marian (several target languages)", "marian", ">>fra<< ")),
        (T, "marian", "MarianTokenizer", MARIAN, {"source_prefix": ">>fra<<"},
         Recipe("Marian", "marian", ">>fra<< ")),
        (T, "marian", "MarianTokenizer", MARIAN, {"source_prefix": ""}, Recipe("Marian", "marian")),
        # NLLB-200 (M2M100 weights, NLLB tokenizer), M2M100, mBART-50: source language on the
        # tokenizer, the target's token forced first
        (T, "m2m_100", "NllbTokenizer", NLLB, {},
         Recipe("NLLB-200", "m2m_100", "", "eng_Latn", "arb_Arab")),
        (T, "m2m_100", "NllbTokenizerFast", NLLB,
         {"source_language": "fra_Latn", "target_language": "eng_Latn"},
         Recipe("NLLB-200", "m2m_100", "", "fra_Latn", "eng_Latn")),
        (T, "m2m_100", "M2M100Tokenizer", M2M100, {},
         Recipe("M2M100", "m2m_100", "", "en", "__ar__")),
        (T, "m2m_100", "M2M100Tokenizer", M2M100,
         {"source_language": "de", "target_language": "fr"},
         Recipe("M2M100", "m2m_100", "", "de", "__fr__")),
        (T, "m2m_100", "M2M100Tokenizer", M2M100,
         {"source_language": "__de__", "target_language": "__fr__"},
         Recipe("M2M100", "m2m_100", "", "de", "__fr__")),
        (T, "mbart", "MBart50Tokenizer", MBART50, {},
         Recipe("mBART-50", "mbart", "", "en_XX", "ar_AR")),
        (T, "mbart", "MBart50Tokenizer", MBART50, {"target_language": "fr_XX"},
         Recipe("mBART-50", "mbart", "", "en_XX", "fr_XX")),
        # MADLAD-400 and other T5 translators: the language token is text before the input
        (T, "t5", "T5Tokenizer", MADLAD, {}, Recipe("T5 (MADLAD-400)", "t5", "<2ar> ")),
        (T, "mt5", "T5Tokenizer", MADLAD, {"target_language": "fr"},
         Recipe("T5 (MADLAD-400)", "mt5", "<2fr> ")),
        (T, "t5", "T5Tokenizer", ("▁The",), {"source_prefix": "translate English to Arabic:"},
         Recipe("T5", "t5", "translate English to Arabic: ")),
        # any other model, told how to be asked
        (T, "fsmt", "FSMTTokenizer", ("ar", "▁The"), {"target_language": "ar"},
         Recipe("seq2seq", "fsmt", "", None, "ar")),
        (T, "fsmt", "FSMTTokenizer", ("▁The",), {"source_prefix": ""}, Recipe("seq2seq", "fsmt")),
        # summarizers: T5's task prefix from its config, else "summarize: "; LED's attention
        (S, "t5", "T5Tokenizer", (), {}, Recipe("T5", "t5", "summarize: ")),
        (S, "t5", "T5Tokenizer", (), {"params": {"summarization": {"prefix": "sum: "}}},
         Recipe("T5", "t5", "sum: ")),
        (S, "t5", "T5Tokenizer", (), {"params": SUMMARIZE, "source_prefix": "headline:"},
         Recipe("T5", "t5", "headline: ")),
        (S, "t5", "T5Tokenizer", (), {"params": SUMMARIZE, "source_prefix": ""},
         Recipe("T5", "t5")),
        (S, "umt5", "T5Tokenizer", (), {"params": {"translation": {"prefix": "x"}}},
         Recipe("T5", "umt5", "summarize: ")),
        (S, "led", "LEDTokenizer", (), {}, Recipe("LED", "led", global_attention=True)),
        (S, "bart", "BartTokenizer", (), {}, Recipe("BART", "bart")),
        (S, "pegasus", "PegasusTokenizer", (), {},
         Recipe("PEGASUS", "pegasus", sentence_break="<n>")),
        (S, "bart", "BartTokenizer", (), {"source_prefix": "summarize:"},
         Recipe("BART", "bart", "summarize: ")),
        (S, "prophetnet", "ProphetNetTokenizer", (), {"source_prefix": ""},
         Recipe("seq2seq", "prophetnet")),
    ],
)  # fmt: skip
def test_each_family_is_recognised_and_asked_its_way(
    role: str,
    model_type: str,
    class_name: str,
    vocab: tuple[str, ...],
    asked: dict[str, Any],
    expected: Recipe,
) -> None:
    params = asked.pop("params", None)
    assert asked_of(role, model_type, class_name, vocab, params, **asked) == expected


@pytest.mark.parametrize(
    ("role", "model_type", "class_name", "vocab", "asked", "fragments"),
    [
        # without the target language (or the source's): the key to set
        (T, "m2m_100", "NllbTokenizer", ("eng_Latn", "fra_Latn"), {},
         ["no token 'arb_Arab' for the target language", "set translator.target_language"]),
        (T, "m2m_100", "NllbTokenizer", NLLB, {"source_language": "xx_Latn"},
         ["no token 'xx_Latn' for the source language", "set translator.source_language"]),
        (T, "m2m_100", "M2M100Tokenizer", ("__en__", "__fr__"), {},
         ["no token '__ar__'", "set translator.target_language", "like ar"]),
        (T, "m2m_100", "M2M100Tokenizer", M2M100, {"source_language": "xx"},
         ["no token '__xx__'", "set translator.source_language"]),
        (T, "mbart", "MBartTokenizer", ("en_XX", "ro_RO"), {},
         ["no token 'ar_AR'", "set translator.target_language", "like ar_AR"]),
        (T, "t5", "T5Tokenizer", MADLAD[1:], {},
         ["no token '<2ar>'", "set translator.target_language"]),
        (T, "marian", "MarianTokenizer", MARIAN[1:], {},
         ["has no token >>ara<<", "it knows >>fra<<", "set translator.target_language"]),
        (T, "marian", "MarianTokenizer", ("▁The",), {"target_language": "fra"},
         ["has no token >>fra<<", "it translates into one language"]),
        # a language token the tokenizer would split into pieces, as a prefix
        (T, "marian", "MarianTokenizer", MARIAN, {"source_prefix": ">> ara <<"},
         ["translator.source_prefix = '>> ara <<': '>>' is not a token", "knows >>ara<<"]),
        (T, "t5", "T5Tokenizer", MADLAD, {"source_prefix": "<2arz>"},
         ["'<2arz>' is not a token", "knows <2ar>, <2fr>"]),
        # a family the table cannot tell
        (T, "t5", "T5Tokenizer", ("▁The",), {},
         ["a t5 model without MADLAD-400's <2xx>", "set translator.source_prefix"]),
        (T, "bart", "BartTokenizer", ("▁The",), {},
         ["cannot tell how to ask a bart model for Arabic", "set translator.source_prefix",
          "or translator.target_language"]),
        (T, "fsmt", "FSMTTokenizer", ("▁The",), {"target_language": "ar"},
         ["no token 'ar'", "set translator.target_language"]),
        (S, "marian", "MarianTokenizer", (), {},
         ["cannot tell how to ask a marian model for a summary", "set summarizer.source_prefix"]),
        (S, "", "PreTrainedTokenizer", (), {},
         ["cannot tell how to ask a model without a model_type for a summary"]),
    ],
)  # fmt: skip
def test_what_cannot_be_asked_is_a_load_error_naming_the_model_and_the_key(
    role: str,
    model_type: str,
    class_name: str,
    vocab: tuple[str, ...],
    asked: dict[str, str],
    fragments: list[str],
) -> None:
    with pytest.raises(ModelError) as info:
        asked_of(role, model_type, class_name, vocab, **asked)
    message = str(info.value)
    assert message.startswith(f"{role}.model: some/model: ")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("found", "line"),
    [
        (Recipe("NLLB-200", "m2m_100", "", "eng_Latn", "arb_Arab"),
         "NLLB-200 (m2m_100), eng_Latn -> arb_Arab, forced first token"),
        (Recipe("Marian (several target languages)", "marian", ">>ara<< "),
         "Marian (several target languages) (marian), prefix '>>ara<<'"),
        (Recipe("seq2seq", "fsmt", "", None, "ar"), "seq2seq (fsmt), ? -> ar, forced first token"),
        (Recipe("T5", "t5", "summarize: "), "T5 (t5), prefix 'summarize:'"),
        (Recipe("LED", "led", global_attention=True),
         "LED (led), global attention on the first token"),
        (Recipe("BART", "bart"), "BART (bart)"),
    ],
)  # fmt: skip
def test_a_recipe_describes_itself_in_one_line(found: Recipe, line: str) -> None:
    assert found.describe() == line


def test_ctranslate2_converts_every_family_but_led() -> None:
    converted = ["marian", "m2m_100", "mbart", "t5", "mt5", "umt5", "bart", "pegasus"]
    assert all(Recipe("x", kind).converts for kind in converted)
    assert not Recipe("LED", "led").converts


# --- the engine "auto" picks -------------------------------------------------------------------


def model_dir(path: Path, config: str | None) -> Path:
    path.mkdir(parents=True)
    if config is not None:
        (path / "config.json").write_text(config, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("config", "engine", "why"),
    [
        ('{"model_type": "marian"}', "ctranslate2", "CTranslate2 converts marian models"),
        ('{"model_type": "m2m_100"}', "ctranslate2", "CTranslate2 converts m2m_100 models"),
        ('{"model_type": "led"}', "transformers", "CTranslate2 does not convert led models"),
        ('{"model_type": "gpt2"}', "transformers", "CTranslate2 does not convert gpt2 models"),
        # Nothing to read: loading says why, CTranslate2 being the likelier engine.
        (None, "ctranslate2", "its config.json cannot be read yet"),
        ("{not json", "ctranslate2", "its config.json cannot be read yet"),
        ('["marian"]', "ctranslate2", "its config.json cannot be read yet"),
        # json.loads recursed once per level: a RecursionError ended the run
        ("[" * 100_000, "ctranslate2", "its config.json cannot be read yet"),
        ('{"a": ' * 5_000, "ctranslate2", "its config.json cannot be read yet"),
    ],
)
def test_auto_picks_ctranslate2_where_it_converts_the_model(
    tmp_path: Path, config: str | None, engine: str, why: str
) -> None:
    pytest.importorskip("ctranslate2")
    model = str(model_dir(tmp_path / "model", config))
    assert auto_backend(model, "main") == (engine, why)
    assert resolve_backend(AUTO, model, "main") == engine
    for named in ("transformers", "ctranslate2", "echo"):
        assert resolve_backend(named, model, "main") == named


def test_a_config_json_that_is_a_fifo_is_warned_about_never_waited_on(tmp_path: Path) -> None:
    pytest.importorskip("ctranslate2")
    model = model_dir(tmp_path / "model", None)
    os.mkfifo(model / "config.json")
    script = (
        "import logging; logging.getLogger('summarize').addHandler(logging.StreamHandler()); "
        f"from summarize.families import auto_backend; print(auto_backend({str(model)!r}, 'm'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "config.json: cannot read the model's type (not a regular file but a FIFO)" in (
        done.stderr
    )
    assert "its config.json cannot be read yet" in done.stdout


def test_auto_picks_transformers_on_an_apple_gpu(tmp_path: Path) -> None:
    pytest.importorskip("ctranslate2")
    model = str(model_dir(tmp_path / "model", '{"model_type": "marian"}'))
    why = "CTranslate2 does not run on runtime.device = 'mps'"
    assert auto_backend(model, "main", "mps") == ("transformers", why)
    assert resolve_backend(AUTO, model, "main", "cuda:1") == "ctranslate2"


def test_auto_reads_a_hub_model_from_the_cache_without_the_network(tmp_path: Path) -> None:
    """As the Hugging Face cache lays out a downloaded model; offline, a model not in it is
    not known yet (loading then says it is missing)."""
    pytest.importorskip("ctranslate2")
    repo = tmp_path / "hub" / "models--example--tiny-led"
    model_dir(repo / "snapshots" / ("a" * 40), json.dumps({"model_type": "led"}))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40, encoding="utf-8")
    script = (
        "from summarize.families import resolve_backend as r; "
        "print(r('auto', 'example/tiny-led', 'main'), r('auto', 'example/tiny-led', 'main', "
        "fetch=True), r('auto', 'example/other', 'main', fetch=True))"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["transformers", "transformers", "ctranslate2"]


# --- the limits every family's engines report --------------------------------------------------

HUGE = int(1e30)  # what a tokenizer without a limit reports


@pytest.mark.parametrize(
    ("config", "tokenizer_limit", "limits"),
    [
        ({"max_position_embeddings": 512}, 512, (512, 512)),  # Marian
        ({"max_position_embeddings": 1024}, 1024, (1024, 1024)),  # BART, PEGASUS, NLLB
        ({"max_position_embeddings": 1024}, 256, (256, 1024)),  # a tokenizer that says less
        ({"max_position_embeddings": 1024}, HUGE, (1024, 1024)),
        # LED: its encoder's positions and its decoder's, not 1024 for both
        ({"max_encoder_position_embeddings": 16384, "max_decoder_position_embeddings": 1024},
         16384, (16384, 1024)),
        # T5 and MADLAD: relative positions, so the tokenizer's limit, else T5's 512
        ({}, 512, (512, 512)),
        ({}, 2048, (2048, 2048)),
        ({}, HUGE, (RELATIVE_POSITIONS, RELATIVE_POSITIONS)),
        ({}, None, (RELATIVE_POSITIONS, RELATIVE_POSITIONS)),
    ],
)  # fmt: skip
def test_input_and_output_limits_of_every_family(
    config: dict[str, int], tokenizer_limit: int | None, limits: tuple[int, int]
) -> None:
    model_config = SimpleNamespace(**config)
    tokenizer = SimpleNamespace(model_max_length=tokenizer_limit)
    assert (input_limit(tokenizer, model_config), output_limit(tokenizer, model_config)) == limits


@pytest.mark.parametrize(
    "decoded,text",
    [
        (
            "Prices rose.<n>Markets fell.<n>Traders sold.",
            "Prices rose. Markets fell. Traders sold.",
        ),
        ("One sentence only.", "One sentence only."),
        ("  Padded. <n> ", "Padded."),
    ],
)
def test_pegasus_sentence_breaks_are_read_as_spaces(decoded: str, text: str) -> None:
    config = SimpleNamespace(model_type="pegasus", task_specific_params=None)
    found = recipe(Asked("summarizer"), "pegasus-model", config, tokenizer("PegasusTokenizer", ()))
    assert found.finish(decoded) == text


def test_other_families_keep_what_they_wrote() -> None:
    config = SimpleNamespace(model_type="bart", task_specific_params=None)
    found = recipe(Asked("summarizer"), "bart-model", config, tokenizer("BartTokenizer", ()))
    assert found.finish(" Kept <n> as written. ") == "Kept <n> as written."
