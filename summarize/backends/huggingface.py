"""What the backends of Hugging Face models share: finding a model, its limits, load errors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from summarize.backends import LoadSpec
from summarize.errors import ModelError
from summarize.families import Asked, Recipe

# Tokenizers report a huge sentinel when a model declares no limit.
_NO_LIMIT = 1_000_000
#: The limit of a model with relative positions (T5, MADLAD-400) whose tokenizer declares
#: none: the input length T5 and its descendants were trained on. Longer inputs would run,
#: at a quadratic cost and with outputs the model was never trained to give.
RELATIVE_POSITIONS = 512
# Enough for the hub to answer a HEAD request on a slow link; a blocked one fails sooner.
_PROBE_SECONDS = 10.0


def token_counts(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Input length of each text under a Hugging Face tokenizer, special tokens included."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), add_special_tokens=True, verbose=False)
    return [len(ids) for ids in encoded["input_ids"]]


def asked(spec: LoadSpec) -> Asked:
    """What the settings behind ``spec`` ask of the model's family."""
    return Asked(
        spec.role, spec.source_prefix, spec.source_language, spec.target_language, spec.prompt
    )


def apply_recipe(tokenizer: Any, recipe: Recipe) -> int | None:
    """Set the source language on ``tokenizer`` (it then marks every input with it); the id of
    the token every output must start with, or None."""
    if recipe.source_language is not None:
        tokenizer.src_lang = recipe.source_language
    if recipe.target_token is None:
        return None
    return int(tokenizer.convert_tokens_to_ids(recipe.target_token))


def input_limit(tokenizer: Any, config: Any) -> int:
    """Input tokens the model (``config``) and its tokenizer both accept.

    The encoder's positions (``max_encoder_position_embeddings`` for LED, else
    ``max_position_embeddings``) and the tokenizer's ``model_max_length``; a model with
    relative positions (T5, MADLAD) declares none, and then the tokenizer's limit, else
    :data:`RELATIVE_POSITIONS`, bounds it.
    """
    found = [
        _declared(config, "max_encoder_position_embeddings", "max_position_embeddings"),
        _declared(tokenizer, "model_max_length"),
    ]
    usable = [n for n in found if n is not None]
    return min(usable) if usable else RELATIVE_POSITIONS


def output_limit(tokenizer: Any, config: Any) -> int:
    """New tokens the decoder has positions for; asking for more fails with an IndexError
    (transformers) or "no position encodings" (CTranslate2) on the step past the last. A
    decoder with relative positions (T5) has none: the tokenizer's limit, else
    :data:`RELATIVE_POSITIONS`, keeps its outputs to the lengths it was trained on."""
    names = ("max_decoder_position_embeddings", "max_target_positions", "max_position_embeddings")
    declared = _declared(config, *names)
    if declared is not None:
        return declared
    return _declared(tokenizer, "model_max_length") or RELATIVE_POSITIONS


def _declared(holder: Any, *names: str) -> int | None:
    """The first of ``names`` that ``holder`` sets to a real limit (not a no-limit sentinel)."""
    for name in names:
        limit = getattr(holder, name, None)
        if isinstance(limit, int) and 0 < limit < _NO_LIMIT:
            return limit
    return None


def check_local_path(model_id: str, role: str) -> None:
    """A model named as a directory must be one."""
    if _names_directory(model_id) and not Path(model_id).expanduser().is_dir():
        raise ModelError(f"{role}.model: {_missing_reason(model_id)}")


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE tells the Hugging Face libraries to stay off the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def check_models_available(models: Sequence[tuple[str, str, str]]) -> None:
    """Before loading anything: every ``(role, model, revision)`` is a directory or in the cache.

    When the hub may be reachable (no HF_HUB_OFFLINE), a model missing from the cache is left
    to download, unless one quick request shows that the hub cannot be reached: then this
    fails at once, instead of after huggingface_hub's retries (about 50 s and 22 log lines).
    Raises ModelError naming every missing model and each way out.
    """
    missing = [
        (role, model, revision) for role, model, revision in models if _missing(model, revision)
    ]
    if not missing:
        return
    hub = [m for m in missing if not _names_directory(m[1])]
    if hub and not hub_offline():
        unreachable = _hub_unreachable()
        if unreachable is None:
            return  # the hub answers: loading downloads what is missing
        why = f"the hub cannot be reached ({unreachable})"
    else:
        why = "HF_HUB_OFFLINE is set, so only the local cache is searched"
    raise ModelError(_missing_message(missing, why))


