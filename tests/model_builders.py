"""Random test models of every seq2seq family the tool runs, saved like hub checkpoints.

Nothing here touches the network: the tokenizers are trained at call time on the text given
(by default the small built-in texts of :mod:`tests.model_parts`), wrapped in each family's
own tokenizer class, the models are randomly initialised with one of the
:data:`ARCHITECTURES`, and everything is written with ``save_pretrained``, so the directories
load with ``AutoTokenizer`` / ``AutoModelForSeq2SeqLM.from_pretrained`` like real checkpoints.
Outputs are gibberish: rely on their shape (strings, lengths, batching, the forced language
token), never on their content.

:func:`build_model` builds any of the :data:`FAMILIES`; :func:`build_translator` (Marian) and
:func:`build_summarizer` (BART, LED) are the builders of the first families, kept for the tests
and benchmarks that call them.

Intended use, from a pytest ``conftest.py``::

    @pytest.fixture(scope="session")
    def tiny_translator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return build_model(tmp_path_factory.mktemp("tiny-nllb"), "nllb")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BartTokenizer,
    GenerationConfig,
    LEDConfig,
    LEDForConditionalGeneration,
    MarianConfig,
    MarianMTModel,
    MarianTokenizer,
)

from tests import family_builders
from tests.model_parts import (
    ARABIC_TEXT,
    ARCHITECTURES,
    ENGLISH_TEXT,
    Architecture,
    seeded,
    set_output_bias,
)
from tests.model_parts import architecture as architecture_of
from tests.tokenizer_training import (
    BART_SPECIAL_TOKENS,
    TARGET_LANGUAGE_TOKEN,
    marian_vocab,
    sentencepiece_pieces,
    train_byte_level_bpe,
    train_sentencepiece,
)

__all__ = [
    "ARABIC_TEXT",
    "ARCHITECTURES",
    "ENGLISH_TEXT",
    "FAMILIES",
    "TARGET_LANGUAGE_TOKEN",
    "Architecture",
    "Family",
    "build_model",
    "build_summarizer",
    "build_translator",
]


@dataclass(frozen=True)
class Family:
    """One kind of checkpoint the tool runs, and how a caller asks it for Arabic."""

    role: str  # "translator" or "summarizer"
    architecture: str  # the tiny one of ARCHITECTURES it is built with unless told otherwise
    tokenizer: str  # the class AutoTokenizer loads it with
    prefix: str = ""  # put before each source text: >>ara<<, <2ar>, the task prefix
    source_language: str | None = None  # the tokenizer's src_lang for English
    target_token: str | None = None  # forced as the first generated token (CTranslate2:
    # target_prefix); it is also the token a model without Arabic lacks
    ctranslate2: bool = True  # whether CTranslate2 4.8 converts it
    without_arabic: bool = False  # whether a variant without the Arabic token exists


# In transformers 5, BartTokenizer and LEDTokenizer are RobertaTokenizer; the "Fast" names
# are the same classes as the others.
FAMILIES: dict[str, Family] = {
    "marian": Family(
        "translator", "tiny-marian", "MarianTokenizer", prefix=f"{TARGET_LANGUAGE_TOKEN} ",
        without_arabic=True,
    ),
    "marian-single": Family("translator", "tiny-marian", "MarianTokenizer"),
    "nllb": Family(
        "translator", "tiny-m2m100", "NllbTokenizer", source_language="eng_Latn",
        target_token="arb_Arab", without_arabic=True,
    ),
    "m2m100": Family(
        "translator", "tiny-m2m100", "M2M100Tokenizer", source_language="en",
        target_token="__ar__", without_arabic=True,
    ),
    "mbart50": Family(
        "translator", "tiny-mbart", "MBart50Tokenizer", source_language="en_XX",
        target_token="ar_AR",
    ),
    "madlad": Family(
        "translator", "tiny-t5", "T5Tokenizer", prefix="<2ar> ", without_arabic=True
    ),
    "bart": Family("summarizer", "tiny-bart", "RobertaTokenizer"),
    "pegasus": Family("summarizer", "tiny-pegasus", "PegasusTokenizer"),
    "t5": Family("summarizer", "tiny-t5", "T5Tokenizer", prefix="summarize: "),
    "led": Family("summarizer", "tiny-led", "RobertaTokenizer", ctranslate2=False),
}  # fmt: skip

#: What a multi-target Marian model without Arabic has instead of >>ara<<.
OTHER_LANGUAGE_TOKENS = (">>fra<<", ">>deu<<")

# The families built in family_builders (Marian's and BART's builders are here).
_BUILDERS: dict[str, Callable[[family_builders.Build], Path]] = {
    "nllb": family_builders.build_nllb,
    "m2m100": family_builders.build_m2m100,
    "mbart50": family_builders.build_mbart50,
    "madlad": family_builders.build_madlad,
    "pegasus": family_builders.build_pegasus,
    "t5": family_builders.build_t5_summarizer,
}


def build_model(
    directory: Path,
    family: str,
    *,
    architecture: str | Architecture | None = None,
    without_arabic: bool = False,
    english: Sequence[str] = ENGLISH_TEXT,
    arabic: Sequence[str] = ARABIC_TEXT,
    max_positions: int | None = None,
    eos_bias: float = 0.0,
) -> Path:
    """Save a random model of ``family`` (a key of :data:`FAMILIES`) and its tokenizer.

    ``architecture`` (a name in :data:`ARCHITECTURES`, or one built with
    ``dataclasses.replace``) must be of the family's model type; the family's tiny one by
    default. ``without_arabic`` builds the variant whose vocabulary lacks the Arabic token
    (``arb_Arab``, ``__ar__``, ``<2ar>``; a multi-target Marian model knows ``>>fra<<`` and
    ``>>deu<<`` instead), where the family has one. Translators' tokenizers are trained on
    ``english`` and ``arabic``, summarizers' on ``english``. ``max_positions`` overrides the
    length limit; ``eos_bias`` is added to the end-of-sequence logit (very negative: the model
    never stops by itself; very positive: it stops at once). Returns ``directory``.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: one of {', '.join(FAMILIES)}")
    spec = FAMILIES[family]
    if without_arabic and not spec.without_arabic:
        raise ValueError(f"no {family} model lacks an Arabic token")
    model_type = ARCHITECTURES[spec.architecture].family
    arch = architecture_of(architecture or spec.architecture, model_type, max_positions)
    if family in ("marian", "marian-single"):
        tokens = () if family == "marian-single" else (TARGET_LANGUAGE_TOKEN,)
        tokens = OTHER_LANGUAGE_TOKENS if without_arabic else tokens
        return build_translator(
            directory, arch, english=english, arabic=arabic, eos_bias=eos_bias,
            language_tokens=tokens,
        )  # fmt: skip
    if family in ("bart", "led"):
        return build_summarizer(directory, arch, english=english, eos_bias=eos_bias)
    text = [*english, *arabic] if spec.role == "translator" else list(english)
    build = family_builders.Build(Path(directory), arch, text, without_arabic, eos_bias)
    return _BUILDERS[family](build)


