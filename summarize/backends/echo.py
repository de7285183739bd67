"""A model-free backend that returns its input: checks configs and the pipeline without weights."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from summarize.backends import GenerateOptions, Generation

if TYPE_CHECKING:
    from summarize.config import RuntimeSettings

# Marian-style target-language tokens are consumed by a real model, so echo drops them too.
_LANGUAGE_TOKEN = re.compile(r"^>>\w+<<\s*")


class EchoBackend:
    """Tokens are whitespace-separated words; output is the input cut to max_new_tokens words.

    ``model = "echo"`` or ``model = "echo:delay=0.5"`` (seconds of sleep per generate call,
    to make a slow engine for testing interruption and concurrency); ``load_delay=`` sleeps
    that long while loading, like a large model (``echo:delay=0.3,load_delay=5``).
    """

    device = "cpu"
    dtype = "none"
    max_input_tokens = 1_000_000

    def __init__(self, model_id: str, delay: float = 0.0) -> None:
        self.model_id = model_id
        self.delay = delay

    @classmethod
    def load(
        cls,
        model: str,
        revision: str,
        runtime: RuntimeSettings,
        *,
        role: str,
        quantization: str = "auto",
    ) -> EchoBackend:
        time.sleep(_option(model, "load_delay"))
        return cls(model, _option(model, "delay"))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) + 1 for text in texts]  # +1: the end-of-sequence token

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        if self.delay:
            time.sleep(self.delay)
        results = []
        for text in texts:
            words = _LANGUAGE_TOKEN.sub("", text).split()
            results.append(
                Generation(
                    " ".join(words[: options.max_new_tokens]),
                    hit_limit=len(words) > options.max_new_tokens,
                )
            )
        return results


def _option(model: str, name: str) -> float:
    match = re.search(rf"(?<![\w]){name}=([0-9.]+)", model)
    return float(match.group(1)) if match else 0.0
