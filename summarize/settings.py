"""The settings: frozen dataclasses, one per TOML section, with the shipped defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = [
    "DTYPES",
    "GUARD_CHECKS",
    "LANGUAGE_CHECKS",
    "QUANTIZATIONS",
    "SUMMARY_PROMPT",
    "TRANSLATABLE",
    "TRANSLATION_PROMPT",
    "Config",
    "EvalSettings",
    "GuardSettings",
    "InputSettings",
    "OutputSettings",
    "RaySettings",
    "RuntimeSettings",
    "SummarizerSettings",
    "TranslatorSettings",
]

DTYPES = ("auto", "float32", "float16", "bfloat16")
# CTranslate2 compute types; "auto" is int8 on the CPU and float16 on CUDA.
QUANTIZATIONS = (
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)
TRANSLATABLE = ("summary", "article")
LANGUAGE_CHECKS = ("warn", "refuse", "off")

# What an instruction model (a decoder-only model with a chat template) is asked, as the user's
# turn; {text} is where the article (or segment) goes. Other families ignore the prompts.
SUMMARY_PROMPT = (
    "Summarize the following news article in three to five sentences of plain English. Use "
    "only facts stated in the article: add no names, numbers, dates or opinions it does not "
    "give. Reply with the summary alone, without a title or an introduction.\n\n{text}"
)
TRANSLATION_PROMPT = (
    "Translate the following English text into Modern Standard Arabic. Translate every "
    "sentence and add nothing. Reply with the Arabic translation alone, without notes, "
    "explanations or quotation marks.\n\n{text}"
)


@dataclass(frozen=True)
class SummarizerSettings:
    model: str = "sshleifer/distilbart-cnn-12-6"
    revision: str = "main"
    #: "auto": CTranslate2 where it converts the model's family, else transformers
    backend: str = "auto"
    #: text before every input; "auto" lets the family decide (T5's "summarize: ", none for BART)
    source_prefix: str = "auto"
    max_input_tokens: int = 1024
    num_beams: int = 4
    min_length: int = 56
    max_length: int = 142
    no_repeat_ngram_size: int = 3
    length_penalty: float = 2.0
    # Only the ctranslate2 backend quantizes; the others ignore this.
    quantization: str = "auto"
    #: what an instruction model is asked ({text}: the article); other families ignore it
    prompt: str = SUMMARY_PROMPT


@dataclass(frozen=True)
class TranslatorSettings:
    model: str = "Helsinki-NLP/opus-mt-en-ar"
    revision: str = "main"
    backend: str = "auto"
    #: how the model is asked for Arabic, each "auto" to let its family decide (see
    #: summarize.families): text before every input (Marian's ">>ara<<", MADLAD's "<2ar>"),
    #: the source language the tokenizer marks, the target-language token forced first
    source_prefix: str = "auto"
    source_language: str = "auto"
    target_language: str = "auto"
    # Well below Marian's 512 positions: OPUS-MT models are trained on sentence pairs and
    # start dropping sentences when fed long multi-sentence segments.
    max_input_tokens: int = 256
    num_beams: int = 4
    max_length_ratio: float = 2.0
    max_length_extra: int = 16
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0
    quantization: str = "auto"
    #: what an instruction model is asked ({text}: the segment); other families ignore it
    prompt: str = TRANSLATION_PROMPT


#: every check of [guards] (see summarize.guards), on by default
GUARD_CHECKS: tuple[str, ...] = ("empty", "identical", "length_cap", "repetition", "script")
GUARD_CHECKS += ("length_ratio", "summary_length", "grounding", "refusal", "about_text", "residue")


@dataclass(frozen=True)
class GuardSettings:
    """Checks of every generated segment and summary, and how a failing segment is repaired.

    The defaults suit distilbart-cnn-12-6 and opus-mt-en-ar (see the README's Output guards).
    """

    checks: list[str] = field(default_factory=lambda: list(GUARD_CHECKS))
    #: the most of an output's words that may repeat the unit before them (a loop)
    max_repetition: float = 0.4
    #: the least share of an Arabic output's letters in Arabic script
    min_script_share: float = 0.8
    #: translation/source characters, for sources of at least min_ratio_chars characters
    min_length_ratio: float = 0.5
    max_length_ratio: float = 1.6
    min_ratio_chars: int = 40
    #: the least share of a summary's content words found in its article
    min_grounded: float = 0.5
    #: 0 only checks; 1 retries with stronger decoding; 2 also retries sentence by sentence
    repair_rounds: int = 2
    repair_num_beams: int = 5
    repair_no_repeat_ngram_size: int = 3
    repair_repetition_penalty: float = 1.3


@dataclass(frozen=True)
class RuntimeSettings:
    device: str = "auto"
    dtype: str = "auto"
    batch_tokens: int = 8192
    threads: int = 0
    wave_size: int = 16
    # Seconds without a refresh after which another host's (or an unreadable) claim on an
    # article counts as abandoned (claims of this host are checked by their file lock).
    claim_timeout: int = 3600


@dataclass(frozen=True)
class InputSettings:
    globs: list[str] = field(default_factory=lambda: ["*.txt", "*.md"])
    exclude: list[str] = field(default_factory=list)
    cleanup: bool = True
    # Fail an input with no sentence of prose (a page of menus and headlines only).
    require_article: bool = True
    max_bytes: int = 10_000_000
    language_check: str = "warn"


@dataclass(frozen=True)
class OutputSettings:
    summary: str = "{stem}.summary.txt"
    summary_ar: str = "{stem}.summary.ar.txt"
    article_ar: str = "{stem}.ar.txt"
    sidecar: str = "{stem}.summarize.json"
    summarize: bool = True
    translate: list[str] = field(default_factory=lambda: list(TRANSLATABLE))


@dataclass(frozen=True)
class EvalSettings:
    """Where ``summarize eval`` finds human references, next to each article."""

    summary_reference: str = "{stem}.ref.summary.txt"
    summary_ar_reference: str = "{stem}.ref.summary.ar.txt"
    article_ar_reference: str = "{stem}.ref.ar.txt"


@dataclass(frozen=True)
class RaySettings:
    """The actor pools of ``--runner ray``: speed only, never what is written (not in the
    signature). Each of the summarizer and translator gets a pool of ``actors``, each actor
    holding its model once; a fractional ``cpus_per_actor`` leaves CPUs to reading and writing."""

    actors: int = 1
    gpus_per_actor: float = 0.0
    cpus_per_actor: float = 0.5


@dataclass(frozen=True)
class Config:
    summarizer: SummarizerSettings = field(default_factory=SummarizerSettings)
    translator: TranslatorSettings = field(default_factory=TranslatorSettings)
    guards: GuardSettings = field(default_factory=GuardSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    input: InputSettings = field(default_factory=InputSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    ray: RaySettings = field(default_factory=RaySettings)

    @property
    def templates(self) -> dict[str, str]:
        """Every file name template, by its ``section.key``: the text settings of [output] and
        [eval] (the outputs and the references)."""
        return {
            f"{section}.{key}": value
            for section in ("output", "eval")
            for key, value in dataclasses.asdict(getattr(self, section)).items()
            if isinstance(value, str)
        }

    @property
    def reserved_names(self) -> tuple[str, ...]:
        """File name templates that are never inputs: the outputs and the references."""
        return tuple(self.templates.values())

    @property
    def needs_summarizer(self) -> bool:
        return self.output.summarize

    @property
    def needs_translator(self) -> bool:
        return bool(self.output.translate)
