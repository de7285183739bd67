"""A model-free backend that returns its input: checks configs and the pipeline without weights."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence

from summarize.backends import GenerateOptions, Generation, LoadSpec

# Marian-style target-language tokens are consumed by a real model, so echo drops them too.
log = logging.getLogger(__name__)

_LANGUAGE_TOKEN = re.compile(r"^>>\w+<<\s*")


class EchoBackend:
    """Tokens are whitespace-separated words; output is the input cut to max_new_tokens words.

    ``model = "echo"`` or ``model = "echo:delay=0.5"`` (seconds of sleep per generate call,
    to make a slow engine for testing interruption and concurrency); ``load_delay=`` sleeps
    that long while loading, like a large model (``echo:delay=0.3,load_delay=5``);
    ``positions=N`` gives it a model's limits: at most N tokens in and N new tokens out, past
    which it fails as a real model does. ``loop=1`` makes it loop like a degenerate model: each
    output is its first word repeated to the length limit, unless the options forbid repeats
    (``no_repeat_ngram_size`` or ``repetition_penalty`` above 1), as a guard's repair does.
    """

    engine = "echo"

    device = "cpu"
    dtype = "none"

    def __init__(
        self, model_id: str, delay: float = 0.0, positions: int = 1_000_000, loop: bool = False
    ) -> None:
        self.model_id = model_id
        self.family = "echo (gives back its input)"
        self.loop = loop
        self.delay = delay
        self.max_input_tokens = positions
        self.max_output_tokens = positions
        self.context_tokens = 0

    @classmethod
    def load(cls, spec: LoadSpec) -> EchoBackend:
        """The echo engine ``spec.model`` describes; the other fields do not apply."""
        model = spec.model
        time.sleep(_option(model, "load_delay"))
        positions = int(_option(model, "positions")) or 1_000_000
        return cls(model, _option(model, "delay"), positions, bool(_option(model, "loop")))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) + 1 for text in texts]  # +1: the end-of-sequence token

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        log.debug("echo generate: %d texts", len(texts))  # the tests count engine calls by it
        if self.delay:
            time.sleep(self.delay)
        if options.max_new_tokens > self.max_output_tokens:
            raise IndexError(
                f"max_new_tokens {options.max_new_tokens} is past the model's "
                f"{self.max_output_tokens} positions"
            )
        if max(self.count_tokens(texts), default=0) > self.max_input_tokens:
            raise IndexError(f"an input is past the model's {self.max_input_tokens} positions")
        results = []
        for text in texts:
            words = _LANGUAGE_TOKEN.sub("", text).split()
            repeats_allowed = options.no_repeat_ngram_size == 0 and options.repetition_penalty <= 1
            if self.loop and words and repeats_allowed:
                words = words[:1] * (options.max_new_tokens + 1)
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
