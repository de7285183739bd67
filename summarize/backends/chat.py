"""What both engines do for an instruction model: the prompt through its chat template, the reply.

A decoder-only model reads its prompt and writes its reply in one sequence of positions, so its
context bounds the two together (see :attr:`summarize.backends.Backend.context_tokens`), and
only the tokens after the prompt are the reply. Every decoded reply goes through
:func:`reply`, the one place that cleans what the chat format adds.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from summarize.backends import LoadSpec
from summarize.backends.huggingface import asked, input_limit
from summarize.families import Recipe
from summarize.families import retold as retold_recipe
from summarize.replies import clean

__all__ = ["context_limit", "end_ids", "prompt_ids", "rendered", "reply", "retold"]


class _Asked(Protocol):
    recipe: Recipe
    family: str


Engine = TypeVar("Engine", bound=_Asked)

log = logging.getLogger(__name__)


def rendered(tokenizer: Any, recipe: Recipe, texts: Sequence[str]) -> list[str]:
    """Each text asked as the user's turn of the model's chat template, ending where the
    assistant's reply begins. The template writes every special token the model expects (a
    beginning-of-sequence one too), so the result is tokenized without adding any.

    A model that reasons before it answers (Qwen3) is asked not to: its template then opens
    the reply with an empty reasoning block, and the reply is the answer alone, at a fraction
    of the tokens. Templates without that switch ignore it.
    """
    return [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": recipe.ask(text)}],
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=False,
        )
        for text in texts
    ]


def prompt_ids(tokenizer: Any, recipe: Recipe, texts: Sequence[str]) -> list[list[int]]:
    """The token ids of each text's whole prompt: what the model reads, and what counts
    against its context."""
    if not texts:
        return []
    encoded = tokenizer(rendered(tokenizer, recipe, texts), add_special_tokens=False, verbose=False)
    return [list(ids) for ids in encoded["input_ids"]]


def retold(engine: Engine, spec: LoadSpec) -> Engine:
    """``engine``, an instruction model's loaded for one role, for the role of ``spec``: the
    same weights and tokenizer (never loaded twice), asked with that role's prompt."""
    other = copy.copy(engine)
    other.recipe = retold_recipe(engine.recipe, asked(spec), spec.model)
    other.family = other.recipe.describe()
    return other


def context_limit(tokenizer: Any, config: Any) -> int:
    """The positions prompt and reply share: the model's, and the tokenizer's limit if lower."""
    return input_limit(tokenizer, config)


def end_ids(generation: Any, tokenizer: Any) -> list[int]:
    """The tokens that end a reply: the generation config's (Qwen ends a turn with
    ``<|im_end|>`` and a text with ``<|endoftext|>``), else the tokenizer's end token."""
    eos = generation.eos_token_id
    ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    if not ids and tokenizer.eos_token_id is not None:
        ids = [tokenizer.eos_token_id]
    return [int(i) for i in ids]


def reply(text: str, source: str) -> str:
    """A decoded reply to ``source`` as the output text: the one place where the replies of
    instruction models are cleaned of what the chat format adds (role markers, a leading
    "Here is..." line, surrounding quotes), by the rules of summarize.replies, none of which
    removes what ``source`` itself has. What they cannot clean is left to the guards."""
    cleaned = clean(text, source)
    if cleaned.removed:
        log.debug("reply cleaned of: %s", ", ".join(cleaned.removed))
    return cleaned.text.strip()
