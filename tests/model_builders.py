"""Random BART and Marian models with offline-trained tokenizers, for the tests and benchmarks.

Nothing here touches the network: the tokenizers are trained at call time on the text given
(by default the small built-in texts below; SentencePiece for Marian, byte-level BPE for BART),
the models are randomly initialised with one of the :data:`ARCHITECTURES`, and everything is
written with ``save_pretrained``, so the directories load with ``AutoTokenizer`` /
``AutoModelForSeq2SeqLM.from_pretrained`` like real checkpoints. Outputs are gibberish: rely
on their shape (strings, lengths, batching), never on their content.

Two kinds of architecture: tiny ones (the tests: built and run in a second on a small CPU),
and stand-ins with the published shapes of the default models (the benchmarks: the cost of a
forward pass depends on the shape, not on the weights). A stand-in's vocabulary is padded to
the real size, and its output bias (``final_logits_bias``, which CTranslate2 carries over) is
-1e4 for everything but target pieces or whole words, end-of-sequence included: no engine
stops early, and its outputs decode to words.

Intended use, from a pytest ``conftest.py``::

    @pytest.fixture(scope="session")
    def tiny_translator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return build_translator(tmp_path_factory.mktemp("tiny-marian"))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BartTokenizer,
    GenerationConfig,
    MarianConfig,
    MarianMTModel,
    MarianTokenizer,
)

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
    "TARGET_LANGUAGE_TOKEN",
    "Architecture",
    "build_summarizer",
    "build_translator",
]

#: Fixed seed so that the random weights (and hence the gibberish outputs) are reproducible.
_SEED = 1234
#: The output bias of what a stand-in may never generate.
_BLOCKED = -1e4


@dataclass(frozen=True)
class Architecture:
    """The shape of one model (what sets its cost per token) and how its tokenizer is trained."""

    family: str  # "marian" or "bart"
    d_model: int
    layers: tuple[int, int]  # encoder, decoder
    heads: int
    ffn_dim: int
    max_positions: int
    vocab_size: int | None  # padded to this many entries; None: the trained pieces alone
    pieces: tuple[int, int]  # tokenizer sizes to train: source and target (BART: one)
    piece_model: str  # SentencePiece's model type (Marian)
    words_only: bool  # stand-in: the output bias allows target pieces / whole words alone
    banned: tuple[str, ...]  # tokens generation never emits (Marian's bad words, BART's suppressed)
    config: Mapping[str, Any] = field(default_factory=dict)  # the rest of config.json
    generation: Mapping[str, Any] = field(default_factory=dict)  # generation_config.json

    def settings(self, vocab_size: int) -> dict[str, Any]:
        """The model's configuration, as transformers' config classes take it."""
        encoder, decoder = self.layers
        return {
            "vocab_size": vocab_size,
            "d_model": self.d_model,
            "encoder_layers": encoder,
            "decoder_layers": decoder,
            "encoder_attention_heads": self.heads,
            "decoder_attention_heads": self.heads,
            "encoder_ffn_dim": self.ffn_dim,
            "decoder_ffn_dim": self.ffn_dim,
            "max_position_embeddings": self.max_positions,
            **self.config,
        }


# init_std 0.5 (not the usual 0.02) in the tiny models: at 0.02 their decoder all but ignores
# the encoder, so every input yields the same output; at 0.5 different inputs give different
# outputs, which lets tests check that batched results stay in input order. Their generation
# configs set no max_length: the library default (20 new tokens) keeps them short, and a
# checkpoint-level max_length makes transformers warn on every generate(max_new_tokens=...).
# The stand-ins' settings are those of Helsinki-NLP/opus-mt-en-ar and
# sshleifer/distilbart-cnn-12-6 (config.json and generation_config.json).
ARCHITECTURES: dict[str, Architecture] = {
    "tiny-marian": Architecture(
        "marian", 32, (2, 2), 2, 64, 512, None, (300, 300), "unigram", False,
        ("<pad>", "<unk>", TARGET_LANGUAGE_TOKEN),
        {"activation_function": "swish", "init_std": 0.5, "scale_embedding": True},
        {"num_beams": 1},
    ),
    "tiny-bart": Architecture(
        "bart", 32, (2, 2), 2, 64, 1024, None, (400, 0), "bpe", False, ("<unk>", "<mask>"),
        {"init_std": 0.5}, {"no_repeat_ngram_size": 3, "num_beams": 1},
    ),
    # BPE reaches ~1.3 pieces per English word on news text, about what the real opus-mt-en-ar
    # tokenizer gives; a unigram model this small would give ~2.
    "opus-mt-en-ar": Architecture(
        "marian", 512, (6, 6), 8, 2048, 512, 62802, (1600, 400), "bpe", True, ("<pad>",),
        {"activation_function": "swish", "scale_embedding": True,
         "static_position_embeddings": True, "normalize_before": False,
         "normalize_embedding": False, "add_bias_logits": False},
        {"num_beams": 4, "max_length": 512},
    ),
    "distilbart-cnn-12-6": Architecture(
        "bart", 1024, (12, 6), 16, 4096, 1024, 50264, (2000, 0), "bpe", True, (),
        {"activation_function": "gelu", "scale_embedding": False,
         "static_position_embeddings": False, "normalize_before": False,
         "normalize_embedding": True, "add_final_layer_norm": False, "add_bias_logits": False,
         "forced_bos_token_id": 0},  # <s>
        {"no_repeat_ngram_size": 3, "num_beams": 4, "length_penalty": 2.0, "min_length": 56,
         "max_length": 142, "early_stopping": True},
    ),
}  # fmt: skip

# Built-in training text.  News-flavoured English (the project summarises news articles)
# and simple Modern Standard Arabic.  The content does not matter beyond giving the
# tokenizer trainers enough distinct characters and words to produce a few hundred pieces.
ENGLISH_TEXT: tuple[str, ...] = (
    "Hello world. This is a test.",
    "The city council met on Monday to discuss the new budget for schools and roads.",
    "Officials said the plan would cost more than two million dollars over five years.",
    "Residents asked questions about public transport, housing and the price of water.",
    "The mayor promised to publish a full report before the end of the month.",
    "Scientists announced on Tuesday that they had found a new species of frog in the forest.",
    "The small green frog lives near rivers and sings loudly at night during the rainy season.",
    "Researchers from three universities worked together on the study for four years.",
    "The national football team won the match after a late goal in the second half.",
    "Thousands of fans celebrated in the streets until early in the morning.",
    "The coach thanked the players and said the victory belonged to the whole country.",
    "A strong storm hit the northern coast, bringing heavy rain and high winds.",
    "Emergency services warned people to stay at home and avoid travelling by car.",
    "Several villages lost electricity, and some roads were closed because of flooding.",
    "The company reported higher profits in the third quarter thanks to strong online sales.",
    "Its shares rose by seven percent after the announcement on Wednesday.",
    "Analysts expect the market to remain uncertain while interest rates stay high.",
    "The museum opened a new exhibition of ancient maps, coins and jewellery.",
    "Visitors can see objects that are more than two thousand years old.",
    "The exhibition will stay open until September, and entry is free for children.",
    "Doctors recommend regular exercise, a balanced diet and enough sleep every night.",
    "A new hospital will be built in the south of the region next year.",
    "The government said it would hire more teachers, nurses and police officers.",
    "Critics argued that the proposal was too expensive and would take too long.",
    "Farmers are worried that a dry summer could reduce the harvest of wheat and fruit.",
    "The quick brown fox jumps over the lazy dog while the journalist writes a short summary.",
    "Why? Because numbers like 1, 2, 3, 10, 25, 100 and 2024 appear in the news too!",
)

ARABIC_TEXT: tuple[str, ...] = (
    "مرحبا بالعالم. هذا اختبار.",
    "اجتمع مجلس المدينة يوم الاثنين لمناقشة الميزانية الجديدة للمدارس والطرق.",
    "قال المسؤولون إن الخطة ستكلف أكثر من مليوني دولار خلال خمس سنوات.",
    "طرح السكان أسئلة حول النقل العام والسكن وسعر الماء.",
    "وعد رئيس البلدية بنشر تقرير كامل قبل نهاية الشهر.",
    "أعلن العلماء يوم الثلاثاء أنهم اكتشفوا نوعا جديدا من الضفادع في الغابة.",
    "يعيش الضفدع الأخضر الصغير قرب الأنهار ويغني بصوت عال في الليل.",
    "عمل باحثون من ثلاث جامعات معا على الدراسة لمدة أربع سنوات.",
    "فاز المنتخب الوطني لكرة القدم بالمباراة بعد هدف متأخر في الشوط الثاني.",
    "احتفل آلاف المشجعين في الشوارع حتى الصباح الباكر.",
    "ضربت عاصفة قوية الساحل الشمالي وجلبت أمطارا غزيرة ورياحا شديدة.",
    "حذرت خدمات الطوارئ الناس من السفر بالسيارة وطلبت منهم البقاء في المنازل.",
    "أعلنت الشركة عن أرباح أعلى في الربع الثالث بفضل المبيعات القوية عبر الإنترنت.",
    "افتتح المتحف معرضا جديدا للخرائط القديمة والعملات والمجوهرات.",
    "يوصي الأطباء بممارسة الرياضة بانتظام واتباع نظام غذائي متوازن والنوم الكافي.",
    "قالت الحكومة إنها ستوظف مزيدا من المعلمين والممرضين ورجال الشرطة.",
    "يخشى المزارعون أن يؤدي الصيف الجاف إلى تقليل محصول القمح والفواكه.",
    "لماذا؟ لأن أرقاما مثل 1 و2 و3 و10 و2024 تظهر في الأخبار أيضا!",
)


def build_translator(
    directory: Path,
    architecture: str | Architecture = "tiny-marian",
    *,
    english: Sequence[str] = ENGLISH_TEXT,
    arabic: Sequence[str] = ARABIC_TEXT,
    max_positions: int | None = None,
    eos_bias: float = 0.0,
) -> Path:
    """Save a random English-to-Arabic ``MarianMTModel`` and its tokenizer to ``directory``.

    The tokenizer is a real ``MarianTokenizer``: ``source.spm`` is trained on ``english``,
    ``target.spm`` on ``arabic``, and the shared ``vocab.json`` also holds ``>>ara<<`` so that
    a source text starting with it gets that prefix as one token. ``max_positions`` overrides
    the architecture's length limit; ``eos_bias`` is added to the end-of-sequence logit (very
    negative: the model never stops by itself; very positive: it stops at once). Returns
    ``directory`` (created if needed).
    """
    arch = _architecture(architecture, "marian", max_positions)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # The SentencePiece models go straight to the file names MarianTokenizer expects, so
    # save_pretrained() below sees they are already in place and does not copy them.
    source = train_sentencepiece(english, arch.pieces[0], arch.piece_model)
    target = train_sentencepiece(arabic, arch.pieces[1], arch.piece_model)
    (directory / "source.spm").write_bytes(source)
    (directory / "target.spm").write_bytes(target)
    target_pieces = sentencepiece_pieces(target)
    vocab = marian_vocab(sentencepiece_pieces(source), target_pieces, arch.vocab_size)
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
    model = _seeded(MarianMTModel, config)
    allowed = [vocab[piece] for piece in target_pieces] if arch.words_only else None
    _set_output_bias(model, allowed, eos, eos_bias)
    # As Helsinki-NLP/opus-mt-* ship it: never <pad> (the tiny ones: nor <unk> and the language
    # token, which is not a special token, so skip_special_tokens would leave it in the text).
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        decoder_start_token_id=pad,
        pad_token_id=pad,
        eos_token_id=eos,
        forced_eos_token_id=eos,
        bad_words_ids=[[vocab[token]] for token in arch.banned],
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
    """Save a random ``BartForConditionalGeneration`` and its tokenizer to ``directory``.

    ``max_positions`` and ``eos_bias`` are as for :func:`build_translator`. The tokenizer is a
    byte-level BPE trained on ``english``, wrapped in transformers' ``BartTokenizer``, with the
    special-token ids of facebook/bart-*: ``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3,
    ``<mask>``=4. Returns ``directory``.
    """
    arch = _architecture(architecture, "bart", max_positions)
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
    config = BartConfig(
        **arch.settings(len(vocab)),
        bos_token_id=bos,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=eos,  # BART starts decoding from </s> ...
        forced_eos_token_id=eos,
    )
    model = _seeded(BartForConditionalGeneration, config)
    # A stand-in generates whole words (and full stops), so that a summary decodes to words
    # that the translator tokenizes like English, as a real summary would be.
    allowed = None
    if arch.words_only:
        allowed = [i for i in range(len(BART_SPECIAL_TOKENS), trained) if _word(tokenizer, i)]
    _set_output_bias(model, allowed, eos, eos_bias)
    # ... and then forces <s>, like facebook/bart-large-cnn. The tiny ones suppress lone bytes
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
        forced_bos_token_id=bos,
        forced_eos_token_id=eos,
        **({"suppress_tokens": suppressed} if suppressed else {}),
        **arch.generation,
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _architecture(name: str | Architecture, family: str, max_positions: int | None) -> Architecture:
    arch = ARCHITECTURES[name] if isinstance(name, str) else name
    if arch.family != family:
        raise ValueError(f"{name} is a {arch.family} architecture, not {family}")
    return arch if max_positions is None else replace(arch, max_positions=max_positions)


def _seeded(model_class: Any, config: Any) -> Any:
    """A model with random weights from the fixed seed, without disturbing the caller's RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        return model_class(config)


def _set_output_bias(
    model: torch.nn.Module, allowed: list[int] | None, eos_id: int, eos_bias: float
) -> None:
    """Shift logits through ``final_logits_bias``, which both architectures have and
    CTranslate2 carries over, so that both engines see the same model: with ``allowed``, every
    other token (end-of-sequence included) is blocked; else ``eos_bias`` moves end-of-sequence."""
    bias: Any = model.final_logits_bias
    with torch.no_grad():
        if allowed is not None:
            bias.fill_(_BLOCKED)
            bias[0, sorted(allowed)] = 0.0
        elif eos_bias:
            bias[0, eos_id] += eos_bias


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
