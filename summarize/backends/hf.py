"""The Hugging Face transformers backend: any seq2seq model loadable with the Auto classes."""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarize.backends import GenerateOptions, Generation
from summarize.errors import ModelError

if TYPE_CHECKING:
    from summarize.config import RuntimeSettings

log = logging.getLogger(__name__)

# Tokenizers report a huge sentinel when a model declares no limit.
_NO_LIMIT = 1_000_000
# Enough for the hub to answer a HEAD request on a slow link; a blocked one fails sooner.
_PROBE_SECONDS = 10.0


def resolve_device(requested: str) -> str:
    """``auto`` picks CUDA, then MPS, then the CPU; an explicit device must exist."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError(
                f"runtime.device = {requested!r}, but torch sees no CUDA device "
                f"(torch {torch.__version__}); use runtime.device = 'auto' or 'cpu'"
            )
        index = int(requested.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ModelError(
                f"runtime.device = {requested!r}, but only {torch.cuda.device_count()} "
                "CUDA device(s) exist"
            )
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ModelError("runtime.device = 'mps', but MPS is not available; use 'auto' or 'cpu'")
    return requested


def resolve_dtype(requested: str, device: str) -> str:
    """``auto`` is float32 on the CPU, bfloat16 on a GPU that supports it, float16 otherwise."""
    import torch

    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device == "mps":
        return "float16"
    return "float32"


class TransformersBackend:
    """A tokenizer and a seq2seq model, on one device, in one dtype."""

    def __init__(self, model_id: str, tokenizer: Any, model: Any, device: str, dtype: str):
        self.model_id = model_id
        self.tokenizer = tokenizer
        self.model = model
        self.device = device
        self.dtype = dtype
        self.max_input_tokens = _model_input_limit(tokenizer, model)
        self.max_output_tokens = model_output_limit(model.config)

    @classmethod
    def load(
        cls,
        model_id: str,
        revision: str,
        runtime: RuntimeSettings,
        *,
        role: str,
        quantization: str = "auto",  # CTranslate2's setting; torch runs in runtime.dtype
    ) -> TransformersBackend:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # Our own progress bar covers the run; the library's per-load bars would interleave.
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        device = resolve_device(runtime.device)
        dtype = resolve_dtype(runtime.dtype, device)
        if runtime.threads:
            torch.set_num_threads(runtime.threads)
        check_local_path(model_id, role)
        log.info("loading %s %s@%s on %s as %s", role, model_id, revision, device, dtype)
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                model_id, revision=revision, trust_remote_code=False
            )
            model = AutoModelForSeq2SeqLM.from_pretrained(
                model_id,
                revision=revision,
                dtype=getattr(torch, dtype),
                trust_remote_code=False,
            )
        except Exception as exc:  # transformers raises OSError, ValueError, hub errors...
            raise ModelError(load_advice(role, model_id, exc)) from exc
        model.to(device)
        model.eval()
        return cls(model_id, tokenizer, model, device, dtype)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return token_counts(self.tokenizer, texts)

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        import torch

        if not texts:
            return []
        batch = self.tokenizer(list(texts), return_tensors="pt", padding=True, verbose=False)
        batch = batch.to(self.device)
        with torch.inference_mode():
            output = self.model.generate(**batch, generation_config=self._config_for(options))
        texts_out = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        # output[:, 0] is the decoder start token. Models such as BART force EOS at the length
        # limit, so a cut output is one that used all its new tokens, EOS or not.
        lengths = [_generated_length(row[1:].tolist(), eos_ids) for row in output]
        return [
            Generation(text.strip(), hit_limit=length >= options.max_new_tokens)
            for text, length in zip(texts_out, lengths, strict=True)
        ]

    def _config_for(self, options: GenerateOptions) -> Any:
        config = copy.deepcopy(self.model.generation_config)
        # The model's own length settings (e.g. distilbart's min_length=56) would otherwise
        # combine with ours; ours follow the input, so they alone decide.
        config.max_length = None
        config.max_new_tokens = options.max_new_tokens
        # As min_length, not min_new_tokens: transformers warns on every call when the model
        # config has a min_length and min_new_tokens is set. The +1 is the decoder start token.
        config.min_length = options.min_new_tokens + 1 if options.min_new_tokens else 0
        config.min_new_tokens = None
        config.num_beams = options.num_beams
        config.early_stopping = options.num_beams > 1
        config.no_repeat_ngram_size = options.no_repeat_ngram_size
        config.length_penalty = options.length_penalty
        config.repetition_penalty = options.repetition_penalty
        config.do_sample = False
        return config


def token_counts(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Input length of each text under a Hugging Face tokenizer, special tokens included."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), add_special_tokens=True, verbose=False)
    return [len(ids) for ids in encoded["input_ids"]]


def _generated_length(tokens: list[int], eos_ids: set[int]) -> int:
    for index, token in enumerate(tokens):
        if token in eos_ids:
            return index + 1
    return len(tokens)


def _model_input_limit(tokenizer: Any, model: Any) -> int:
    limits = [
        getattr(model.config, "max_position_embeddings", None),
        getattr(tokenizer, "model_max_length", None),
    ]
    usable = [int(n) for n in limits if isinstance(n, int) and 0 < n < _NO_LIMIT]
    return min(usable) if usable else _NO_LIMIT


def model_output_limit(config: Any) -> int:
    """New tokens the decoder has positions for; asking for more fails with an IndexError
    (transformers) or "no position encodings" (CTranslate2) on the step past the last."""
    for name in ("max_target_positions", "max_position_embeddings"):
        limit = getattr(config, name, None)
        if isinstance(limit, int) and 0 < limit < _NO_LIMIT:
            return limit
    return _NO_LIMIT


def check_local_path(model_id: str, role: str) -> None:
    if _names_directory(model_id) and not Path(model_id).expanduser().is_dir():
        raise ModelError(f"{role}.model: {_missing_reason(model_id)}")


def hub_offline() -> bool:
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
        return _first_line(exc)
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
    echo = " ".join(
        f"--set {role}.backend=echo --set {role}.model=echo"
        for role in ("summarizer", "translator")
    )
    online = ["  - or, if this machine has network, unset HF_HUB_OFFLINE to download them"]
    return [
        "Ways out:",
        "  - on a machine with network, run `summarize download --to DIR`, copy DIR here and "
        "use the --set lines it prints",
        f"  - or point the model(s) at local model directories: {point}",
        *(cache if hub else []),
        *(online if hub_offline() else []),
        f"  - or try the tool without models (it copies the text): {echo}",
    ]


def load_advice(role: str, model_id: str, exc: Exception) -> str:
    reason = _first_line(exc)
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


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
