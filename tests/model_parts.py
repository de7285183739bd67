"""What every test model is built from: architectures, training text, seeded weights, output bias.

Two kinds of architecture: tiny ones (the tests: built and run in a second on a small CPU),
and stand-ins with the published shapes of real models (the benchmarks: the cost of a
forward pass depends on the shape, not on the weights). A stand-in's vocabulary is padded to
the real size, and its output bias lets it generate only target pieces or whole words (never
end-of-sequence), so no engine stops early and its outputs decode to words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from tests.tokenizer_training import TARGET_LANGUAGE_TOKEN

__all__ = [
    "ARABIC_TEXT",
    "ARCHITECTURES",
    "ENGLISH_TEXT",
    "Architecture",
    "architecture",
    "seeded",
    "set_output_bias",
]

#: Fixed seed so that the random weights (and hence the gibberish outputs) are reproducible.
_SEED = 1234
#: The output bias of what a stand-in may never generate.
_BLOCKED = -1e4
#: Without ``final_logits_bias``, the bias is a column of the output embedding times one
#: decoder feature held at this constant: large, so that the column (which a tied model also
#: uses as input embedding) stays small. What a stand-in may generate gets +_ALLOWED, far
#: above a random logit (a few units), rather than the rest -1e4, which would overflow the
#: embeddings in float16.
_FEATURE = 1000.0
_ALLOWED = 50.0


@dataclass(frozen=True)
class Architecture:
    """The shape of one model (what sets its cost per token) and how its tokenizer is trained."""

    family: str  # the model type: marian, bart, m2m100, mbart, t5, pegasus, led or qwen2
    d_model: int
    layers: tuple[int, int]  # encoder, decoder (a decoder-only model: 0, its layers)
    heads: int
    ffn_dim: int
    max_positions: int  # LED: of the encoder; T5 (relative positions): the tokenizer's limit
    vocab_size: int | None  # padded to this many entries; None: the trained pieces alone
    pieces: tuple[int, int]  # tokenizer sizes to train: source and target (shared ones: one)
    piece_model: str  # SentencePiece's model type
    words_only: bool  # stand-in: the output bias allows target pieces / whole words alone
    banned: tuple[str, ...]  # tokens generation never emits (Marian's bad words, BART's suppressed)
    config: Mapping[str, Any] = field(default_factory=dict)  # the rest of config.json
    generation: Mapping[str, Any] = field(default_factory=dict)  # generation_config.json

    def settings(self, vocab_size: int) -> dict[str, Any]:
        """The model's configuration, as transformers' config classes take it."""
        encoder, decoder = self.layers
        if self.family == "qwen2":
            return {
                "vocab_size": vocab_size,
                "hidden_size": self.d_model,
                "num_hidden_layers": decoder,
                "num_attention_heads": self.heads,
                "intermediate_size": self.ffn_dim,
                "max_position_embeddings": self.max_positions,
                **self.config,
            }
        if self.family == "t5":
            return {
                "vocab_size": vocab_size,
                "d_model": self.d_model,
                "d_kv": self.d_model // self.heads,
                "d_ff": self.ffn_dim,
                "num_layers": encoder,
                "num_decoder_layers": decoder,
                "num_heads": self.heads,
                **self.config,
            }
        positions = (
            "max_encoder_position_embeddings"
            if self.family == "led"
            else ("max_position_embeddings")
        )
        return {
            "vocab_size": vocab_size,
            "d_model": self.d_model,
            "encoder_layers": encoder,
            "decoder_layers": decoder,
            "encoder_attention_heads": self.heads,
            "decoder_attention_heads": self.heads,
            "encoder_ffn_dim": self.ffn_dim,
            "decoder_ffn_dim": self.ffn_dim,
            positions: self.max_positions,
            **self.config,
        }


# Keys transformers 5 no longer defines but the checkpoints' config.json still carry, and
# CTranslate2 4.8 reads (BART's loader, which mBART's and PEGASUS's extend): without them it
# cannot convert, and a converter that assumed BART's post-norm would get these pre-norm
# models wrong. As in facebook/mbart-large-50-many-to-many-mmt and google/pegasus-*.
_MBART_LAYERS = {
    "normalize_before": True,
    "normalize_embedding": True,
    "add_final_layer_norm": True,
    "static_position_embeddings": False,
}
_PEGASUS_LAYERS = {
    "normalize_before": True,
    "normalize_embedding": False,
    "add_final_layer_norm": True,
    "static_position_embeddings": True,
}

# init_std 0.5 (not the usual 0.02) in the tiny models: at 0.02 their decoder all but ignores
# the encoder, so every input yields the same output; at 0.5 different inputs give different
# outputs, which lets tests check that batched results stay in input order. Their generation
# configs set no max_length: the library default (20 new tokens) keeps them short, and a
# checkpoint-level max_length makes transformers warn on every generate(max_new_tokens=...).
# The stand-ins' settings are those of the named checkpoints' config.json and
# generation_config.json on the Hugging Face hub.
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
    # NLLB-200 and M2M100 share the architecture (NLLB's sentencepiece.bpe.model is a BPE).
    "tiny-m2m100": Architecture(
        "m2m100", 32, (2, 2), 2, 64, 1024, None, (500, 0), "bpe", False, (),
        {"activation_function": "relu", "init_std": 0.5, "scale_embedding": True},
        {"num_beams": 1},
    ),
    "tiny-mbart": Architecture(
        "mbart", 32, (2, 2), 2, 64, 1024, None, (500, 0), "unigram", False, (),
        {"activation_function": "relu", "init_std": 0.5, "scale_embedding": True,
         **_MBART_LAYERS},
        {"num_beams": 1},
    ),
    # Untied output embedding and gated GELU, as in MADLAD-400, Flan-T5 and T5 v1.1; T5's
    # initializer_factor plays init_std's part (at 1, every input gives the same output).
    "tiny-t5": Architecture(
        "t5", 32, (2, 2), 2, 64, 512, None, (400, 0), "unigram", False, (),
        {"feed_forward_proj": "gated-gelu", "tie_word_embeddings": False,
         "initializer_factor": 10.0},
        {"num_beams": 1},
    ),
    "tiny-pegasus": Architecture(
        "pegasus", 32, (2, 2), 2, 64, 1024, None, (400, 0), "unigram", False, (),
        {"activation_function": "relu", "init_std": 0.5, "scale_embedding": True,
         **_PEGASUS_LAYERS},
        {"num_beams": 1},
    ),
    # A short encoder limit and a small local attention window, so that long inputs are cheap.
    "tiny-led": Architecture(
        "led", 32, (2, 2), 2, 64, 2048, None, (400, 0), "bpe", False, ("<unk>", "<mask>"),
        {"init_std": 0.5, "attention_window": 16, "max_decoder_position_embeddings": 1024},
        {"num_beams": 1},
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
    # facebook/nllb-200-distilled-600M: M2M100ForConditionalGeneration, relu, scaled
    # embeddings, vocab_size 256206 (config.json); generation_config.json: max_length 200.
    "nllb-200-distilled-600M": Architecture(
        "m2m100", 1024, (12, 12), 16, 4096, 1024, 256206, (4000, 0), "bpe", True, (),
        {"activation_function": "relu", "scale_embedding": True}, {"max_length": 200},
    ),
    # google/pegasus-cnn_dailymail (config.json): 16+16 layers, relu, scaled embeddings,
    # sinusoidal positions, vocab_size 96103; beam 8, length_penalty 0.8, 32 to 128 tokens.
    "pegasus-cnn_dailymail": Architecture(
        "pegasus", 1024, (16, 16), 16, 4096, 1024, 96103, (4000, 0), "unigram", True, (),
        {"activation_function": "relu", "scale_embedding": True, **_PEGASUS_LAYERS},
        {"num_beams": 8, "length_penalty": 0.8, "min_length": 32, "max_length": 128},
    ),
    # A decoder-only instruction model (see tests.chat_builders). Its generation config samples,
    # as Qwen2.5-Instruct's does: the tool must decode greedily or by beam search regardless.
    "tiny-qwen2": Architecture(
        "qwen2", 32, (0, 2), 2, 64, 1024, None, (600, 0), "bpe", False, (),
        {"num_key_value_heads": 1, "initializer_range": 0.5, "tie_word_embeddings": True},
        {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
         "repetition_penalty": 1.05},
    ),
    # Qwen/Qwen2.5-0.5B-Instruct (config.json): 24 layers, hidden 896, 14 query heads and 2
    # key-value heads, MLP 4864, tied embeddings, vocab_size 151936, 32,768 positions, RoPE
    # base 1,000,000.
    "qwen2.5-0.5b-instruct": Architecture(
        "qwen2", 896, (0, 24), 14, 4864, 32768, 151936, (4000, 0), "bpe", True, (),
        {"num_key_value_heads": 2, "tie_word_embeddings": True, "rope_theta": 1000000.0,
         "rms_norm_eps": 1e-6},
        {"repetition_penalty": 1.1, "do_sample": True, "temperature": 0.7, "top_p": 0.8,
         "top_k": 20},
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


def architecture(
    name: str | Architecture, family: str | tuple[str, ...], max_positions: int | None
) -> Architecture:
    """The architecture ``name`` (or the one given), checked to be of ``family`` (or one of
    them), with ``max_positions`` instead of its own length limit if given."""
    arch = ARCHITECTURES[name] if isinstance(name, str) else name
    families = (family,) if isinstance(family, str) else family
    if arch.family not in families:
        raise ValueError(f"{name} is a {arch.family} architecture, not {' or '.join(families)}")
    return arch if max_positions is None else replace(arch, max_positions=max_positions)


def seeded(model_class: Any, config: Any) -> Any:
    """A model with random weights from the fixed seed, without disturbing the caller's RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        return model_class(config)


