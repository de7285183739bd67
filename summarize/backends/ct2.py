"""The CTranslate2 backend: a Hugging Face model, converted once, run quantized and fast.

A seq2seq model runs on CTranslate2's Translator, a decoder-only instruction model on its
Generator, with prompts made by the model's own chat template (see summarize.backends.chat).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from summarize import jsontext
from summarize.backends import BatchRequest, GenerateOptions, Generation, LoadSpec, chat
from summarize.backends.ct2_cache import converted_model
from summarize.backends.huggingface import (
    apply_recipe,
    asked,
    check_local_path,
    first_line,
    input_limit,
    load_advice,
    output_limit,
    token_counts,
)
from summarize.cores import engine_threads
from summarize.discovery import display_name
from summarize.errors import ModelError
from summarize.families import Recipe, recipe

__all__ = [
    "INSTALL",
    "CTranslate2Backend",
    "CTranslate2Generator",
    "convert",
    "resolve_device",
    "resolve_quantization",
    "thread_budget",
]

log = logging.getLogger(__name__)

# A required dependency: missing only from an install that skipped dependencies.
INSTALL = "pip install 'ctranslate2>=4'"


class _Converted:
    """What both engines hold: the model's own tokenizer in front of its conversion, run by a
    CTranslate2 Translator or Generator (``runner``)."""

    engine = "ctranslate2"

    def __init__(
        self,
        model_id: str,
        tokenizer: Any,
        runner: Any,
        *,
        device: str,
        suppress: list[list[str]],
        recipe: Recipe,
    ) -> None:
        self.model_id = model_id
        self.recipe = recipe
        self.family = recipe.describe()
        self.tokenizer = tokenizer
        self.device = device
        self.dtype = str(runner.compute_type)
        self.suppress = suppress
        # Parallel workers on the CPU (see _threading): a batch is split so each gets a share.
        workers: int = getattr(runner, "num_translators", 0) or getattr(runner, "num_generators", 1)
        self.workers = workers if device == "cpu" else 1


class CTranslate2Backend(_Converted):
    """The model's own tokenizer in front of a CTranslate2 translator converted from it."""

    def __init__(
        self,
        model_id: str,
        tokenizer: Any,
        translator: Any,
        *,
        device: str,
        max_input_tokens: int,
        max_output_tokens: int,
        target_prefix: list[str],
        suppress: list[list[str]],
        recipe: Recipe,
    ) -> None:
        super().__init__(
            model_id, tokenizer, translator, device=device, suppress=suppress, recipe=recipe
        )
        self.translator = translator
        self.max_input_tokens = max_input_tokens
        self.max_output_tokens = max_output_tokens
        self.target_prefix = target_prefix
        self.context_tokens = 0  # an encoder's input and a decoder's output: positions of their own

    @classmethod
    def load(cls, spec: LoadSpec) -> CTranslate2Backend | CTranslate2Generator:
        """Load the conversion of ``spec.model`` (converting it first if need be): a
        translator, or for an instruction model a generator."""
        ctranslate2, device, index, compute_type = _placement(spec)
        model_id, revision, role = spec.model, spec.revision, spec.role
        tokenizer, config, generation = _load_hf_parts(model_id, revision, role)
        found = recipe(asked(spec), model_id, config, tokenizer)
        if not found.converts:
            raise ModelError(
                f"{role}.model: {model_id}: CTranslate2 does not convert {found.family} models "
                f"({found.model_type}); set {role}.backend = 'auto' or 'transformers'"
            )
        log.info("%s: %s", role, found.describe())
        forced = apply_recipe(tokenizer, found)
        path = converted_model(model_id, revision, compute_type, role=role)
        log.info("loading %s %s from %s on %s as %s", role, model_id, path, device, compute_type)
        vocabulary = _target_vocabulary(path)
        # A decoder-only instruction model runs on CTranslate2's Generator, the rest on its
        # Translator; both load the same way.
        engine_class = ctranslate2.Generator if found.chat else ctranslate2.Translator
        try:
            engine = engine_class(
                str(path),
                device=device,
                device_index=index,
                compute_type=compute_type,
                **_threading(device, spec.threads),
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelError(
                f"{role}.model: {model_id}: cannot load its CTranslate2 conversion in {path} "
                f"({first_line(exc)}); delete that directory to convert the model again"
            ) from exc
        placed = device if device == "cpu" else f"cuda:{index}"
        if found.chat:
            return CTranslate2Generator(
                model_id,
                tokenizer,
                engine,
                device=placed,
                context=chat.context_limit(tokenizer, config),
                ends=tokenizer.convert_ids_to_tokens(chat.end_ids(generation, tokenizer)),
                suppress=_suppressed(tokenizer, generation, vocabulary),
                recipe=found,
            )
        return cls(
            model_id,
            tokenizer,
            engine,
            device=placed,
            max_input_tokens=input_limit(tokenizer, config),
            max_output_tokens=output_limit(tokenizer, config),
            # The family's target-language token, else the model's own forced first token.
            target_prefix=[found.target_token]
            if forced is not None and found.target_token is not None
            else _forced_prefix(tokenizer, generation),
            suppress=_suppressed(tokenizer, generation, vocabulary),
            recipe=found,
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return token_counts(self.tokenizer, [self.recipe.prefix + t for t in texts])

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        if not texts:
            return []
        pending = self._submit(texts, options, math.ceil(len(texts) / self.workers))
        return self._finished(pending, options)

    def generate_batches(
        self, batches: Sequence[BatchRequest]
    ) -> list[list[Generation] | Exception]:
        """Every batch queued at once, so that each worker takes one while the others decode
        theirs; a batch of more rows than an even share of the wave's is split, so that a
        wave of one large batch still keeps every worker busy. Each row is decoded with its
        batch's options alone, so its output does not depend on the others."""
        rows = math.ceil(sum(len(texts) for texts, _ in batches) / self.workers)
        queued: list[list[Any] | Exception] = []
        for texts, options in batches:
            try:
                queued.append(self._submit(texts, options, rows) if texts else [])
            except Exception as exc:  # this batch's own (e.g. an option it refuses)
                queued.append(exc)
        outcomes: list[list[Generation] | Exception] = []
        for pending, (_, options) in zip(queued, batches, strict=True):
            if isinstance(pending, Exception):
                outcomes.append(pending)
                continue
            try:
                outcomes.append(self._finished(pending, options))
            except Exception as exc:  # raised in the engine for this batch alone
                outcomes.append(exc)
        return outcomes

    def _submit(self, texts: Sequence[str], options: GenerateOptions, rows: int) -> list[Any]:
        """Queue one batch on the engine's workers, in parts of at most ``rows`` rows; its
        rows' async results."""
        sent = [self.recipe.prefix + t for t in texts]
        encoded = self.tokenizer(sent, add_special_tokens=True, verbose=False)
        source = [self.tokenizer.convert_ids_to_tokens(ids) for ids in encoded["input_ids"]]
        pending: list[Any] = self.translator.translate_batch(
            source,
            # BART starts decoding from </s> and is fine-tuned to emit <s> next; transformers
            # forces that (forced_bos_token_id) and we do it with a target prefix, which counts
            # towards the length limits just as the forced token does there.
            target_prefix=[self.target_prefix] * len(source) if self.target_prefix else None,
            beam_size=options.num_beams,
            max_decoding_length=options.max_new_tokens,
            min_decoding_length=options.min_new_tokens,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            length_penalty=options.length_penalty,
            repetition_penalty=options.repetition_penalty,
            suppress_sequences=self.suppress or None,
            max_batch_size=rows,
            # With the end token in the output, a hypothesis without it is one that was cut.
            return_end_token=True,
            # The pipeline has already fitted every input to the model; never cut one silently.
            max_input_length=0,
            asynchronous=True,
        )
        return pending

    def _finished(self, pending: list[Any], options: GenerateOptions) -> list[Generation]:
        """A queued batch's outputs, once its workers are done; raises what the engine did."""
        eos = self.tokenizer.eos_token
        hypotheses = [result.result().hypotheses[0] for result in pending]
        decoded = self.tokenizer.batch_decode(
            [self.tokenizer.convert_tokens_to_ids(tokens) for tokens in hypotheses],
            skip_special_tokens=True,
        )
        return [
            Generation(
                self.recipe.finish(text),
                hit_limit=len(tokens) >= options.max_new_tokens and tokens[-1] != eos,
            )
            for text, tokens in zip(decoded, hypotheses, strict=True)
        ]


class CTranslate2Generator(_Converted):
    """An instruction model's tokenizer and chat template in front of a CTranslate2
    generator converted from it."""

    def __init__(
        self,
        model_id: str,
        tokenizer: Any,
        generator: Any,
        *,
        device: str,
        context: int,
        ends: list[str],
        suppress: list[list[str]],
        recipe: Recipe,
    ) -> None:
        super().__init__(
            model_id, tokenizer, generator, device=device, suppress=suppress, recipe=recipe
        )
        self.generator = generator
        # Prompt and reply share the model's positions.
        self.context_tokens = self.max_input_tokens = self.max_output_tokens = context
        self.ends = ends

    def for_role(self, spec: LoadSpec) -> CTranslate2Generator:
        """This engine for the role of ``spec``: see chat.retold."""
        return chat.retold(self, spec)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in chat.prompt_ids(self.tokenizer, self.recipe, texts)]

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        if not texts:
            return []
        prompts = [
            self.tokenizer.convert_ids_to_tokens(ids)
            for ids in chat.prompt_ids(self.tokenizer, self.recipe, texts)
        ]
        results = self.generator.generate_batch(
            prompts,
            # The prompt initialises the model's state and is left out of the result, so
            # lengths count the reply alone, as max_new_tokens does.
            include_prompt_in_result=False,
            max_length=options.max_new_tokens,
            min_length=options.min_new_tokens,
            beam_size=options.num_beams,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            length_penalty=options.length_penalty,
            repetition_penalty=options.repetition_penalty,
            suppress_sequences=self.suppress or None,
            end_token=self.ends or None,
            # With the end token in the reply, a reply without one is one that was cut.
            return_end_token=True,
            sampling_topk=1,  # never sampled: reruns and batch mates change no output
            max_batch_size=math.ceil(len(prompts) / self.workers),
        )
        replies = [list(result.sequences[0]) for result in results]
        decoded = self.tokenizer.batch_decode(
            [self.tokenizer.convert_tokens_to_ids(tokens) for tokens in replies],
            skip_special_tokens=True,
        )
        return [
            Generation(
                chat.reply(self.recipe.finish(text), source),
                hit_limit=len(tokens) >= options.max_new_tokens
                and not (tokens and tokens[-1] in self.ends),
            )
            for text, tokens, source in zip(decoded, replies, texts, strict=True)
        ]


def convert(spec: LoadSpec) -> Path:
    """The CTranslate2 conversion ``spec`` would load, converted now unless already cached."""
    _, _, _, compute_type = _placement(spec)
    return converted_model(spec.model, spec.revision, compute_type, role=spec.role)


def _placement(spec: LoadSpec) -> tuple[Any, str, int, str]:
    """The ctranslate2 module, the device and its index, and the compute type to run in."""
    try:
        import ctranslate2
    except ImportError:
        raise ModelError(
            f"{spec.role}.backend = 'ctranslate2' needs the ctranslate2 package: run "
            f"`{INSTALL}`, or set {spec.role}.backend = 'transformers'"
        ) from None
    device, index = resolve_device(spec.device, ctranslate2.get_cuda_device_count())
    supported = set(ctranslate2.get_supported_compute_types(device, index))
    compute_type = resolve_quantization(spec.quantization, device, supported, spec.role)
    check_local_path(spec.model, spec.role)
    return ctranslate2, device, index, compute_type


def thread_budget(threads: int) -> int:
    """The CPU threads an engine may use: ``runtime.threads``, or this process's share of the
    cores when it is 0 (load_spec resolves it before; a spec made by hand may not)."""
    return engine_threads(threads)


def _threading(device: str, threads: int) -> dict[str, int]:
    """One single-threaded worker per thread of the budget on the CPU: the pipeline queues a
    wave's batches together (generate_batches), so each worker decodes its own batch, or its
    share of one when the wave has fewer batches than workers. Beam search over a few rows is
    mostly small matrix products that intra-op threads do not speed up: on the benchmark's
    2 cores a one-row summary batch took 1.35 s on one thread and 1.55 s on two, while two
    such batches on two workers took 1.20 s together. On CUDA the defaults are right."""
    if device != "cpu":
        return {}
    return {"inter_threads": thread_budget(threads), "intra_threads": 1}


def resolve_device(requested: str, cuda_devices: int) -> tuple[str, int]:
    """``auto`` is CUDA when CTranslate2 sees a GPU, else the CPU; ``cuda:N`` is (cuda, N)."""
    if requested == "auto":
        return ("cuda", 0) if cuda_devices else ("cpu", 0)
    if requested == "mps":
        raise ModelError(
            "runtime.device = 'mps': CTranslate2 runs on the CPU or CUDA only; use "
            "runtime.device = 'cpu', or backend = 'transformers' for the Apple GPU"
        )
    if requested.startswith("cuda"):
        index = int(requested.partition(":")[2] or 0)
        if index >= cuda_devices:
            raise ModelError(
                f"runtime.device = {requested!r}, but CTranslate2 sees {cuda_devices} CUDA "
                "device(s) (is the installed ctranslate2 wheel built for this CUDA?); use "
                "runtime.device = 'auto' or 'cpu'"
            )
        return "cuda", index
    return "cpu", 0


def resolve_quantization(requested: str, device: str, supported: set[str], role: str) -> str:
    """``auto`` is float16 on CUDA and int8 on the CPU; an explicit type must run on ``device``."""
    if requested == "auto":
        preferred = ("float16", "int8", "float32") if device == "cuda" else ("int8", "float32")
        return next(t for t in preferred if t in supported)
    if requested not in supported:
        raise ModelError(
            f"{role}.quantization = {requested!r} does not run on this {device}; choose auto "
            f"or one of: {', '.join(sorted(supported))}"
        )
    return requested


def _load_hf_parts(model_id: str, revision: str, role: str) -> tuple[Any, Any, Any]:
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            model_id, revision=revision, trust_remote_code=False
        )
        config = AutoConfig.from_pretrained(model_id, revision=revision, trust_remote_code=False)
    except Exception as exc:  # transformers raises OSError, ValueError, hub errors...
        raise ModelError(load_advice(role, model_id, exc)) from exc
    try:
        generation = GenerationConfig.from_pretrained(model_id, revision=revision)
    except OSError:  # older checkpoints keep their generation settings in config.json
        generation = GenerationConfig.from_model_config(config)
    return tokenizer, config, generation


