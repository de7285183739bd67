"""Tokenizers trained in memory on given text, and wrapped in each model family's own class.

SentencePiece models (Marian, NLLB, M2M100, mBART-50, T5, PEGASUS) and byte-level BPE (BART,
LED) are trained here; the wrappers turn a SentencePiece model into the tokenizer class of a
family the way ``from_pretrained`` converts a checkpoint that ships only its ``.model`` file,
so the language codes, special-token ids and prefix tokens are those of the real class.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sentencepiece as spm
from tokenizers import ByteLevelBPETokenizer
from transformers import M2M100Tokenizer
from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

__all__ = [
    "BART_SPECIAL_TOKENS",
    "SENTENCEPIECE_LAYOUTS",
    "TARGET_LANGUAGE_TOKEN",
    "converted",
    "m2m100_tokenizer",
    "marian_vocab",
    "sentencepiece_pieces",
    "train_byte_level_bpe",
    "train_sentencepiece",
]

#: Language token that opus-mt style multilingual models expect at the start of the source.
TARGET_LANGUAGE_TOKEN = ">>ara<<"
#: BART's special tokens, in the order (and hence with the ids 0..4) of facebook/bart-*.
BART_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")

#: The special pieces of each family's SentencePiece model. Marian has none but ``<unk>``
#: (``vocab.json`` adds ``</s>`` and ``<pad>``); fairseq models (NLLB, M2M100, mBART) have
#: SentencePiece's defaults, which their tokenizers move to ``<s> <pad> </s> <unk>`` = 0..3;
#: T5 and PEGASUS have ``<pad> </s> <unk>`` = 0..2 (PEGASUS shifts the rest by 103).
SENTENCEPIECE_LAYOUTS: dict[str, dict[str, int]] = {
    "marian": {"unk_id": 0, "bos_id": -1, "eos_id": -1, "pad_id": -1},
    "fairseq": {"unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": -1},
    "t5": {"pad_id": 0, "eos_id": 1, "unk_id": 2, "bos_id": -1},
}


def train_sentencepiece(
    sentences: Iterable[str],
    vocab_size: int,
    model_type: str = "unigram",
    *,
    layout: str = "marian",
    symbols: Sequence[str] = (),
) -> bytes:
    """Train a SentencePiece model in memory and return its serialised proto.

    ``hard_vocab_limit=False`` lets the trainer return fewer pieces than asked for when the
    text is too small, instead of failing. ``layout`` names the special pieces' ids (see
    :data:`SENTENCEPIECE_LAYOUTS`; Marian's by default); ``symbols`` become pieces that are
    always cut out whole (MADLAD's ``<2ar>``). ``model_writer`` keeps the trainer from
    writing ``.model``/``.vocab`` files into the current working directory.
    """
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(sentences)),
        model_writer=model,
        model_type=model_type,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,  # silence the trainer's very chatty INFO log on stderr
        **({"user_defined_symbols": list(symbols)} if symbols else {}),
        **SENTENCEPIECE_LAYOUTS[layout],
    )
    return model.getvalue()


def sentencepiece_pieces(model_proto: bytes) -> list[str]:
    """Return the ordinary (non-control, non-unknown) pieces of a SentencePiece model."""
    processor = spm.SentencePieceProcessor(model_proto=model_proto)
    return [
        processor.id_to_piece(i)
        for i in range(processor.get_piece_size())
        if not (processor.is_control(i) or processor.is_unknown(i))
    ]


def marian_vocab(
    source_pieces: list[str],
    target_pieces: list[str],
    size: int | None = None,
    language_tokens: Sequence[str] = (TARGET_LANGUAGE_TOKEN,),
) -> dict[str, int]:
    """Build a shared Marian ``vocab.json`` mapping, laid out like the opus-mt checkpoints.

    ``</s>`` is 0 and ``<unk>`` is 1, as in Helsinki-NLP/opus-mt-*, then the language tokens
    (none for a single-target model), then the union of both SentencePiece vocabularies, and
    ``<pad>`` last (opus-mt puts pad at ``vocab_size - 1`` and also uses it as the decoder
    start token). With ``size``, unused entries fill the vocabulary up to exactly that many.
    """
    tokens = ["</s>", "<unk>", *language_tokens]
    seen = set(tokens)
    for piece in [*source_pieces, *target_pieces]:
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
    if size is not None:
        tokens += [f"<unused{i}>" for i in range(size - len(tokens) - 1)]
    tokens.append("<pad>")
    return {token: index for index, token in enumerate(tokens)}


def converted(
    tokenizer_class: Any, model_file: Path, size: int | None = None, **settings: Any
) -> Any:
    """A ``tokenizer_class`` made from the SentencePiece model at ``model_file``.

    The class's own converter lays out the vocabulary (fairseq order, PEGASUS's offset, T5's
    sentinels), as ``from_pretrained`` does for a checkpoint without ``tokenizer.json``.
    ``settings`` go to the tokenizer (``src_lang``, ``extra_special_tokens``, ...). With
    ``size``, unused entries before the tokens the class adds on top (language codes, masks)
    pad it to exactly ``size`` tokens, as a stand-in of a big vocabulary needs.
    """
    found = tokenizer_class.convert_to_native_format(vocab_file=str(model_file), **settings)
    tokenizer = tokenizer_class(**found)
    if size is not None and size != len(tokenizer):
        added = len(tokenizer) - len(found["vocab"])
        found["vocab"] = _padded(found["vocab"], size - added)
        tokenizer = tokenizer_class(**found)
    return tokenizer


def _padded(vocab: dict[str, int] | list[tuple[str, float]], size: int) -> Any:
    """``vocab`` (BPE's mapping or Unigram's scored list) with unused entries up to ``size``:
    tokens no text ever produces, as a stand-in's padding must be."""
    names = [f"<unused{i}>" for i in range(size - len(vocab))]
    if isinstance(vocab, dict):
        return {**vocab, **{name: len(vocab) + i for i, name in enumerate(names)}}
    return [*vocab, *((name, -100.0) for name in names)]


