"""The inference engines behind one small interface, and the registry that loads them lazily."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from summarize.errors import ConfigError

__all__ = [
    "BACKENDS",
    "MODEL_FREE",
    "Backend",
    "GenerateOptions",
    "Generation",
    "LoadSpec",
    "load_backend",
]

# name -> (module, class). Modules are imported only when their backend is chosen, so that a
# run with nothing to do never pays for importing torch.
_REGISTRY: dict[str, tuple[str, str]] = {
    "transformers": ("summarize.backends.hf", "TransformersBackend"),
    "echo": ("summarize.backends.echo", "EchoBackend"),
    "demo": ("summarize.backends.demo", "DemoBackend"),
    "ctranslate2": ("summarize.backends.ct2", "CTranslate2Backend"),
}
BACKENDS: tuple[str, ...] = tuple(_REGISTRY)
#: the engines that load no model: there is nothing to fetch, find in a cache or digest
MODEL_FREE: tuple[str, ...] = ("echo", "demo")


@dataclass(frozen=True)
class LoadSpec:
    """Which model to load with which backend, and where; built from the settings by engines."""

    backend: str
    model: str
    #: the settings section the model comes from (summarizer, translator), named in errors
    role: str
    revision: str = "main"
    device: str = "auto"
    #: torch's dtype (transformers); CTranslate2 takes ``quantization`` instead
    dtype: str = "auto"
    #: CPU threads; 0 leaves the choice to the engine
    threads: int = 0
    quantization: str = "auto"
    #: what the settings ask of the model's family (see summarize.families.Asked)
    source_prefix: str = "auto"
    source_language: str = "auto"
    target_language: str = "auto"
    #: what an instruction model is asked, the text at {text}
    prompt: str = "{text}"


@dataclass(frozen=True)
class GenerateOptions:
    """Decoding settings for one batch; lengths count generated tokens."""

    max_new_tokens: int
    num_beams: int = 1
    min_new_tokens: int = 0
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0
    #: above 1, tokens already generated are made less likely (a guard's repair uses it)
    repetition_penalty: float = 1.0


@dataclass(frozen=True)
class Generation:
    """One generated text, and whether it stopped at max_new_tokens instead of ending."""

    text: str
    hit_limit: bool


class Backend(Protocol):
    """What the pipeline needs from an inference engine."""

    model_id: str
    device: str
    dtype: str
    #: the engine's name in the registry (what backend = "auto" chose)
    engine: str
    #: how the model is asked for its job (its family's recipe, see summarize.families)
    family: str
    #: the longest input the model itself accepts, in its own tokens
    max_input_tokens: int
    #: the most new tokens the model can generate in one output (its decoder's positions)
    max_output_tokens: int
    #: the positions input and output share, a decoder-only model's context (an input of n
    #: tokens leaves it context_tokens - n new ones); 0 where each has its own (seq2seq)
    context_tokens: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Length of each text as the model would see it, special tokens included."""
        ...

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        """Generate one output per input text, in order."""
        ...


def load_backend(spec: LoadSpec) -> Backend:
    """Import the backend ``spec.backend`` and load ``spec.model`` with it."""
    try:
        module_name, class_name = _REGISTRY[spec.backend]
    except KeyError:
        raise ConfigError(
            f"{spec.role}.backend: unknown backend {spec.backend!r}; "
            f"choose one of: {', '.join(BACKENDS)}"
        ) from None
    backend_class = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = backend_class.load(spec)
    return backend
