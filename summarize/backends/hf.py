"""The Hugging Face transformers backend: any seq2seq model loadable with the Auto classes."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

from summarize.backends import GenerateOptions, Generation, LoadSpec
from summarize.backends.huggingface import (
    apply_recipe,
    asked,
    check_local_path,
    input_limit,
    load_advice,
    output_limit,
    token_counts,
)
from summarize.errors import ModelError
from summarize.families import Recipe, recipe

log = logging.getLogger(__name__)


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

    engine = "transformers"

    def __init__(
        self, model_id: str, tokenizer: Any, model: Any, device: str, dtype: str, recipe: Recipe
    ):
        self.model_id = model_id
        self.tokenizer = tokenizer
        self.model = model
        self.device = device
        self.dtype = dtype
        self.recipe = recipe
        self.family = recipe.describe()
        self.max_input_tokens = input_limit(tokenizer, model.config)
        self.max_output_tokens = output_limit(tokenizer, model.config)
        self.forced_token = apply_recipe(tokenizer, recipe)
        self.window = _attention_window(model.config)

    @classmethod
    def load(cls, spec: LoadSpec) -> TransformersBackend:
        """Load ``spec.model`` in ``spec.dtype`` (``spec.quantization`` is CTranslate2's)."""
        import torch
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # Our own progress bar covers the run; the library's per-load bars would interleave.
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        model_id, revision, role = spec.model, spec.revision, spec.role
        device = resolve_device(spec.device)
        dtype = resolve_dtype(spec.dtype, device)
        if spec.threads:
            torch.set_num_threads(spec.threads)
        check_local_path(model_id, role)
        log.info("loading %s %s@%s on %s as %s", role, model_id, revision, device, dtype)
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                model_id, revision=revision, trust_remote_code=False
            )
            config = AutoConfig.from_pretrained(
                model_id, revision=revision, trust_remote_code=False
            )
        except Exception as exc:  # transformers raises OSError, ValueError, hub errors...
            raise ModelError(load_advice(role, model_id, exc)) from exc
        # Before the weights: a model that cannot be asked for its job fails at once.
        found = recipe(asked(spec), model_id, config, tokenizer)
        log.info("%s: %s", role, found.describe())
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(
                model_id,
                revision=revision,
                dtype=getattr(torch, dtype),
                trust_remote_code=False,
            )
        except Exception as exc:
            raise ModelError(load_advice(role, model_id, exc)) from exc
        model.to(device)
        model.eval()
        return cls(model_id, tokenizer, model, device, dtype, found)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return token_counts(self.tokenizer, [self.recipe.prefix + t for t in texts])

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        import torch

        if not texts:
            return []
        sent = [self.recipe.prefix + t for t in texts]
        batch = self.tokenizer(
            sent,
            return_tensors="pt",
            padding=True,
            # LED pads its input to this multiple itself, with a warning per new length.
            pad_to_multiple_of=self.window,
            verbose=False,
        )
        if self.recipe.global_attention:  # LED: the first token attends to all, as trained
            batch["global_attention_mask"] = torch.zeros_like(batch["attention_mask"])
            batch["global_attention_mask"][:, 0] = 1
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
            Generation(self.recipe.finish(text), hit_limit=length >= options.max_new_tokens)
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
        if self.forced_token is not None:  # the target language, first of every output
            config.forced_bos_token_id = self.forced_token
        return config


def _attention_window(config: Any) -> int | None:
    """The local attention window a Longformer-style encoder (LED) pads its input to."""
    window = getattr(config, "attention_window", None)
    if isinstance(window, list | tuple):
        window = max(window, default=None)
    return window if isinstance(window, int) and window > 1 else None


def _generated_length(tokens: list[int], eos_ids: set[int]) -> int:
    for index, token in enumerate(tokens):
        if token in eos_ids:
            return index + 1
    return len(tokens)
