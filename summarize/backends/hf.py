"""The Hugging Face transformers backend: seq2seq and instruction models, via the Auto classes.

An instruction model (decoder-only, see summarize.backends.chat) gets its prompts padded on the
left, and only its reply is decoded.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

from summarize.backends import GenerateOptions, Generation, LoadSpec, chat
from summarize.backends.huggingface import (
    apply_recipe,
    asked,
    check_local_path,
    input_limit,
    load_advice,
    output_limit,
    token_counts,
)
from summarize.cores import engine_threads
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
    """A tokenizer and a seq2seq (or instruction) model, on one device, in one dtype."""

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
        self.context_tokens = 0
        if recipe.chat:  # prompt and reply share the model's positions
            self.context_tokens = chat.context_limit(tokenizer, model.config)
            self.max_input_tokens = self.max_output_tokens = self.context_tokens
            # A batch's prompts end where the replies begin: padding goes before them.
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
        self.forced_token = apply_recipe(tokenizer, recipe)
        self.window = _attention_window(model.config)

    @classmethod
    def load(cls, spec: LoadSpec) -> TransformersBackend:
        """Load ``spec.model`` in ``spec.dtype`` (``spec.quantization`` is CTranslate2's)."""
        import torch
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForSeq2SeqLM,
            AutoTokenizer,
        )
        from transformers.utils import logging as hf_logging

        # Our own progress bar covers the run; the library's per-load bars would interleave.
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        model_id, revision, role = spec.model, spec.revision, spec.role
        device = resolve_device(spec.device)
        dtype = resolve_dtype(spec.dtype, device)
        # 0 (a spec made by hand) is this process's share too: all cores fight under make -j
        torch.set_num_threads(engine_threads(spec.threads))
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
        auto_class: Any = AutoModelForCausalLM if found.chat else AutoModelForSeq2SeqLM
        try:
            model = auto_class.from_pretrained(
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

    def for_role(self, spec: LoadSpec) -> TransformersBackend | None:
        """This engine for the role of ``spec`` (see chat.retold), where an instruction model
        can serve both; None for the other families, each asked one way for one job."""
        return chat.retold(self, spec) if self.recipe.chat else None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self.recipe.chat:
            return [len(ids) for ids in chat.prompt_ids(self.tokenizer, self.recipe, texts)]
        return token_counts(self.tokenizer, [self.recipe.prefix + t for t in texts])

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        import torch

        if not texts:
            return []
        if self.recipe.chat:
            return self._reply(texts, options)
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

    def _reply(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        """An instruction model's replies: the prompts left-padded, so that every row's reply
        starts at the same column, and only the tokens after the prompts decoded."""
        import torch

        prompts = chat.rendered(self.tokenizer, self.recipe, texts)
        batch = self.tokenizer(
            prompts, return_tensors="pt", padding=True, add_special_tokens=False, verbose=False
        ).to(self.device)
        start = batch["input_ids"].shape[1]
        with torch.inference_mode():
            output = self.model.generate(
                **batch,
                generation_config=self._config_for(options),
                logits_processor=_reply_penalties(options, start),
            )
        replies = output[:, start:].tolist()
        ends = set(chat.end_ids(self.model.generation_config, self.tokenizer))
        decoded = self.tokenizer.batch_decode(replies, skip_special_tokens=True)
        return [
            Generation(
                chat.reply(self.recipe.finish(text), source),
                # Cut: it used all its new tokens without ending its turn.
                hit_limit=len(row) >= options.max_new_tokens and not ends.intersection(row),
            )
            for text, row, source in zip(decoded, replies, texts, strict=True)
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
        if self.recipe.chat:
            _decode_replies(config, options, self.tokenizer)
        return config


def _decode_replies(config: Any, options: GenerateOptions, tokenizer: Any) -> None:
    """An instruction model's generation config, set for deterministic replies.

    Its own samples (Qwen2.5-Instruct ships temperature 0.7, top_p 0.8, top_k 20 and a
    repetition penalty): greedy or beam search alone keeps a rerun, and an article's batch
    mates, from changing its output, so the sampling settings go back to their neutral values
    (which also keeps transformers from warning that they are unused). Its prompt is part of
    the sequence, so the minimum length counts new tokens only.
    """
    config.min_length = 0
    config.min_new_tokens = options.min_new_tokens or None
    # Applied to the reply alone instead (see _reply_penalties).
    config.no_repeat_ngram_size, config.repetition_penalty = 0, 1.0
    config.temperature, config.top_p, config.top_k = 1.0, 1.0, 50
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id


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


def _reply_penalties(options: GenerateOptions, start: int) -> Any:
    """The repeat penalties of ``options`` over the reply alone (from column ``start``).

    transformers applies them to the whole sequence, and a decoder-only model's sequence holds
    its prompt: a summary could then repeat no three words of its article, and a row's penalty
    would depend on its padding. CTranslate2 penalises the reply alone.
    """
    from transformers import (
        LogitsProcessor,
        LogitsProcessorList,
        NoRepeatNGramLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
    )

    class ReplyOnly(LogitsProcessor):
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            return self.inner(input_ids[:, start:], scores)

    processors = []
    if options.no_repeat_ngram_size:
        processors.append(ReplyOnly(NoRepeatNGramLogitsProcessor(options.no_repeat_ngram_size)))
    if options.repetition_penalty != 1.0:
        processors.append(ReplyOnly(RepetitionPenaltyLogitsProcessor(options.repetition_penalty)))
    return LogitsProcessorList(processors)