def build_translator(
    directory: Path,
    architecture: str | Architecture = "tiny-marian",
    *,
    english: Sequence[str] = ENGLISH_TEXT,
    arabic: Sequence[str] = ARABIC_TEXT,
    max_positions: int | None = None,
    eos_bias: float = 0.0,
    language_tokens: Sequence[str] = (TARGET_LANGUAGE_TOKEN,),
) -> Path:
    """Save a random English-to-Arabic ``MarianMTModel`` and its tokenizer to ``directory``.

    The tokenizer is a real ``MarianTokenizer``: ``source.spm`` is trained on ``english``,
    ``target.spm`` on ``arabic``, and the shared ``vocab.json`` also holds ``language_tokens``
    (``>>ara<<``; none for a single-target model) so that a source text starting with one
    gets it as one token. ``max_positions`` overrides the architecture's length limit;
    ``eos_bias`` is added to the end-of-sequence logit (very negative: the model never stops
    by itself; very positive: it stops at once). Returns ``directory`` (created if needed).
    """
    arch = architecture_of(architecture, "marian", max_positions)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # The SentencePiece models go straight to the file names MarianTokenizer expects, so
    # save_pretrained() below sees they are already in place and does not copy them.
    source = train_sentencepiece(english, arch.pieces[0], arch.piece_model)
    target = train_sentencepiece(arabic, arch.pieces[1], arch.piece_model)
    (directory / "source.spm").write_bytes(source)
    (directory / "target.spm").write_bytes(target)
    target_pieces = sentencepiece_pieces(target)
    vocab = marian_vocab(
        sentencepiece_pieces(source), target_pieces, arch.vocab_size, language_tokens
    )
    vocab_file = directory / "vocab.json"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False, indent=2), encoding="utf-8")
    tokenizer = MarianTokenizer(
        source_spm=str(directory / "source.spm"),
        target_spm=str(directory / "target.spm"),
        vocab=str(vocab_file),
        source_lang="en",
        target_lang="ar",
        model_max_length=arch.max_positions,
    )
    pad, eos = vocab["<pad>"], vocab["</s>"]
    assert tokenizer.pad_token_id == pad and tokenizer.eos_token_id == eos
    config = MarianConfig(
        **arch.settings(len(vocab)),
        decoder_vocab_size=len(vocab),
        share_encoder_decoder_embeddings=True,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,  # Marian starts decoding from <pad>
        forced_eos_token_id=eos,
    )
    model = seeded(MarianMTModel, config)
    allowed = [vocab[piece] for piece in target_pieces] if arch.words_only else None
    set_output_bias(model, allowed, eos, eos_bias)
    # As Helsinki-NLP/opus-mt-* ship it: never <pad> (the tiny ones: nor <unk> and the language
    # token, which is not a special token, so skip_special_tokens would leave it in the text).
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        decoder_start_token_id=pad,
        pad_token_id=pad,
        eos_token_id=eos,
        forced_eos_token_id=eos,
        bad_words_ids=[[vocab[token]] for token in arch.banned if token in vocab],
        **arch.generation,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_summarizer(
    directory: Path,
    architecture: str | Architecture = "tiny-bart",
    *,
    english: Sequence[str] = ENGLISH_TEXT,
    max_positions: int | None = None,
    eos_bias: float = 0.0,
) -> Path:
    """Save a random ``BartForConditionalGeneration`` (or, with an LED architecture,
    ``LEDForConditionalGeneration``) and its tokenizer to ``directory``.

    ``max_positions`` and ``eos_bias`` are as for :func:`build_translator`. The tokenizer is a
    byte-level BPE trained on ``english``, wrapped in transformers' ``BartTokenizer`` (LED's is
    the same), with the special-token ids of facebook/bart-*: ``<s>``=0, ``<pad>``=1,
    ``</s>``=2, ``<unk>``=3, ``<mask>``=4. Returns ``directory``.
    """
    arch = architecture_of(architecture, ("bart", "led"), max_positions)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab, merges = train_byte_level_bpe(english, arch.pieces[0])
    trained = len(vocab)
    for i in range((arch.vocab_size or trained) - trained):
        vocab[f"<unused{i}>"] = trained + i
    # Merges as (left, right) tuples, which is what transformers itself passes on to
    # tokenizers' BPE, although RobertaTokenizer's annotation only mentions strings.
    tokenizer = BartTokenizer(
        vocab=vocab,
        merges=merges,  # type: ignore[arg-type]
        model_max_length=arch.max_positions,
    )
    assert len(tokenizer) == len(vocab), len(tokenizer)
    bos, pad, eos = (vocab[token] for token in BART_SPECIAL_TOKENS[:3])
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (
        bos,
        pad,
        eos,
    )
    bart = arch.family == "bart"
    config = (BartConfig if bart else LEDConfig)(
        **arch.settings(len(vocab)),
        bos_token_id=bos,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=eos,  # BART starts decoding from </s> ...
        forced_eos_token_id=eos,
    )
    model = seeded(BartForConditionalGeneration if bart else LEDForConditionalGeneration, config)
    # A stand-in generates whole words (and full stops), so that a summary decodes to words
    # that the translator tokenizes like English, as a real summary would be.
    allowed = None
    if arch.words_only:
        allowed = [i for i in range(len(BART_SPECIAL_TOKENS), trained) if _word(tokenizer, i)]
    set_output_bias(model, allowed, eos, eos_bias)
    # ... and then BART forces <s>, like facebook/bart-large-cnn. The tiny ones suppress lone bytes
    # that are not printable text on their own (UTF-8 fragments, control characters), so that
    # outputs decode to clean text instead of U+FFFD; so are <unk> and <mask>.
    suppressed = [vocab[token] for token in arch.banned]
    if not arch.words_only:
        suppressed += _unprintable_token_ids(tokenizer)
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=bos,
        decoder_start_token_id=eos,
        pad_token_id=pad,
        eos_token_id=eos,
        forced_bos_token_id=bos if bart else None,
        forced_eos_token_id=eos,
        **({"suppress_tokens": suppressed} if suppressed else {}),
        **arch.generation,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _word(tokenizer: BartTokenizer, token_id: int) -> bool:
    """Whether a token decodes to a whole word (after a space), a full stop or a comma."""
    text = tokenizer.decode([token_id])
    return (text.startswith(" ") and text[1:].isalpha()) or text in (".", ",")


def _unprintable_token_ids(tokenizer: BartTokenizer) -> list[int]:
    """Ids of ordinary tokens that do not decode to printable text on their own."""
    special = set(tokenizer.all_special_ids)
    unprintable = []
    for token_id in range(len(tokenizer)):
        if token_id in special:
            continue
        text = tokenizer.decode([token_id])
        if not isinstance(text, str) or not text.isprintable() or "\ufffd" in text:
            unprintable.append(token_id)
    return unprintable
