"""The benchmark's stand-ins for the default models, built once into its cache and converted.

The shapes and the building live in ``tests/model_builders.py`` (shared with the tests);
here they get the benchmark's training text and a cache that knows which build it holds.
The cost of a forward pass depends on the architecture (layers, widths, heads, vocabulary),
not on the values of the weights, so a randomly initialised model with the configuration of
``Helsinki-NLP/opus-mt-en-ar`` or ``sshleifer/distilbart-cnn-12-6`` takes as long per token as
the real one. Nothing is downloaded: the tokenizers are trained here on made-up news text (and
the seeds/ articles) and padded to the real vocabulary sizes (62,802 and 50,264), and
everything is written with ``save_pretrained``. They give about 1.1-1.2 tokens per English
word, a little under the real tokenizers' ~1.3.

One change from plain random weights, so that every contender does the same work: the output
bias (``final_logits_bias``, part of both architectures and carried over by the CTranslate2
converter) is -1e4 for the end-of-sequence token, so no engine stops early and every output is
exactly as long as asked; and for the vocabulary's padding entries (and, for BART, for pieces
that are not whole words), so that outputs decode to words: a summary then tokenizes for the
translator like English text. The logits are still computed over the whole vocabulary; only
which token wins changes, not the work.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from corpus import arabic_sentences, english_sentences, seed_sentences

from tests import model_builders

__all__ = [
    "SUMMARIZER",
    "TRANSLATOR",
    "build_summarizer",
    "build_translator",
    "convert_ct2",
    "describe",
    "ensure",
]

# The published architectures (tests/model_builders.py's table).
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
    return architecture.settings(architecture.vocab_size or 0)


def ensure(kind: str, directory: Path) -> Path:
    """``directory`` holding the stand-in ``kind`` (translator or summarizer), built if needed."""
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
    {"translator": build_translator, "summarizer": build_summarizer}[kind](building)
    (building / "standin.json").write_text(json.dumps({"build": _BUILD, "kind": kind}))
    building.rename(directory)
    return directory


def _english() -> list[str]:
    return english_sentences(_TRAINING_SENTENCES) + seed_sentences() * _SEED_REPEATS


def build_translator(directory: Path) -> Path:
    """A MarianMTModel shaped like opus-mt-en-ar, with a 62,802-entry MarianTokenizer."""
    return model_builders.build_translator(
        directory, TRANSLATOR, english=_english(), arabic=arabic_sentences(5000)
    )


def build_summarizer(directory: Path) -> Path:
    """A BartForConditionalGeneration shaped like distilbart-cnn-12-6, 50,264-entry BPE."""
    return model_builders.build_summarizer(directory, SUMMARIZER, english=_english())


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
