"""Build tiny random BART and Marian checkpoints with offline-trained tokenizers, for the tests.

Nothing here touches the network: the tokenizers are trained at call time on the small
built-in texts below (SentencePiece for Marian, byte-level BPE for BART), the models are
randomly initialised from deliberately small configs, and everything is written with
``save_pretrained`` into the directory the caller passes.  The resulting directories load
with ``AutoTokenizer.from_pretrained`` / ``AutoModelForSeq2SeqLM.from_pretrained`` exactly
like a real checkpoint, so the test suite can exercise the full load/tokenise/generate/decode
path in a few seconds on a small CPU.  The outputs are gibberish, of course: tests should only
rely on their *shape* (strings, lengths, batching), never on their content.

Intended use, from a pytest ``conftest.py``::

    @pytest.fixture(scope="session")
    def tiny_translator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return build_tiny_translator(tmp_path_factory.mktemp("tiny-marian"))
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BartTokenizer,
    GenerationConfig,
    MarianConfig,
    MarianMTModel,
    MarianTokenizer,
)

__all__ = [
    "ARABIC_TEXT",
    "ENGLISH_TEXT",
    "TARGET_LANGUAGE_TOKEN",
    "build_tiny_summarizer",
    "build_tiny_translator",
]

#: Language token that opus-mt style multilingual models expect at the start of the source.
TARGET_LANGUAGE_TOKEN = ">>ara<<"

#: Fixed seed so that the random weights (and hence the gibberish outputs) are reproducible.
_SEED = 1234

#: Small enough to build and run in well under a second, big enough to be a real transformer.
_D_MODEL = 32
_LAYERS = 2
_HEADS = 2
_FFN_DIM = 64

#: Much larger than the usual 0.02: with tiny random weights at 0.02 the decoder all but ignores
#: the encoder, so every input yields the same output.  At this scale different inputs give
#: different outputs, which lets tests check that batched results stay in input order.
_INIT_STD = 0.5

# A note on length: the generation configs below deliberately set no ``max_length``.  The
# library default (20 new tokens) already keeps a random model short, and a checkpoint-level
# ``max_length`` makes transformers log "Both `max_new_tokens` and `max_length` seem to have
# been set" on every ``generate(max_new_tokens=...)`` call.

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


# --------------------------------------------------------------------------------------
# Marian (translation)
# --------------------------------------------------------------------------------------


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


def build_tiny_translator(
    directory: Path, *, max_positions: int = 512, eos_bias: float = 0.0
) -> Path:
    """Save a tiny random English-to-Arabic ``MarianMTModel`` and its tokenizer to ``directory``.

    The tokenizer is a real ``MarianTokenizer`` (SentencePiece backend): ``source.spm`` is
    trained on :data:`ENGLISH_TEXT`, ``target.spm`` on :data:`ARABIC_TEXT`, and the shared
    ``vocab.json`` also holds ``>>ara<<`` so that a source text starting with it gets that
    prefix as one token.  ``max_positions`` is the model's (and tokenizer's) length limit;
    ``eos_bias`` is added to the end-of-sequence logit (very negative: the model never stops
    by itself; very positive: it stops at once).  Returns ``directory`` (created if needed).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    # The SentencePiece models go straight to the file names MarianTokenizer expects, so
    # save_pretrained() below sees they are already in place and does not copy them.
    source_proto = train_sentencepiece(ENGLISH_TEXT, vocab_size=300)
    target_proto = train_sentencepiece(ARABIC_TEXT, vocab_size=300)
    source_spm = directory / "source.spm"
    target_spm = directory / "target.spm"
    source_spm.write_bytes(source_proto)
    target_spm.write_bytes(target_proto)

    vocab = marian_vocab(sentencepiece_pieces(source_proto), sentencepiece_pieces(target_proto))
    vocab_file = directory / "vocab.json"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False, indent=2), encoding="utf-8")

    tokenizer = MarianTokenizer(
        source_spm=str(source_spm),
        target_spm=str(target_spm),
        vocab=str(vocab_file),
        source_lang="en",
        target_lang="ar",
        model_max_length=max_positions,
    )
    pad_id = vocab["<pad>"]
    eos_id = vocab["</s>"]
    assert tokenizer.pad_token_id == pad_id and tokenizer.eos_token_id == eos_id

    config = MarianConfig(
        vocab_size=len(vocab),
        decoder_vocab_size=len(vocab),
        d_model=_D_MODEL,
        encoder_layers=_LAYERS,
        decoder_layers=_LAYERS,
        encoder_attention_heads=_HEADS,
        decoder_attention_heads=_HEADS,
        encoder_ffn_dim=_FFN_DIM,
        decoder_ffn_dim=_FFN_DIM,
        max_position_embeddings=max_positions,
        activation_function="swish",  # what opus-mt checkpoints use
        init_std=_INIT_STD,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        decoder_start_token_id=pad_id,  # Marian starts decoding from <pad>
        forced_eos_token_id=eos_id,
    )
    with torch.random.fork_rng(devices=[]):  # do not disturb the caller's global RNG
        torch.manual_seed(_SEED)
        model = MarianMTModel(config)
    _bias_end_of_sequence(model, eos_id, eos_bias)

    # Mirrors the generation settings of Helsinki-NLP/opus-mt-* (never emit <pad>), but with
    # greedy search by default so that a random model stays fast.  <unk> and the language
    # token are banned too (the latter is not a special token, so skip_special_tokens would
    # leave it in the decoded text).
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        decoder_start_token_id=pad_id,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        forced_eos_token_id=eos_id,
        bad_words_ids=[[pad_id], [vocab["<unk>"]], [vocab[TARGET_LANGUAGE_TOKEN]]],
        num_beams=1,
    )

    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _bias_end_of_sequence(model: torch.nn.Module, eos_id: int, bias: float) -> None:
    """Shift the end-of-sequence logit through ``final_logits_bias``, which both architectures
    have and CTranslate2 carries over, so that both engines see the same model."""
    if bias:
        with torch.no_grad():
            model.final_logits_bias[0, eos_id] += bias  # type: ignore[index, operator]


