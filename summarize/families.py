"""The model families: how each is recognised, and how it is asked for Arabic or for a summary.

The one place that knows a model family. A model is named and nothing else; from its config
(``model_type``) and its tokenizer (class, vocabulary) a :class:`Recipe` says what goes before
every input (a language token or a task prefix as text), which source language the tokenizer
marks, which target-language token is forced as the first generated token, whether the model
wants global attention on its first token (LED), and whether CTranslate2 converts it. A
decoder-only model whose tokenizer carries a chat template (an instruction-tuned model: Qwen,
Llama, Gemma, Mistral...) is asked in words instead: the role's prompt, through that template.
Both engines apply the recipe; no other module branches on a model type.

A family the tool cannot tell, or a tokenizer without the token for the target language, is a
load error naming the model and the setting to give: never a run in the wrong language. The
decision is a function of the model's files, its settings and this module, so the settings
identity (models by content or id and revision, the settings as written, the tool version)
changes whenever a decision can.

Only light standard-library modules are imported here: planning resolves ``backend = "auto"``
with :func:`resolve_backend` on a run that may have nothing to do.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from summarize import jsontext
from summarize.discovery import display_name
from summarize.errors import ModelError

__all__ = [
    "AUTO",
    "CT2_CONVERTS",
    "CT2_GENERATES",
    "TEXT_FIELD",
    "Asked",
    "Recipe",
    "auto_backend",
    "model_type",
    "recipe",
    "resolve_backend",
    "retold",
]

log = logging.getLogger(__name__)

#: A config.json is a few kB: a larger one is no model's, and is not read into memory.
MODEL_JSON_MAX_BYTES = 16 * 1024 * 1024

#: the value of a setting the family decides (backend, prefix, languages)
AUTO = "auto"
#: the decoder-only model types CTranslate2 4.8 converts (to run with its Generator)
CT2_GENERATES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gemma3_text", "phi3"}
)
_CT2_SEQ2SEQ = frozenset({"bart", "marian", "m2m_100", "mbart", "pegasus", "t5", "mt5", "umt5"})
#: the model types CTranslate2 4.x converts from transformers (not LED)
CT2_CONVERTS = CT2_GENERATES | _CT2_SEQ2SEQ
#: where a prompt puts the text it asks about (see summarize.settings)
TEXT_FIELD = "{text}"
_T5 = frozenset({"t5", "mt5", "umt5"})
_MARIAN_LANGUAGE = re.compile(r">>[A-Za-z_]+<<")
_MADLAD_LANGUAGE = re.compile(r"<2[A-Za-z_-]+>")
# What reads as a target-language token in a prefix: Marian's >>ara<<, MADLAD's <2ar>.
_LANGUAGE_TOKEN = re.compile(r">>[^<>\s]*<<|<2[^<>\s]*>|>>|<<")


@dataclass(frozen=True)
class Asked:
    """What the settings ask of a family's decisions; ``auto`` leaves each to the family."""

    role: str
    #: text before every input ("" for none)
    source_prefix: str = AUTO
    #: the translator's source and target languages, in the model's own codes
    source_language: str = AUTO
    target_language: str = AUTO
    #: what an instruction model is asked, the text at TEXT_FIELD (the role's prompt setting)
    prompt: str = TEXT_FIELD


@dataclass(frozen=True)
class Recipe:
    """How one loaded model is asked for its job."""

    family: str
    model_type: str
    #: text put before every input: a language token (``>>ara<< ``), a task prefix
    prefix: str = ""
    #: the tokenizer's source language (it marks the input with that language's token)
    source_language: str | None = None
    #: the token every output starts with, forced as the first generated token
    target_token: str | None = None
    #: global attention on the first input token (LED)
    global_attention: bool = False
    #: a token the model writes between sentences (PEGASUS's ``<n>``), read as a space
    sentence_break: str | None = None
    #: a decoder-only instruction model: each input is ``prompt`` (its TEXT_FIELD the text) as
    #: the user's turn of its chat template, and only the reply is decoded
    chat: bool = False
    prompt: str = TEXT_FIELD

    def ask(self, text: str) -> str:
        """The user's turn that asks an instruction model about ``text``."""
        return self.prompt.replace(TEXT_FIELD, text, 1)

    def finish(self, text: str) -> str:
        """A decoded output as text: the family's sentence-break token made a space."""
        if self.sentence_break is None or self.sentence_break not in text:
            return text.strip()
        return " ".join(text.replace(self.sentence_break, " ").split())

    @property
    def converts(self) -> bool:
        """Whether CTranslate2 converts models of this family."""
        return self.model_type in CT2_CONVERTS

    def describe(self) -> str:
        """One line for the log and the sidecar, e.g. ``NLLB-200 (m2m_100), eng_Latn ->
        arb_Arab, forced first token``."""
        parts = [f"{self.family} ({self.model_type})"]
        if self.source_language or self.target_token:
            parts.append(f"{self.source_language or '?'} -> {self.target_token or '?'}")
        if self.target_token:
            parts.append("forced first token")
        if self.prefix:
            parts.append(f"prefix {self.prefix.strip()!r}")
        if self.global_attention:
            parts.append("global attention on the first token")
        if self.chat:
            parts.append("prompt through its chat template")
        return ", ".join(parts)