def _names_directory(model_id: str) -> bool:
    return model_id.startswith(("/", "./", "../", "~")) or Path(model_id).expanduser().is_dir()


def _missing(model_id: str, revision: str) -> bool:
    if _names_directory(model_id):
        return not Path(model_id).expanduser().is_dir()
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(model_id, "config.json", revision=revision)
    except Exception:  # e.g. an id the hub would refuse; loading will say why
        return False
    return not isinstance(found, str)


def _missing_reason(model_id: str) -> str:
    return (
        f"{model_id}: no such directory; point it at a directory saved with save_pretrained "
        "(config.json, tokenizer files, weights) or at a hub id"
    )


def _hub_unreachable() -> str | None:
    """Why the hub cannot be reached, or None if it answers; one request, no retries."""
    from huggingface_hub import constants, get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=_PROBE_SECONDS)
    except Exception as exc:  # connection, DNS, proxy and timeout errors of the HTTP client
        return first_line(exc)
    return None


def _missing_message(missing: Sequence[tuple[str, str, str]], why: str) -> str:
    from huggingface_hub import constants

    lines = [f"{len(missing)} model(s) cannot be loaded: {why}:"]
    for role, model, revision in missing:
        if _names_directory(model):
            lines.append(f"  {role}.model: {_missing_reason(model)}")
        else:
            lines.append(
                f"  {role}.model: {model} (revision {revision}) is not in the Hugging Face "
                f"cache ({constants.HF_HUB_CACHE})"
            )
    return "\n".join([*lines, *_ways_out([(role, model) for role, model, _ in missing])])


def _ways_out(missing: Sequence[tuple[str, str]]) -> list[str]:
    """What the user can do about the ``(role, model)`` pairs that cannot be loaded."""
    point = " ".join(f"--set {role}.model=DIR" for role, _ in missing)
    hub = " && ".join(f"hf download {model}" for _, model in missing if not _names_directory(model))
    cache = [f"  - or run `{hub}` there and copy its Hugging Face cache here (see HF_HOME)"]
    online = ["  - or, if this machine has network, unset HF_HUB_OFFLINE to download them"]
    return [
        "Ways out:",
        "  - on a machine with network, run `summarize download --to DIR`, copy DIR here and "
        "use the --set lines it prints",
        f"  - or point the model(s) at local model directories: {point}",
        *(cache if hub else []),
        *(online if hub_offline() else []),
        # Not the echo engine: its copies of the English fail the script and identical checks.
        "  - or try the whole pipeline offline, without models: `summarize demo [PATH ...]` "
        "(copies the articles into summarize-demo/; every output labelled as demo output)",
    ]


def load_advice(role: str, model_id: str, exc: Exception) -> str:
    """Why ``model_id`` could not be loaded, and the ways out."""
    reason = first_line(exc)
    if Path(model_id).expanduser().is_dir():
        return (
            f"{role}.model: {model_id}: cannot load a tokenizer and seq2seq model from this "
            f"directory ({reason})"
        )
    where = (
        "HF_HUB_OFFLINE is set, so only the local cache is searched"
        if hub_offline()
        else "it is not (wholly) in the local cache and the hub could not be reached"
    )
    return "\n".join(
        [
            f"{role}.model: cannot load {model_id!r}: {where} ({reason})",
            *_ways_out([(role, model_id)]),
        ]
    )


def first_line(exc: Exception) -> str:
    """The first line of an exception's message, or its class name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