def _forced_prefix(tokenizer: Any, generation: Any) -> list[str]:
    forced = generation.forced_bos_token_id
    return [] if forced is None else [tokenizer.convert_ids_to_tokens(forced)]


def _suppressed(tokenizer: Any, generation: Any, vocabulary: set[str]) -> list[list[str]]:
    """The model's suppress_tokens and bad_words_ids, as CTranslate2 token sequences.

    Sequences with a token the converted vocabulary lacks (Marian's <pad> is dropped in
    conversion) are left out: CTranslate2 rejects them, and they cannot be generated anyway.
    """
    ids = [[i] for i in generation.suppress_tokens or []] + list(generation.bad_words_ids or [])
    sequences = [tokenizer.convert_ids_to_tokens(list(sequence)) for sequence in ids]
    return [s for s in sequences if s and all(token in vocabulary for token in s)]


def _target_vocabulary(path: Path) -> set[str]:
    """The converted model's target tokens (a list of strings), or an empty set (no token is
    then known to be suppressible) when the file is not one, with a warning naming it."""
    for name in ("target_vocabulary.json", "shared_vocabulary.json", "vocabulary.json"):
        if (path / name).is_file():
            try:
                tokens = jsontext.read_file(path / name)
            except (OSError, jsontext.JsonError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                log.warning("%s: cannot read the vocabulary (%s)", display_name(path / name), why)
                return set()
            return {t for t in tokens if isinstance(t, str)} if isinstance(tokens, list) else set()
    return set()
