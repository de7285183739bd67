"""The CTranslate2 backend of instruction models: a ctranslate2.Generator on chat prompts.

The decoder-only model is converted once (as every family is, see ct2_cache), and asked with
prompts made by the model's own chat template (see summarize.backends.chat).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from summarize.backends import GenerateOptions, Generation, LoadSpec, chat
from summarize.families import Recipe

__all__ = ["CTranslate2Generator"]


class CTranslate2Generator:
    """The model's tokenizer and chat template in front of a CTranslate2 generator."""

    engine = "ctranslate2"

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
        self.model_id = model_id
        self.recipe = recipe
        self.family = recipe.describe()
        self.tokenizer = tokenizer
        self.generator = generator
        self.device = device
        self.dtype = str(generator.compute_type)
        # Prompt and reply share the model's positions.
        self.context_tokens = self.max_input_tokens = self.max_output_tokens = context
        self.ends = ends
        self.suppress = suppress
        # Parallel workers on the CPU: a batch is split so that each gets a share.
        self.workers = int(getattr(generator, "num_generators", 1)) if device == "cpu" else 1

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