def m2m100_tokenizer(
    directory: Path, model_proto: bytes, language_codes: str = "m2m100", **settings: Any
) -> M2M100Tokenizer:
    """An ``M2M100Tokenizer`` over ``model_proto`` (a "fairseq" layout), files in ``directory``.

    It keeps SentencePiece for splitting and ``vocab.json`` for the ids, laid out like
    facebook/m2m100_418M: ``<s> <pad> </s> <unk>`` = 0..3, then the pieces. The class adds its
    fixed set of language tokens (``__ar__``, ...) after the vocabulary: ``"m2m100"`` has 100
    languages, ``"wmt21"`` eight without Arabic. They are also named as additional special
    tokens, as facebook/m2m100_418M's special_tokens_map.json does: transformers 5.25's
    M2M100Tokenizer never registers them itself, and without that, decoding keeps them in the
    text and ``get_vocab`` (hence CTranslate2's converter) misses them.
    """
    (directory / "sentencepiece.bpe.model").write_bytes(model_proto)
    vocab = {token: index for index, token in enumerate(BART_SPECIAL_TOKENS[:4])}
    for piece in sentencepiece_pieces(model_proto):
        vocab.setdefault(piece, len(vocab))
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return M2M100Tokenizer(
        vocab_file=str(directory / "vocab.json"),
        spm_file=str(directory / "sentencepiece.bpe.model"),
        language_codes=language_codes,
        additional_special_tokens=[
            f"__{code}__" for code in FAIRSEQ_LANGUAGE_CODES[language_codes]
        ],
        **settings,
    )


def train_byte_level_bpe(
    sentences: Iterable[str], vocab_size: int, special_tokens: Sequence[str] = BART_SPECIAL_TOKENS
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train a byte-level BPE in memory; return its vocabulary and merges.

    The 256-symbol byte alphabet is always included, so any input text can be encoded and
    there are ``vocab_size - 256 - len(special_tokens)`` merges on top of it; the special
    tokens (BART's by default) come first, in their order.
    """
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        list(sentences),
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=list(special_tokens),
        show_progress=False,
    )
    model = json.loads(trainer._tokenizer.to_str())["model"]
    vocab: dict[str, int] = dict(model["vocab"])
    merges = [_as_merge(merge) for merge in model["merges"]]
    return vocab, merges


def _as_merge(merge: str | list[str]) -> tuple[str, str]:
    """Normalise one serialised merge (``"a b"`` in older tokenizers, ``["a", "b"]`` now)."""
    left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
    return left, right