def recipe(asked: Asked, model: str, config: Any, tokenizer: Any) -> Recipe:
    """The recipe for ``model`` (its transformers ``config`` and ``tokenizer``) in
    ``asked.role``; ModelError when the family cannot be told or lacks the target language."""
    kind = str(getattr(config, "model_type", "") or "")
    if getattr(config, "is_encoder_decoder", None) is False:
        return _instruction(asked, model, kind, tokenizer)
    if asked.role == "summarizer":
        return _summarizer(asked, model, kind, config)
    return _translator(asked, model, kind, tokenizer)


def _summarizer(asked: Asked, model: str, kind: str, config: Any) -> Recipe:
    given = None if asked.source_prefix == AUTO else _spaced(asked.source_prefix)
    if kind in _T5:
        params = getattr(config, "task_specific_params", None) or {}
        task = params.get("summarization") if isinstance(params, Mapping) else None
        found = task.get("prefix") if isinstance(task, Mapping) else None
        prefix = given if given is not None else found if isinstance(found, str) else "summarize: "
        return Recipe("T5", kind, prefix)
    if kind == "led":
        return Recipe("LED", kind, given or "", global_attention=True)
    if kind == "pegasus":  # its CNN/DailyMail checkpoints end each sentence with "<n>"
        return Recipe("PEGASUS", kind, given or "", sentence_break="<n>")
    families = {"bart": "BART", "mbart": "mBART"}
    if kind in families:
        return Recipe(families[kind], kind, given or "")
    if given is not None:
        return Recipe("seq2seq", kind, given)
    raise ModelError(
        f"summarizer.model: {model}: cannot tell how to ask {_a_model(kind)} for a "
        'summary (known: BART, PEGASUS, T5, LED); set summarizer.source_prefix ("" for none) '
        "if it needs no more than a text prefix"
    )


def _instruction(asked: Asked, model: str, kind: str, tokenizer: Any) -> Recipe:
    """A decoder-only model: asked in words through its chat template, which only an
    instruction-tuned checkpoint has; a base model would continue the text, not answer."""
    if not getattr(tokenizer, "chat_template", None):
        raise ModelError(
            f"{asked.role}.model: {model}: {_a_model(kind)} without a chat template in its "
            "tokenizer; the tool asks decoder-only models through their chat template, so "
            "name an instruction-tuned checkpoint (its -Instruct or -Chat version)"
        )
    return retold(Recipe("instruction model", kind, chat=True), asked, model)


def retold(found: Recipe, asked: Asked, model: str) -> Recipe:
    """An instruction model's recipe ``found``, for the role and prompt of ``asked``: one
    model loaded once serves both roles, each asked its own way.

    An instruction model is asked in words alone: a language token or prefix set for another
    family would be ignored, and the run be in the prompt's language instead, so it is a
    ModelError naming the key.
    """
    for key, value in (
        ("source_prefix", asked.source_prefix),
        ("source_language", asked.source_language),
        ("target_language", asked.target_language),
    ):
        if value != AUTO:
            raise ModelError(
                f"{asked.role}.model: {model}: {asked.role}.{key} = {value!r} does not apply "
                f"to an instruction model, which is asked in words; set it to 'auto' and say "
                f"what you want in {asked.role}.prompt"
            )
    return replace(found, prompt=asked.prompt)


