"""Random stand-ins for the default models: the published architectures, untrained weights.

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

from tests.tiny_models import marian_vocab, sentencepiece_pieces, train_sentencepiece

__all__ = ["BART", "MARIAN", "build_summarizer", "build_translator", "convert_ct2", "ensure"]

# config.json of Helsinki-NLP/opus-mt-en-ar and sshleifer/distilbart-cnn-12-6 (the parts that
# set the amount of compute).
MARIAN: dict[str, Any] = dict(
    vocab_size=62802,
    d_model=512,
    encoder_layers=6,
    decoder_layers=6,
    encoder_attention_heads=8,
    decoder_attention_heads=8,
    encoder_ffn_dim=2048,
    decoder_ffn_dim=2048,
    max_position_embeddings=512,
    activation_function="swish",
    scale_embedding=True,
    static_position_embeddings=True,
    normalize_before=False,
    normalize_embedding=False,
    add_bias_logits=False,
)
BART: dict[str, Any] = dict(
    vocab_size=50264,
    d_model=1024,
    encoder_layers=12,
    decoder_layers=6,
    encoder_attention_heads=16,
    decoder_attention_heads=16,
    encoder_ffn_dim=4096,
    decoder_ffn_dim=4096,
    max_position_embeddings=1024,
    activation_function="gelu",
    scale_embedding=False,
    static_position_embeddings=False,
    normalize_before=False,
    normalize_embedding=True,
    add_final_layer_norm=False,
    add_bias_logits=False,
)

# Bump when what is built changes, so cached directories are rebuilt.
_BUILD = "6"
_SEED = 1234
_TRAINING_SENTENCES = 20000
# The real tokenizers know the words of real articles; ours learn those of seeds/ too.
_SEED_REPEATS = 30
_BLOCKED = -1e4


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
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    # BPE reaches ~1.3 pieces per English word on this text, about what the real
    # opus-mt-en-ar tokenizer gives for news; a unigram model this small would give ~2.
    source = train_sentencepiece(_english(), 1600, model_type="bpe")
    target = train_sentencepiece(arabic_sentences(5000), 400, model_type="bpe")
    (directory / "source.spm").write_bytes(source)
    (directory / "target.spm").write_bytes(target)
    vocab = marian_vocab(
        sentencepiece_pieces(source), sentencepiece_pieces(target), MARIAN["vocab_size"]
    )
    assert len(vocab) == MARIAN["vocab_size"]
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        source_spm=str(directory / "source.spm"),
        target_spm=str(directory / "target.spm"),
        vocab=str(directory / "vocab.json"),
        source_lang="en",
        target_lang="ar",
        model_max_length=512,
    )
    pad, eos = vocab["<pad>"], vocab["</s>"]
    config = MarianConfig(
        **MARIAN,
        decoder_vocab_size=MARIAN["vocab_size"],
        share_encoder_decoder_embeddings=True,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        forced_eos_token_id=eos,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        model = MarianMTModel(config)
    target_ids = {vocab[p] for p in sentencepiece_pieces(target)}
    bias = torch.full((1, MARIAN["vocab_size"]), _BLOCKED)
    bias[0, sorted(target_ids)] = 0.0
    model.final_logits_bias.copy_(bias)
    # As opus-mt-en-ar ships it: beam 4, never <pad>.
    model.generation_config = GenerationConfig(
        decoder_start_token_id=pad,
        pad_token_id=pad,
        eos_token_id=eos,
        forced_eos_token_id=eos,
        bad_words_ids=[[pad]],
        num_beams=4,
        max_length=512,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_summarizer(directory: Path) -> Path:
    """A BartForConditionalGeneration shaped like distilbart-cnn-12-6, 50,264-entry BPE."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        BartConfig,
        BartForConditionalGeneration,
        BartTokenizer,
        GenerationConfig,
    )

    directory.mkdir(parents=True, exist_ok=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        _english(),
        vocab_size=2000,
        min_frequency=1,
        special_tokens=specials,
        show_progress=False,
    )
    model_json = json.loads(trainer._tokenizer.to_str())["model"]
    vocab: dict[str, int] = dict(model_json["vocab"])
    merges = [
        tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model_json["merges"]
    ]
    real = len(vocab)
    for i in range(BART["vocab_size"] - real):
        vocab[f"<unused{i}>"] = real + i
    tokenizer = BartTokenizer(vocab=vocab, merges=merges, model_max_length=1024)
    assert len(tokenizer) == BART["vocab_size"], len(tokenizer)
    bos, pad, eos = (vocab[t] for t in ("<s>", "<pad>", "</s>"))
    config = BartConfig(
        **BART,
        bos_token_id=bos,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=eos,
        forced_bos_token_id=bos,
        forced_eos_token_id=eos,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        model = BartForConditionalGeneration(config)
    # Whole words (and full stops), so that a summary decodes to words and sentences that the
    # translator tokenizes like English, about 1.3 pieces a word, as a real summary would be.
    allowed = []
    for token_id in range(len(specials), real):
        text = tokenizer.decode([token_id])
        if (text.startswith(" ") and text[1:].isalpha()) or text in (".", ","):
            allowed.append(token_id)
    bias = torch.full((1, BART["vocab_size"]), _BLOCKED)
    bias[0, allowed] = 0.0
    model.final_logits_bias.copy_(bias)
    # As distilbart-cnn-12-6 ships it.
    model.generation_config = GenerationConfig(
        bos_token_id=bos,
        decoder_start_token_id=eos,
        pad_token_id=pad,
        eos_token_id=eos,
        forced_bos_token_id=bos,
        forced_eos_token_id=eos,
        no_repeat_ngram_size=3,
        num_beams=4,
        length_penalty=2.0,
        min_length=56,
        max_length=142,
        early_stopping=True,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


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