def set_output_bias(
    model: torch.nn.Module, allowed: list[int] | None, eos_id: int, eos_bias: float
) -> None:
    """Shift the logits so that both engines see it (CTranslate2 converts the weights it lives
    in): with ``allowed``, nothing else (end-of-sequence included) is ever generated; else
    ``eos_bias`` is added to end-of-sequence."""
    if allowed is None and not eos_bias:
        return
    with torch.no_grad():
        if hasattr(model, "final_logits_bias"):  # BART, Marian, mBART, PEGASUS, LED
            bias: Any = model.final_logits_bias[0]
            if allowed is not None:
                bias.fill_(_BLOCKED)
                bias[sorted(allowed)] = 0.0
            else:
                bias[eos_id] += eos_bias
            return
        column = _bias_column(model)
        if allowed is not None:
            column[sorted(allowed)] = _ALLOWED / _FEATURE
        else:
            column[eos_id] = eos_bias / _FEATURE


def _bias_column(model: Any) -> torch.Tensor:
    """A zeroed output-embedding column that is added to every logit, ``_FEATURE`` times: the
    decoder's final layer norm is made to put that constant in its last feature."""
    norm = getattr(model.get_decoder(), "layer_norm", None)
    if not isinstance(norm, torch.nn.LayerNorm) or norm.bias is None:
        # T5's RMS norm has no bias, so no feature can be constant.
        raise ValueError(f"{type(model).__name__} has no way to bias its output")
    norm.weight[-1] = 0.0
    norm.bias[-1] = _FEATURE
    column: torch.Tensor = model.get_output_embeddings().weight[:, -1]
    column.zero_()
    return column