def _translator(asked: Asked, model: str, kind: str, tokenizer: Any) -> Recipe:
    vocab = _vocabulary(tokenizer)
    name = type(tokenizer).__name__
    if kind == "marian":
        return _marian(asked, model, vocab)
    if kind == "m2m_100" and "Nllb" in name:
        return _coded(asked, model, vocab, "NLLB-200", kind, ("eng_Latn", "arb_Arab"))
    if kind == "m2m_100":
        # Its tokenizer takes the bare source code (en) and marks the input with __en__.
        source = "en" if asked.source_language == AUTO else asked.source_language.strip("_")
        _need(f"__{source}__", vocab, model, "translator.source_language", "M2M100's are like en")
        token = _target(asked, vocab, "__{}__", "ar")
        _need(token, vocab, model, "translator.target_language", "M2M100's are like ar")
        return Recipe("M2M100", kind, _given_prefix(asked, model, vocab), source, token)
    if kind == "mbart":
        return _coded(asked, model, vocab, "mBART-50", kind, ("en_XX", "ar_AR"))
    if kind in _T5:
        return _t5_translator(asked, model, vocab, kind)
    if asked.source_prefix != AUTO or asked.target_language != AUTO:
        forced = None if asked.target_language == AUTO else asked.target_language
        if forced is not None:
            _need(forced, vocab, model, "translator.target_language", "any token of its vocabulary")
        return Recipe("seq2seq", kind, _given_prefix(asked, model, vocab), None, forced)
    raise ModelError(
        f"translator.model: {model}: cannot tell how to ask {_a_model(kind)} for "
        "Arabic (known: Marian, NLLB-200, M2M100, mBART-50, T5/MADLAD); set "
        "translator.source_prefix (a text before every input) or translator.target_language "
        "(a token forced first)"
    )


def _marian(asked: Asked, model: str, vocab: set[str]) -> Recipe:
    if asked.source_prefix != AUTO:
        return Recipe("Marian", "marian", _given_prefix(asked, model, vocab))
    targets = sorted(t for t in vocab if _MARIAN_LANGUAGE.fullmatch(t))
    if not targets and asked.target_language == AUTO:
        return Recipe("Marian (one target language)", "marian")
    token = _target(asked, vocab, ">>{}<<", "ara")
    if token not in vocab:
        knows = f"it knows {_some(targets)}" if targets else "it translates into one language"
        raise ModelError(
            f"translator.model: {model}: has no token {token} for the target language ({knows}); "
            "set translator.target_language to one of its codes, or translator.source_prefix"
        )
    return Recipe("Marian (several target languages)", "marian", f"{token} ")


def _coded(
    asked: Asked, model: str, vocab: set[str], family: str, kind: str, codes: tuple[str, str]
) -> Recipe:
    """A family that marks the source language on the tokenizer and forces the target's."""
    source = codes[0] if asked.source_language == AUTO else asked.source_language
    target = codes[1] if asked.target_language == AUTO else asked.target_language
    _need(source, vocab, model, "translator.source_language", f"{family}'s are like {codes[0]}")
    _need(target, vocab, model, "translator.target_language", f"{family}'s are like {codes[1]}")
    return Recipe(family, kind, _given_prefix(asked, model, vocab), source, target)


def _t5_translator(asked: Asked, model: str, vocab: set[str], kind: str) -> Recipe:
    if asked.source_prefix != AUTO:
        return Recipe("T5", kind, _given_prefix(asked, model, vocab))
    if not any(_MADLAD_LANGUAGE.fullmatch(t) for t in vocab):
        raise ModelError(
            f"translator.model: {model}: a {kind} model without MADLAD-400's <2xx> language "
            "tokens; set translator.source_prefix to the task prefix it was trained with "
            "(such as 'translate English to Arabic:')"
        )
    token = _target(asked, vocab, "<2{}>", "ar")
    _need(token, vocab, model, "translator.target_language", "MADLAD's are like ar")
    return Recipe("T5 (MADLAD-400)", kind, f"{token} ")


def _target(asked: Asked, vocab: set[str], form: str, default: str) -> str:
    """The target-language token: the family's ``form`` of the code the settings give (or of
    ``default``); a setting that is itself a token of the vocabulary is taken as it is."""
    given = asked.target_language
    if given == AUTO:
        return form.format(default)
    return given if given in vocab else form.format(given)


