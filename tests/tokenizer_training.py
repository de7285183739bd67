"""Tokenizers trained in memory on given text: SentencePiece (Marian), byte-level BPE (BART)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable

import sentencepiece as spm
from tokenizers import ByteLevelBPETokenizer

__all__ = [
    "BART_SPECIAL_TOKENS",
    "TARGET_LANGUAGE_TOKEN",
    "marian_vocab",
    "sentencepiece_pieces",
    "train_byte_level_bpe",
    "train_sentencepiece",
]

#: Language token that opus-mt style multilingual models expect at the start of the source.
TARGET_LANGUAGE_TOKEN = ">>ara<<"
#: BART's special tokens, in the order (and hence with the ids 0..4) of facebook/bart-*.
BART_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def train_sentencepiece(
    sentences: Iterable[str], vocab_size: int, model_type: str = "unigram"
) -> bytes:
    """Train a SentencePiece model in memory and return its serialised proto.

    ``hard_vocab_limit=False`` lets the trainer return fewer pieces than asked for when the
    text is too small, instead of failing.  BOS/EOS are disabled because Marian appends
    ``</s>`` itself from ``vocab.json`` and never uses a BOS token; id 0 is ``<unk>``.
    ``model_writer`` keeps the trainer from writing ``.model``/``.vocab`` files into the
    current working directory.
    """
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(sentences)),
        model_writer=model,
        model_type=model_type,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,  # silence the trainer's very chatty INFO log on stderr
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
    source_pieces: list[str], target_pieces: list[str], size: int | None = None
) -> dict[str, int]:
    """Build a shared Marian ``vocab.json`` mapping, laid out like the opus-mt checkpoints.

    ``</s>`` is 0 and ``<unk>`` is 1, as in Helsinki-NLP/opus-mt-*, then the language token,
    then the union of both SentencePiece vocabularies, and ``<pad>`` last (opus-mt puts pad
    at ``vocab_size - 1`` and also uses it as the decoder start token). With ``size``, unused
    entries fill the vocabulary up to exactly that many tokens.
    """
    tokens = ["</s>", "<unk>", TARGET_LANGUAGE_TOKEN]
    seen = set(tokens)
    for piece in [*source_pieces, *target_pieces]:
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
    if size is not None:
        tokens += [f"<unused{i}>" for i in range(size - len(tokens) - 1)]
    tokens.append("<pad>")
    return {token: index for index, token in enumerate(tokens)}


def train_byte_level_bpe(
    sentences: Iterable[str], vocab_size: int
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train a byte-level BPE in memory; return its vocabulary and merges.

    The 256-symbol byte alphabet is always included, so any input text can be encoded and
    there are ``vocab_size - 256 - 5`` merges on top of it.
    """
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        list(sentences),
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=list(BART_SPECIAL_TOKENS),
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