# --------------------------------------------------------------------------------------
# BART (summarisation)
# --------------------------------------------------------------------------------------

#: BART's special tokens, in the order (and hence with the ids 0..4) of facebook/bart-*.
_BART_SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _train_byte_level_bpe(
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
        special_tokens=_BART_SPECIAL_TOKENS,
        show_progress=False,
    )
    model = json.loads(trainer._tokenizer.to_str())["model"]
    vocab: dict[str, int] = model["vocab"]
    merges = [_as_merge(merge) for merge in model["merges"]]
    return vocab, merges


def _as_merge(merge: str | list[str]) -> tuple[str, str]:
    """Normalise one serialised merge (``"a b"`` in older tokenizers, ``["a", "b"]`` now)."""
    left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
    return left, right


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


def build_tiny_summarizer(
    directory: Path, *, max_positions: int = 1024, eos_bias: float = 0.0
) -> Path:
    """Save a tiny random ``BartForConditionalGeneration`` and its tokenizer to ``directory``.

    ``max_positions`` and ``eos_bias`` are as for :func:`build_tiny_translator`.

    The tokenizer is a byte-level BPE trained on :data:`ENGLISH_TEXT`, wrapped in
    transformers' ``BartTokenizer`` (in transformers 5 an alias of the tokenizers-backed
    ``RobertaTokenizer``), with the special-token ids of facebook/bart-*: ``<s>``=0,
    ``<pad>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>``=4.  Returns ``directory``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    vocab, merges = _train_byte_level_bpe(ENGLISH_TEXT, vocab_size=400)
    # Merges as (left, right) tuples, which is what transformers itself passes on to
    # tokenizers' BPE, although RobertaTokenizer's annotation only mentions strings.
    tokenizer = BartTokenizer(
        vocab=vocab,
        merges=merges,  # type: ignore[arg-type]
        model_max_length=max_positions,
    )
    bos_id, pad_id, eos_id = (vocab[token] for token in ("<s>", "<pad>", "</s>"))
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (
        bos_id,
        pad_id,
        eos_id,
    )

    config = BartConfig(
        vocab_size=len(vocab),
        d_model=_D_MODEL,
        encoder_layers=_LAYERS,
        decoder_layers=_LAYERS,
        encoder_attention_heads=_HEADS,
        decoder_attention_heads=_HEADS,
        encoder_ffn_dim=_FFN_DIM,
        decoder_ffn_dim=_FFN_DIM,
        max_position_embeddings=max_positions,
        init_std=_INIT_STD,
        bos_token_id=bos_id,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        decoder_start_token_id=eos_id,  # BART starts decoding from </s> ...
        forced_eos_token_id=eos_id,
    )
    with torch.random.fork_rng(devices=[]):  # do not disturb the caller's global RNG
        torch.manual_seed(_SEED)
        model = BartForConditionalGeneration(config)
    _bias_end_of_sequence(model, eos_id, eos_bias)

    # ... and then forces <s>, like facebook/bart-large-cnn (as is no_repeat_ngram_size=3).
    # Unlike bart-large-cnn there is no min_length (56 there) or length penalty, so short
    # max_new_tokens values just work.  Lone bytes that are not printable text on their own
    # (UTF-8 fragments, control characters) are suppressed, so outputs decode to clean text
    # instead of U+FFFD replacement characters; so are <unk> and <mask>.
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=bos_id,
        decoder_start_token_id=eos_id,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        forced_bos_token_id=bos_id,
        forced_eos_token_id=eos_id,
        no_repeat_ngram_size=3,
        suppress_tokens=[
            vocab["<unk>"],
            vocab["<mask>"],
            *_unprintable_token_ids(tokenizer),
        ],
        num_beams=1,
    )

    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
