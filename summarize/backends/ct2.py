"""The CTranslate2 backend: a Hugging Face seq2seq model, converted once, run quantized and fast."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarize.backends import GenerateOptions, Generation
from summarize.backends.hf import check_local_path, load_advice, model_output_limit, token_counts
from summarize.errors import ModelError

if TYPE_CHECKING:
    from summarize.config import RuntimeSettings

log = logging.getLogger(__name__)

INSTALL = "pip install 'summarize[fast]'"
# Tokenizers report a huge sentinel when a model declares no limit.
_NO_LIMIT = 1_000_000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# What a conversion is of, written into its folder (CTranslate2 ignores other files).
_ABOUT = "summarize-conversion.json"
# Content digests of local model files, by path, size and mtime.
_DIGESTS = "local-model-digests.json"
# An unfinished conversion untouched this long was killed: nothing writes to it any more.
_PARTIAL_GRACE = 3600.0


class CTranslate2Backend:
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
    ) -> None:
        self.model_id = model_id
        self.tokenizer = tokenizer
        self.translator = translator
        self.device = device
        self.dtype = str(translator.compute_type)
        self.max_input_tokens = max_input_tokens
        self.max_output_tokens = max_output_tokens
        self.target_prefix = target_prefix
        self.suppress = suppress
        # Parallel workers on the CPU (see _threading): a batch is split so each gets a share.
        self.workers = int(getattr(translator, "num_translators", 1)) if device == "cpu" else 1

    @classmethod
    def load(
        cls,
        model_id: str,
        revision: str,
        runtime: RuntimeSettings,
        *,
        role: str,
        quantization: str = "auto",
    ) -> CTranslate2Backend:
        try:
            import ctranslate2
        except ImportError:
            raise ModelError(
                f"{role}.backend = 'ctranslate2' needs the ctranslate2 package: run "
                f"`{INSTALL}`, or set {role}.backend = 'transformers'"
            ) from None
        device, index = resolve_device(runtime.device, ctranslate2.get_cuda_device_count())
        supported = set(ctranslate2.get_supported_compute_types(device, index))
        compute_type = resolve_quantization(quantization, device, supported, role)
        check_local_path(model_id, role)
        tokenizer, config, generation = _load_hf_parts(model_id, revision, role)
        path = converted_model(model_id, revision, compute_type, role=role)
        log.info("loading %s %s from %s on %s as %s", role, model_id, path, device, compute_type)
        try:
            translator = ctranslate2.Translator(
                str(path),
                device=device,
                device_index=index,
                compute_type=compute_type,
                **_threading(device, runtime.threads),
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelError(
                f"{role}.model: {model_id}: cannot load its CTranslate2 conversion in {path} "
                f"({_reason(exc)}); delete that directory to convert the model again"
            ) from exc
        vocabulary = _target_vocabulary(path)
        return cls(
            model_id,
            tokenizer,
            translator,
            device=device if device == "cpu" else f"cuda:{index}",
            max_input_tokens=_input_limit(tokenizer, config),
            max_output_tokens=model_output_limit(config),
            target_prefix=_forced_prefix(tokenizer, generation),
            suppress=_suppressed(tokenizer, generation, vocabulary),
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return token_counts(self.tokenizer, texts)

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=True, verbose=False)
        source = [self.tokenizer.convert_ids_to_tokens(ids) for ids in encoded["input_ids"]]
        results = self.translator.translate_batch(
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
            max_batch_size=math.ceil(len(source) / self.workers),
            # With the end token in the output, a hypothesis without it is one that was cut.
            return_end_token=True,
            # The pipeline has already fitted every input to the model; never cut one silently.
            max_input_length=0,
        )
        eos = self.tokenizer.eos_token
        hypotheses = [result.hypotheses[0] for result in results]
        decoded = self.tokenizer.batch_decode(
            [self.tokenizer.convert_tokens_to_ids(tokens) for tokens in hypotheses],
            skip_special_tokens=True,
        )
        return [
            Generation(
                text.strip(),
                hit_limit=len(tokens) >= options.max_new_tokens and tokens[-1] != eos,
            )
            for text, tokens in zip(decoded, hypotheses, strict=True)
        ]


def _threading(device: str, threads: int) -> dict[str, int]:
    """One single-threaded worker per core on the CPU: beam search of small models is mostly
    small matrix products that do not scale across cores, while whole sub-batches decoded in
    parallel do (1.5x on the benchmark's 2 cores). On CUDA the defaults are right."""
    if device != "cpu":
        return {}
    workers = threads or os.cpu_count() or 1
    return {"inter_threads": workers, "intra_threads": 1}


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


def cache_root() -> Path:
    """``$SUMMARIZE_CACHE``, else ``$XDG_CACHE_HOME/summarize``, else ``~/.cache/summarize``."""
    if os.environ.get("SUMMARIZE_CACHE"):
        return Path(os.environ["SUMMARIZE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "summarize"


def converted_model(model_id: str, revision: str, quantization: str, *, role: str) -> Path:
    """The CTranslate2 conversion of ``model_id``, converted now unless already in the cache."""
    import ctranslate2

    if _is_local(model_id):
        config_dir, pinned = Path(model_id).expanduser(), revision
        source = _local_fingerprint(config_dir)
    else:
        config_dir = _hub_snapshot(model_id, revision, role)
        pinned = config_dir.name
        source = f"hub:{model_id}@{pinned}"
    # The model format is stable within a CTranslate2 major version.
    major = ctranslate2.__version__.split(".")[0]
    key = f"{source}\n{quantization}\nctranslate2-{major}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    name = Path(model_id).expanduser().name if _is_local(model_id) else model_id
    target = cache_root() / "ct2" / f"{_UNSAFE.sub('_', name.replace('/', '--'))}-{digest}"
    if ctranslate2.contains_model(str(target)):
        log.info("%s: using the CTranslate2 conversion in %s", role, target)
        _mark_used(target)
        return target
    about = {"model": model_id, "revision": pinned, "quantization": quantization}
    _convert(model_id, pinned, config_dir, quantization, target, role, about)
    return target


def _convert(
    model_id: str,
    revision: str,
    config_dir: Path,
    quantization: str,
    target: Path,
    role: str,
    about: dict[str, str],
) -> None:
    import ctranslate2
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    log.info(
        "%s: converting %s@%s to CTranslate2 (%s) in %s",
        role,
        model_id,
        revision,
        quantization,
        target,
    )
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Converted beside the target and renamed into place in one step, so that an interrupted
    # conversion never leaves a half model that a later run would take for a whole one.
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    )
    try:
        converter = _converter(model_id, revision, config_dir)
        converter.convert(str(staging / "model"), quantization=quantization)
        (staging / "model" / _ABOUT).write_text(json.dumps(about, indent=1), encoding="utf-8")
        if target.exists() and not ctranslate2.contains_model(str(target)):
            # Not a whole model, nor one being written (renames are atomic): debris to replace.
            shutil.rmtree(target)
        try:
            os.replace(staging / "model", target)
        except OSError:
            if not ctranslate2.contains_model(str(target)):
                raise
            log.info("%s: another run converted %s first; using its copy", role, model_id)
    except Exception as exc:  # the converter raises ValueError, OSError, hub errors...
        raise ModelError(
            f"{role}.model: cannot convert {model_id!r} to CTranslate2 ({_reason(exc)}); "
            f"check that it is a BART- or Marian-style seq2seq model, or set "
            f"{role}.backend = 'transformers'"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%s: converted in %.1f s", role, time.perf_counter() - started)


def _converter(model_id: str, revision: str, config_dir: Path) -> Any:
    """A TransformersConverter that reads the model, its config and tokenizer at ``revision``.

    The stock converter reads config.json and the tokenizer (whose vocabulary becomes the
    converted model's) at the default branch, which fails offline for a pinned commit and can
    mismatch the weights. So it is given the folder holding the right config.json (the hub
    snapshot of that commit), and the weights and tokenizer are loaded by id and revision.
    """
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):  # type: ignore[misc]
        def load_model(self, model_class: Any, name: str, **kwargs: Any) -> Any:
            model = super().load_model(model_class, model_id, revision=revision, **kwargs)
            # transformers 5 dropped BartConfig.normalize_before (BART is post-norm), which
            # the ctranslate2 4.x BART loader still reads.
            if not hasattr(model.config, "normalize_before"):
                model.config.normalize_before = False
            return model

        def load_tokenizer(self, tokenizer_class: Any, name: str, **kwargs: Any) -> Any:
            return super().load_tokenizer(tokenizer_class, model_id, revision=revision, **kwargs)

    return Converter(str(config_dir))


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


def _local_fingerprint(directory: Path) -> str:
    """The names, sizes and content digests of the directory's files, not where it lies.

    A copy of the directory (``download --to`` on another machine) has the same fingerprint,
    so it reuses the conversion; re-saved weights get a new one. Digests are remembered by
    path, size and mtime, so a large model is hashed once.
    """
    directory = directory.expanduser().resolve()
    memo_path = cache_root() / _DIGESTS
    memo = _read_json(memo_path)
    files = []
    for entry in sorted(directory.iterdir()):
        if entry.is_file():
            stat = entry.stat()
            where = f"{entry}:{stat.st_size}:{stat.st_mtime_ns}"
            if not isinstance(memo.get(where), str):
                memo[where] = _file_digest(entry)
            files.append(f"{entry.name}:{stat.st_size}:{memo[where]}")
    _write_json(memo_path, memo)
    return f"local:{','.join(files)}"


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing or damaged: a memo, rebuilt as needed
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically, and only as a memo: a read-only cache just means hashing again next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(temporary, path)
    except OSError as exc:
        log.debug("cannot update %s: %s", path, exc)


def _mark_used(target: Path) -> None:
    """Note the time of use, so that ``summarize cache prune`` keeps what is in use."""
    with contextlib.suppress(OSError):  # a read-only cache is still usable
        os.utime(target)


@dataclass(frozen=True)
class Conversion:
    """One folder of the CTranslate2 cache."""

    path: Path
    model: str
    quantization: str
    size: int
    #: seconds since the epoch of its last use (or of an unfinished conversion's last write)
    used: float
    #: left by a conversion that was killed (or is still running)
    partial: bool


def list_conversions() -> list[Conversion]:
    """The conversions in the cache and the debris of killed ones, least recently used first."""
    root = cache_root() / "ct2"
    if not root.is_dir():
        return []
    found = [_describe(entry) for entry in root.iterdir() if entry.is_dir()]
    return sorted(found, key=lambda c: c.used)


def prune_conversions(*, older_than_days: float | None) -> list[Conversion]:
    """Remove conversions unused for ``older_than_days`` (all when None) and stale debris.

    An unfinished conversion is removed once untouched for an hour, so a running one is left
    alone. Returns what was removed.
    """
    now = time.time()
    removed = []
    for conversion in list_conversions():
        idle = now - conversion.used
        limit = _PARTIAL_GRACE if conversion.partial else (older_than_days or 0) * 86400
        if idle >= limit:
            shutil.rmtree(conversion.path, ignore_errors=True)
            removed.append(conversion)
    return removed


def _describe(folder: Path) -> Conversion:
    about = _read_json(folder / _ABOUT)
    partial = folder.name.endswith(".partial")
    files = [p for p in folder.rglob("*") if p.is_file()]
    latest = max((p.stat().st_mtime for p in files), default=0.0) if partial else 0.0
    name = folder.name.removesuffix(".partial").lstrip(".")
    return Conversion(
        path=folder,
        model=str(about.get("model", name)),
        quantization=str(about.get("quantization", "?")),
        size=sum(p.stat().st_size for p in files),
        used=max(folder.stat().st_mtime, latest),
        partial=partial,
    )


def _hub_snapshot(model_id: str, revision: str, role: str) -> Path:
    """The cache folder of the commit ``revision`` points at, named by that commit."""
    from huggingface_hub import hf_hub_download

    try:
        config = Path(hf_hub_download(model_id, "config.json", revision=revision))
    except Exception as exc:  # hub and cache errors
        raise ModelError(load_advice(role, model_id, exc)) from exc
    return config.parent


def _is_local(model_id: str) -> bool:
    return Path(model_id).expanduser().is_dir()


def _input_limit(tokenizer: Any, config: Any) -> int:
    limits = [
        getattr(config, "max_position_embeddings", None),
        getattr(tokenizer, "model_max_length", None),
    ]
    usable = [int(n) for n in limits if isinstance(n, int) and 0 < n < _NO_LIMIT]
    return min(usable) if usable else _NO_LIMIT


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
    for name in ("target_vocabulary.json", "shared_vocabulary.json"):
        if (path / name).is_file():
            return set(json.loads((path / name).read_text(encoding="utf-8")))
    return set()


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
