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
    path = Path(model_id).expanduser()
    if model_id.startswith(("/", "./", "../", "~")) and not path.is_dir():
        raise ModelError(
            f"{role}.model: {model_id}: no such directory; point {role}.model at a directory "
            "saved with save_pretrained (config.json, tokenizer files, weights) or at a hub id"
        )


def load_advice(role: str, model_id: str, exc: Exception) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if Path(model_id).expanduser().is_dir():
        return (
            f"{role}.model: {model_id}: cannot load a tokenizer and seq2seq model from this "
            f"directory ({reason})"
        )
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    where = (
        "HF_HUB_OFFLINE is set, so only the local cache is searched"
        if offline
        else "it is not in the local cache and the hub could not be reached"
    )
    return (
        f"{role}.model: cannot load {model_id!r}: {where} ({reason}). Download it on a "
        f"connected machine (`hf download {model_id}`) and copy the cache, point {role}.model "
        "at a local model directory"
        + ("" if not offline else ", or unset HF_HUB_OFFLINE if this machine has network")
    )
