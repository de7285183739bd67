"""Random instruction-tuned decoder-only models (Qwen2 shape) whose tokenizer has a chat template.

The tokenizer is a byte-level BPE trained here on the given text, wrapped in transformers'
``Qwen2Tokenizer`` with Qwen's special tokens (``<|endoftext|>``, ``<|im_start|>``,
``<|im_end|>``) and a ChatML template, as Qwen2.5-Instruct ships it (without its default
system message); the model is a seeded ``Qwen2ForCausalLM``. Nothing is downloaded, and the
directory loads with ``AutoTokenizer`` / ``AutoModelForCausalLM`` like a hub checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer

from tests.model_parts import ARABIC_TEXT, ENGLISH_TEXT, Architecture, seeded
from tests.model_parts import architecture as architecture_of
from tests.tokenizer_training import train_byte_level_bpe

__all__ = ["CHAT_SPECIAL_TOKENS", "CHAT_TEMPLATE", "build_chat_model"]

#: Qwen's special tokens: end of text (also padding), and the turn markers of ChatML
CHAT_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
#: ChatML, the turn format of Qwen2.5-Instruct's template
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_chat_model(
    directory: Path,
    architecture: str | Architecture = "tiny-qwen2",
    *,
    english: Sequence[str] = ENGLISH_TEXT,
    arabic: Sequence[str] = ARABIC_TEXT,
    max_positions: int | None = None,
    chat_template: str | None = CHAT_TEMPLATE,
    dtype: str = "float32",
) -> Path:
    """Save a random Qwen2 instruction model and its tokenizer (trained on ``english`` and
    ``arabic``) to ``directory``; ``chat_template`` None leaves the template out, as a base
    model ships. ``max_positions`` overrides the architecture's context. A stand-in (its
    architecture ``words_only``) never ends a reply, so every engine generates as many tokens
    as asked; it is saved in ``dtype``. Returns ``directory``."""
    arch = architecture_of(architecture, "qwen2", max_positions)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab, merges = train_byte_level_bpe(
        [*english, *arabic], arch.pieces[0], special_tokens=CHAT_SPECIAL_TOKENS
    )
    trained = len(vocab)
    for i in range((arch.vocab_size or trained) - trained):
        vocab[f"<unused{i}>"] = trained + i
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,  # type: ignore[arg-type]
        model_max_length=arch.max_positions,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(CHAT_SPECIAL_TOKENS[1:])})
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    end, im_start, im_end = tokenizer.convert_tokens_to_ids(list(CHAT_SPECIAL_TOKENS))
    config = Qwen2Config(
        **arch.settings(arch.vocab_size or len(tokenizer)),
        bos_token_id=end,
        eos_token_id=im_end,
        pad_token_id=end,
    )
    model = seeded(Qwen2ForCausalLM, config)
    # Never the turn opener, nor (a stand-in) an end of the reply; the tiny ones never a lone
    # byte that is no text on its own, so that replies decode to clean text.
    banned = [im_start, *((end, im_end) if arch.words_only else ())]
    if not arch.words_only:
        banned += _unprintable(tokenizer, trained)
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=end,
        eos_token_id=[im_end, end],
        pad_token_id=end,
        bad_words_ids=[[i] for i in sorted(set(banned))],
        **arch.generation,
    )
    model.to(getattr(torch, dtype))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _unprintable(tokenizer: Qwen2Tokenizer, trained: int) -> list[int]:
    special = set(tokenizer.all_special_ids)
    found = []
    for token_id in range(trained):
        if token_id in special:
            continue
        text = tokenizer.decode([token_id])
        if not text.isprintable() or "\ufffd" in text:
            found.append(token_id)
    return found
