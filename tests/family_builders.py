"""Random NLLB, M2M100, mBART-50, T5 and PEGASUS models with their families' own tokenizer classes.

Each builder trains a SentencePiece model on the given text, wraps it in the family's own
tokenizer class (language codes, prefix pieces and special-token ids as in the published
checkpoints), initialises the model from its architecture and saves both with
``save_pretrained``. ``without_arabic`` leaves out the family's Arabic token (``arb_Arab``,
``__ar__``, ``<2ar>``), as a model that cannot translate into Arabic lacks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from transformers import (
    GenerationConfig,
    M2M100Config,
    M2M100ForConditionalGeneration,
    MBart50Tokenizer,
    MBartConfig,
    MBartForConditionalGeneration,
    NllbTokenizer,
    PegasusConfig,
    PegasusForConditionalGeneration,
    PegasusTokenizer,
    T5Config,
    T5ForConditionalGeneration,
    T5Tokenizer,
)
from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

from tests.model_parts import Architecture, seeded, set_output_bias
from tests.tokenizer_training import converted, m2m100_tokenizer, train_sentencepiece

__all__ = [
    "MADLAD_TARGETS",
    "NLLB_LANGUAGES",
    "T5_SUMMARIZATION",
    "Build",
    "build_m2m100",
    "build_madlad",
    "build_mbart50",
    "build_nllb",
    "build_pegasus",
    "build_t5_summarizer",
]

#: NLLB-200's language codes, as NllbTokenizer has them by default.
NLLB_LANGUAGES: tuple[str, ...] = tuple(FAIRSEQ_LANGUAGE_CODES)
#: MADLAD-400's target-language pieces (a few of its 400+), Arabic first.
MADLAD_TARGETS = ("<2ar>", "<2fr>", "<2de>")
#: What T5 checkpoints (t5-small, flan-t5-*) put in config.json for summarising.
T5_SUMMARIZATION = {"summarization": {"prefix": "summarize: "}}

_CLASSES: dict[str, tuple[Any, Any]] = {
    "m2m100": (M2M100Config, M2M100ForConditionalGeneration),
    "mbart": (MBartConfig, MBartForConditionalGeneration),
    "pegasus": (PegasusConfig, PegasusForConditionalGeneration),
    "t5": (T5Config, T5ForConditionalGeneration),
}
# Special-token ids: fairseq order (<s> <pad> </s> <unk>) and T5's (<pad> </s> <unk>).
_FAIRSEQ = {"bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2, "decoder_start_token_id": 2}
_T5 = {"pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0}


@dataclass(frozen=True)
class Build:
    """One model to build: where, of which shape, its tokenizer trained on which text."""

    directory: Path
    arch: Architecture
    text: Sequence[str]
    without_arabic: bool = False  # the variant without the family's Arabic token
    eos_bias: float = 0.0  # added to the end-of-sequence logit


def build_nllb(build: Build) -> Path:
    """An NLLB-200 checkpoint: ``NllbTokenizer`` (BPE; the language codes are added tokens
    after the pieces, ``eng_Latn`` the source language) and M2M100 weights."""
    languages = [c for c in NLLB_LANGUAGES if not (build.without_arabic and c == "arb_Arab")]
    tokenizer = converted(
        NllbTokenizer,
        _sentencepiece(build, "sentencepiece.bpe.model", "fairseq"),
        build.arch.vocab_size,
        extra_special_tokens=languages,
        src_lang="eng_Latn",
        model_max_length=build.arch.max_positions,
    )
    allowed = _ids(tokenizer, _arabic) if build.arch.words_only else None
    return _checkpoint(build, tokenizer, _FAIRSEQ, allowed, tokenizer_class="NllbTokenizer")


def build_m2m100(build: Build) -> Path:
    """An M2M100 checkpoint: ``M2M100Tokenizer`` (SentencePiece + ``vocab.json``; 100
    language tokens ``__en__``..., or the eight of WMT21 without Arabic) and its weights."""
    arch = build.arch
    proto = train_sentencepiece(build.text, arch.pieces[0], arch.piece_model, layout="fairseq")
    codes = "wmt21" if build.without_arabic else "m2m100"
    tokenizer = m2m100_tokenizer(
        _fresh(build.directory), proto, codes, src_lang="en", model_max_length=arch.max_positions
    )
    # The language tokens and eight "madeup words" follow vocab.json in the embedding, as in
    # facebook/m2m100_418M (128,112 = 128,004 + 100 + 8).
    size = tokenizer.vocab_size + len(tokenizer.lang_token_to_id) + tokenizer.num_madeup_words
    return _checkpoint(replace(build, arch=replace(arch, vocab_size=size)), tokenizer, _FAIRSEQ)


def build_mbart50(build: Build) -> Path:
    """An mBART-50 many-to-many checkpoint: ``MBart50Tokenizer`` (its 52 language codes,
    ``en_XX`` the source language, ``ar_AR`` forced first; it always has all of them) and
    MBart weights."""
    tokenizer = converted(
        MBart50Tokenizer,
        _sentencepiece(build, "sentencepiece.bpe.model", "fairseq"),
        build.arch.vocab_size,
        # The class has no BOS of its own (CTranslate2 needs one); the checkpoints name <s>.
        bos_token="<s>",
        src_lang="en_XX",
        model_max_length=build.arch.max_positions,
    )
    # tokenizer_class tells CTranslate2 (and AutoTokenizer) it is mBART-50, not mBART-25.
    ids = {**_FAIRSEQ, "forced_eos_token_id": _FAIRSEQ["eos_token_id"]}
    return _checkpoint(build, tokenizer, ids, tokenizer_class="MBart50Tokenizer")


def build_madlad(build: Build) -> Path:
    """A MADLAD-400 style T5 translator: the target language is a piece of the source text
    (``<2ar> ...``), whole in the SentencePiece model; no sentinel tokens."""
    targets = MADLAD_TARGETS[1:] if build.without_arabic else MADLAD_TARGETS
    tokenizer = converted(
        T5Tokenizer,
        _sentencepiece(build, "spiece.model", "t5", targets),
        build.arch.vocab_size,
        extra_ids=0,
        model_max_length=build.arch.max_positions,
    )
    banned = tokenizer.convert_tokens_to_ids(list(targets))
    return _checkpoint(build, tokenizer, _T5, banned=banned)


def build_t5_summarizer(build: Build) -> Path:
    """A T5 / Flan-T5 summarizer: 100 sentinel tokens, and the task prefix ``summarize: `` in
    ``config.task_specific_params``, where the T5 checkpoints keep it."""
    tokenizer = converted(
        T5Tokenizer,
        _sentencepiece(build, "spiece.model", "t5"),
        build.arch.vocab_size,
        model_max_length=build.arch.max_positions,
    )
    return _checkpoint(build, tokenizer, _T5, task_specific_params=T5_SUMMARIZATION)


def build_pegasus(build: Build) -> Path:
    """A PEGASUS summarizer: ``PegasusTokenizer`` (pieces shifted by 103: ``<pad>`` 0, ``</s>``
    1, the masks, ``<unk_2>``..``<unk_102>``, then ``<unk>`` at 105) and its weights."""
    tokenizer = converted(
        PegasusTokenizer,
        _sentencepiece(build, "spiece.model", "t5"),
        build.arch.vocab_size,
        model_max_length=build.arch.max_positions,
    )
    allowed = _ids(tokenizer, _word) if build.arch.words_only else None
    return _checkpoint(
        build, tokenizer, {**_T5, "bos_token_id": 0, "forced_eos_token_id": 1}, allowed
    )


def _fresh(directory: Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _sentencepiece(build: Build, name: str, layout: str, symbols: Sequence[str] = ()) -> Path:
    """A SentencePiece model trained on the build's text, saved as ``name`` in its directory
    (where the checkpoints keep it; save_pretrained leaves a file already in place)."""
    arch = build.arch
    proto = train_sentencepiece(
        build.text, arch.pieces[0], arch.piece_model, layout=layout, symbols=symbols
    )
    path = _fresh(build.directory) / name
    path.write_bytes(proto)
    return path


def _checkpoint(
    build: Build,
    tokenizer: Any,
    ids: dict[str, int],
    allowed: list[int] | None = None,
    banned: Sequence[int] = (),
    **config: Any,
) -> Path:
    """A seeded model of the build's architecture (special-token ``ids``, ``config`` on top)
    whose output is biased (see :func:`tests.model_parts.set_output_bias`: ``allowed`` for a
    stand-in), saved with ``tokenizer``.

    A tiny model never generates special tokens but end-of-sequence (language codes, masks,
    sentinels, <unk>: all decoded to nothing) nor ``banned``: its outputs are never empty.
    They are bad words, not suppressed tokens, because transformers applies suppression after
    ``forced_bos_token_id`` and would suppress the forced language code too.
    """
    arch = build.arch
    config_class, model_class = _CLASSES[arch.family]
    settings = arch.settings(arch.vocab_size or len(tokenizer))
    model = seeded(model_class, config_class(**settings, **ids, **config))
    eos = ids["eos_token_id"]
    set_output_bias(model, allowed, eos, build.eos_bias)
    never: set[int] = set(banned)
    if not arch.words_only:
        never |= set(tokenizer.all_special_ids) | _unknown_ids(tokenizer, model.config.vocab_size)
    never.discard(eos)
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        **ids,
        **({"bad_words_ids": [[i] for i in sorted(never)]} if never else {}),
        **arch.generation,
    )
    model.save_pretrained(build.directory)
    tokenizer.save_pretrained(build.directory)
    return Path(build.directory)


def _unknown_ids(tokenizer: Any, vocab_size: int) -> set[int]:
    """Embedding rows that the tokenizer has no token for (M2M100's madeup words)."""
    known = set(tokenizer.get_vocab().values())
    return {i for i in range(vocab_size) if i not in known}


def _ids(tokenizer: Any, wanted: Any) -> list[int]:
    """The ids of the ordinary tokens that ``wanted`` accepts."""
    special = set(tokenizer.all_special_ids)
    return [i for token, i in tokenizer.get_vocab().items() if i not in special and wanted(token)]


def _arabic(piece: str) -> bool:
    """Whether a SentencePiece piece is Arabic letters (after an optional word start)."""
    letters = piece.removeprefix("▁")
    return bool(letters) and letters.isalpha() and all("\u0600" <= c <= "\u06ff" for c in letters)


def _word(piece: str) -> bool:
    """Whether a SentencePiece piece is a whole word (or a full stop or comma)."""
    return (piece.startswith("▁") and piece[1:].isalpha()) or piece in (".", ",")