def _need(token: str, vocab: set[str], model: str, key: str, codes: str) -> None:
    if token not in vocab:
        side = key.removeprefix("translator.").removesuffix("_language")
        raise ModelError(
            f"translator.model: {model}: its tokenizer has no token {token!r} for the {side} "
            f"language; set {key} to a language it has ({codes})"
        )


def _given_prefix(asked: Asked, model: str, vocab: set[str]) -> str:
    """The translator's prefix as the settings give it ("" where they leave it to the family),
    each language token in it one token of the model's vocabulary: one the tokenizer would
    split into pieces asks for no language at all."""
    if asked.source_prefix == AUTO:
        return ""
    for token in _LANGUAGE_TOKEN.findall(asked.source_prefix):
        if token not in vocab:
            known = sorted(t for t in vocab if _LANGUAGE_TOKEN.fullmatch(t))
            knows = f" (it knows {_some(known)})" if known else ""
            raise ModelError(
                f"translator.model: {model}: translator.source_prefix = "
                f"{asked.source_prefix!r}: {token!r} is not a token of its vocabulary{knows}, "
                'so no language would be asked for; set it to one that is, or to "auto"'
            )
    return _spaced(asked.source_prefix)


def _spaced(prefix: str) -> str:
    """A prefix as written in the settings (``>>ara<<``, ``summarize:``) is separated from the
    text by a space."""
    return f"{prefix} " if prefix and not prefix.endswith(" ") else prefix


def _vocabulary(tokenizer: Any) -> set[str]:
    try:
        return set(tokenizer.get_vocab())
    except (AttributeError, NotImplementedError, TypeError):
        return set()


def _a_model(kind: str) -> str:
    return f"a {kind} model" if kind else "a model without a model_type"


def _some(items: list[str], most: int = 8) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def resolve_backend(
    backend: str, model: str, revision: str, device: str = AUTO, *, fetch: bool = False
) -> str:
    """The engine ``backend = "auto"`` means for ``model`` on ``device`` (runtime.device):
    CTranslate2 where it is installed, runs on the device and converts the model's family,
    else transformers. Any other backend is itself.

    Reads the model's config.json (a local directory, or the Hugging Face cache) without a
    model library; a model not found there counts as converted where CTranslate2 is
    installed. Loading passes ``fetch`` (its config.json is then downloaded first), so an LED
    model named by hub id before it is downloaded still loads with transformers.
    """
    if backend != AUTO:
        return backend
    return auto_backend(model, revision, device, fetch=fetch)[0]


def auto_backend(
    model: str, revision: str, device: str = AUTO, *, fetch: bool = False
) -> tuple[str, str]:
    """The engine ``backend = "auto"`` picks for ``model`` on ``device``, and why (for the
    load log)."""
    if importlib.util.find_spec("ctranslate2") is None:
        return "transformers", "ctranslate2 is not installed"
    if device == "mps":
        return "transformers", "CTranslate2 does not run on runtime.device = 'mps'"
    kind = model_type(model, revision, fetch=fetch)
    if kind is None:
        return "ctranslate2", "its config.json cannot be read yet"
    if kind in CT2_CONVERTS:
        return "ctranslate2", f"CTranslate2 converts {kind} models"
    return "transformers", f"CTranslate2 does not convert {kind} models"


def model_type(model: str, revision: str, *, fetch: bool = False) -> str | None:
    """The ``model_type`` in ``model``'s config.json, or None where it cannot be read here
    (with ``fetch``, a hub model's config.json is downloaded unless HF_HUB_OFFLINE is set)."""
    path = _config_file(model, revision, fetch)
    if path is None:
        return None
    try:
        data = jsontext.read_file(path, max_bytes=MODEL_JSON_MAX_BYTES)
    except FileNotFoundError:  # loading the model says what the folder lacks
        return None
    except (OSError, jsontext.JsonError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        log.warning("%s: cannot read the model's type (%s)", display_name(path), why)
        return None
    kind = data.get("model_type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _config_file(model: str, revision: str, fetch: bool) -> Path | None:
    directory = Path(model).expanduser()
    if directory.is_dir():
        return directory / "config.json"
    try:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(model, "config.json", revision=revision)
        if not isinstance(found, str) and fetch:
            found = hf_hub_download(model, "config.json", revision=revision)
    except Exception:  # an id the hub would refuse, no network: loading says why
        return None
    return Path(found) if isinstance(found, str) else None
