"""The benchmark's stand-ins for real models, built once into its cache and converted.

The shapes and the building live in ``tests/model_builders.py`` (shared with the tests);
here they get the benchmark's training text and a cache that knows which build it holds.
The cost of a forward pass depends on the architecture (layers, widths, heads, vocabulary),
not on the values of the weights, so a randomly initialised model with the configuration of
``Helsinki-NLP/opus-mt-en-ar`` or ``sshleifer/distilbart-cnn-12-6`` (the default models),
``facebook/nllb-200-distilled-600M`` or ``google/pegasus-cnn_dailymail`` (see :data:`STANDINS`)
takes as long per token as the real one. Nothing is downloaded: the tokenizers are trained
here on made-up news text (and the seeds/ articles) and padded to the real vocabulary sizes
(62,802, 50,264, 256,206 and 96,103), and everything is written with ``save_pretrained``.
They give about 1.1-1.2 tokens per English word, a little under the real tokenizers' ~1.3.

The instruction model's stand-in (the published shape of Qwen2.5-0.5B-Instruct, built by
``tests/chat_builders.py`` with a chat template, saved in bfloat16 as the real one ships: 1 GB)
plays either role. Its norms have no bias to hold a feature up, so instead its generation
config bans the tokens that end a reply, which CTranslate2 reads as suppressed sequences; its
replies are random tokens of the padded vocabulary, which only the guards' checks mind.

One change from plain random weights, so that every contender does the same work: an output
bias (``final_logits_bias``, or for NLLB, which has none, a column of the output embedding
held up by the decoder's last layer norm; both carried over by the CTranslate2 converter)
makes the end-of-sequence token impossible, so no engine stops early and every output is
exactly as long as asked, and lets a stand-in generate only whole words (a summarizer) or
Arabic pieces (a translator), so that outputs decode to words: a summary then tokenizes for
the translator like English text. The logits are still computed over the whole vocabulary;
only which token wins changes, not the work.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus import arabic_sentences, english_sentences, seed_sentences

from tests import chat_builders, model_builders

__all__ = [
    "STANDINS",
    "SUMMARIZER",
    "TRANSLATOR",
    "StandIn",
    "build",
    "convert_ct2",
    "describe",
    "ensure",
]


@dataclass(frozen=True)
class StandIn:
    """A real model the benchmark imitates: its job, and the family it is built as."""

    role: str  # "translator", "summarizer", or "both" (an instruction model)
    family: str  # a key of tests/model_builders.py's FAMILIES
    model: str  # the hub id of the model it stands in for


# The published architectures (tests/model_builders.py's ARCHITECTURES, by these names).
STANDINS: dict[str, StandIn] = {
    "opus-mt-en-ar": StandIn("translator", "marian", "Helsinki-NLP/opus-mt-en-ar"),
    "distilbart-cnn-12-6": StandIn("summarizer", "bart", "sshleifer/distilbart-cnn-12-6"),
    "nllb-200-distilled-600M": StandIn("translator", "nllb", "facebook/nllb-200-distilled-600M"),
    "pegasus-cnn_dailymail": StandIn("summarizer", "pegasus", "google/pegasus-cnn_dailymail"),
    "qwen2.5-0.5b-instruct": StandIn("both", "qwen2", "Qwen/Qwen2.5-0.5B-Instruct"),
}
# The default models' stand-ins.
TRANSLATOR = "opus-mt-en-ar"
SUMMARIZER = "distilbart-cnn-12-6"

# Bump when what is built changes, so cached directories are rebuilt.
_BUILD = "6"
_TRAINING_SENTENCES = 20000
# The real tokenizers know the words of real articles; ours learn those of seeds/ too.
_SEED_REPEATS = 30


def describe(name: str) -> dict[str, Any]:
    """The configuration that sets a stand-in's compute (as recorded in results.json)."""
    architecture = model_builders.ARCHITECTURES[name]
    return {
        "stands_in_for": STANDINS[name].model,
        **architecture.settings(architecture.vocab_size or 0),
    }


def ensure(name: str, cache: Path) -> Path:
    """``cache/name``, holding the stand-in ``name`` (a key of :data:`STANDINS`), built if
    needed."""
    directory = cache / name
    stamp = directory / "standin.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("build") == _BUILD:
        return directory
    if directory.exists():
        shutil.rmtree(directory)
    # Conversions of the old build (ours, and the tool's own under summarize-cache/) go too.
    for old in directory.parent.glob(f"{directory.name}-ct2-*"):
        shutil.rmtree(old)
    for old in directory.parent.glob(f"summarize-cache/ct2/{directory.name}-*"):
        shutil.rmtree(old)
    building = directory.with_name(directory.name + ".partial")
    if building.exists():
        shutil.rmtree(building)
    build(name, building)
    stamp = {"build": _BUILD, "kind": STANDINS[name].role, "family": STANDINS[name].family}
    (building / "standin.json").write_text(json.dumps(stamp))
    building.rename(directory)
    return directory


def build(name: str, directory: Path) -> Path:
    """The stand-in ``name``, its tokenizer trained on made-up news (and Arabic, for a
    translator), saved to ``directory``."""
    standin = STANDINS[name]
    english = english_sentences(_TRAINING_SENTENCES) + seed_sentences() * _SEED_REPEATS
    text = {"english": english}
    if standin.role != "summarizer":
        text["arabic"] = arabic_sentences(5000)
    if standin.family == "qwen2":
        return chat_builders.build_chat_model(directory, name, dtype="bfloat16", **text)
    return model_builders.build_model(directory, standin.family, architecture=name, **text)


def convert_ct2(model_dir: Path, directory: Path, quantization: str | None) -> Path:
    """The CTranslate2 conversion of ``model_dir`` (cached by quantization)."""
    stamp = directory / "standin.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("source") == _source_id(model_dir):
        return directory
    import ctranslate2

    if directory.exists():
        shutil.rmtree(directory)
    converter = ctranslate2.converters.TransformersConverter(str(model_dir))
    converter.convert(str(directory), quantization=quantization, force=True)
    stamp.write_text(json.dumps({"source": _source_id(model_dir)}))
    return directory


def _source_id(model_dir: Path) -> str:
    stamp = model_dir / "standin.json"
    weights = model_dir / "model.safetensors"
    return f"{stamp.read_text() if stamp.is_file() else ''}:{weights.stat().st_mtime_ns}"
