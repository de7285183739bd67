"""Cleaning an instruction model's reply: what the chat format adds around the text asked for.

An instruction model answers in a chat turn, and its reply may carry more than the summary or
the translation: special tokens of the chat template, a role marker, a leading "Here is the
translation:" line, quotes or a code fence around the whole reply, a trailing "Note: …" line.
:data:`RULES` names each thing removed, and only these are: a rule matches an explicit pattern
at the reply's start or end, never anything in its middle, so the cleaned text is always a
piece of the reply, never a rewrite of it. What no rule removes (a chat token in the middle of
the text, a preamble in a form not listed) is left as it is, for the output guards to judge.

Content is never a chat artefact, so a rule never fires where the source has what it would
remove: given the source, a reply wholly in quotes whose source is a whole quotation
(``"We will rebuild."``) keeps its quotes, and a source that opens with "Summary:" keeps the
label in its translation. Without the source, a reply wholly in quotes is unwrapped: a chat
model's quotes around its answer are far more common than an input that is one quotation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RULES", "Cleaned", "Rule", "clean"]

# Chat templates' special tokens as they come out when decoded with them kept: Qwen and Phi-3
# (<|im_start|>, <|im_end|>, <|end|>), Llama 3 (<|eot_id|>, <|start_header_id|>), Gemma
# (<start_of_turn>, <end_of_turn>), Mistral and Llama 2 ([INST], </s>).
_PIPE_TOKEN = r"<\|[a-z_]+\|>"
CHAT_TOKEN = re.compile(
    rf"{_PIPE_TOKEN}|</?(?:start_of_turn|end_of_turn|think|s|bos|eos)>|\[/?INST\]", re.IGNORECASE
)
_END_OF_TURN = re.compile(
    r"<\|(?:im_end|eot_id|end|endoftext|end_of_text)\|>|<end_of_turn>|</s>|<eos>", re.IGNORECASE
)
_BEGIN = r"(?:<\|begin_of_text\|>|<s>|<bos>)"
_HEADER = (
    r"(?:<\|im_start\|>[ \t]*assistant|<\|start_header_id\|>[ \t]*assistant[ \t]*"
    r"<\|end_header_id\|>|<start_of_turn>[ \t]*model|<\|assistant\|>|\[/INST\])"
)
_TURN_HEADER = re.compile(rf"(?:{_BEGIN}\s*)*{_HEADER}|{_BEGIN}", re.IGNORECASE)
_REASONING = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
# Role markers written as text: a chat transcript's "Assistant:", a "### Response:" heading.
# Llama 3's and Gemma's headers decoded without their tokens leave a lone "assistant" or
# "model" line.
ROLE_LABEL = re.compile(
    r"(?:#{1,6}[ \t]*)?(?:assistant|response|answer|output|المساعد)[ \t]*[:：]"
    r"|(?:assistant|model)[ \t]*(?=\n)",
    re.IGNORECASE,
)

_TASK_EN = r"(?:summar\w*|translat\w*|arabic|english|text|article|version)"
_TASK_AR = r"(?:ترجم|ملخص|تلخيص|نص|مقال|العربية)"
# A preamble names its task ("Here is the summary:"), so "Here is what we know:" stays.
_PREAMBLE_EN = (
    r"(?:(?:sure|certainly|of course|okay|ok|absolutely|alright)\b[^\n.!:]{0,40}[.!,][ \t]*)?"
    r"(?:here(?:[ \t]+is|[ \t]+are|'s|’s)|below[ \t]+is|the[ \t]+following[ \t]+is)\b"
    rf"[^\n:]{{0,80}}?\b{_TASK_EN}\b[^\n:]{{0,80}}?(?:[:：]|\.?[ \t]*(?=\n))"
)
_PREAMBLE_AR = (
    r"(?:(?:بالتأكيد|بالطبع|طبعا|طبعًا|حسنا|حسنًا)[ \t]*[،,!.][ \t]*)?"
    r"(?:إليك|إليكم|إليكِ|اليك|فيما يلي|في ما يلي|وفيما يلي)"
    rf"[^\n:]{{0,80}}?{_TASK_AR}[^\n:]{{0,80}}?(?:[:：]|\.?[ \t]*(?=\n))"
)
PREAMBLE = re.compile(rf"{_PREAMBLE_EN}|{_PREAMBLE_AR}", re.IGNORECASE)
# A label line: "Translation:", "**Summary:**", "Arabic translation:", "الترجمة:", "## Summary".
_LABEL_WORD = (
    r"(?:(?:the[ \t]+)?(?:arabic|english|final)[ \t]+)?(?:translation|summary|translated[ \t]+text"
    r"|arabic)(?:[ \t]+(?:in|into|to)[ \t]+(?:arabic|english))?"
    r"|(?:ال)?(?:ترجمة|ملخص|تلخيص)(?:[ \t]+(?:النص|المقال|العربية|إلى العربية|باللغة العربية))?"
)
LABEL = re.compile(
    rf"(?:\*\*)?(?:{_LABEL_WORD})[ \t]*(?:\*\*)?[ \t]*[:：](?:[ \t]*\*\*)?"
    rf"|(?:#{{1,6}}[ \t]*|\*\*)(?:{_LABEL_WORD})[ \t]*(?:\*\*)?[ \t]*(?=\n)",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```[\w+-]*[ \t]*\n(?P<inner>.*)\n[ \t]*```", re.DOTALL)
#: the pairs of quotes that may wrap a whole reply: straight, curly, low-high, guillemets
QUOTES: tuple[tuple[str, str], ...] = (
    ('"', '"'),
    ("'", "'"),
    ("“", "”"),
    ("”", "”"),
    ("„", "“"),
    ("‘", "’"),
    ("«", "»"),
    ("»", "«"),
    ("‹", "›"),
    ("「", "」"),
)
# A note is its own last line, opened by a note's word and a colon, or wholly in parentheses
# and saying what the text is ("(Translated from English)"); a markdown rule ("---") set
# between the text and its note goes with it.
NOTE = re.compile(
    r"[-*_]{3,}"
    r"|(?:\*\*)?(?:note|notes|n\.b\.|please note|translator'?s note|disclaimer|ملاحظة|ملحوظة"
    r"|تنبيه)[ \t]*(?:\*\*)?[ \t]*[:：].*"
    r"|\((?:translated|translation|note|summary|this (?:translation|summary)|word count|ترجمة"
    r"|تمت الترجمة|مترجم|ملاحظة)[^()\n]*\)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Cleaned:
    """A reply without its chat artefacts, and the rules that removed them, in order."""

    text: str
    removed: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """One thing the chat format adds to a reply: its name, what it removes, an example."""

    name: str
    removes: str
    example: str
    #: the reply without the artefact, or None where it has none (or nothing would be left)
    cut: Callable[[str], str | None]


def _leading(pattern: re.Pattern[str]) -> Callable[[str], str | None]:
    def cut(text: str) -> str | None:
        body = text.lstrip()
        match = pattern.match(body)
        return _rest(body[match.end() :]) if match else None

    return cut


def _turn_end(text: str) -> str | None:
    """Cut at the first end-of-turn token where only chat tokens or a new turn follow it."""
    match = _END_OF_TURN.search(text)
    if match is None:
        return None
    after = text[match.end() :].lstrip()
    if after and not CHAT_TOKEN.match(after):
        return None  # text after the token is the residue check's, not a guess of ours
    return _rest(text[: match.start()])


def _fence(text: str) -> str | None:
    match = _FENCE.fullmatch(text.strip())
    if match is None or "```" in match["inner"]:
        return None
    return _rest(match["inner"])


def _quotes(text: str) -> str | None:
    """Unwrap a reply whose first and last characters are a pair of quotes holding no other
    quote of that pair (so '"A," he said, "B."' is no wrapped reply)."""
    body = text.strip()
    for opening, closing in QUOTES:
        inner = body[len(opening) : -len(closing)]
        if (
            len(body) > 2
            and body.startswith(opening)
            and body.endswith(closing)
            and opening not in inner
            and closing not in inner
        ):
            return _rest(inner)
    return None


def _trailing_note(text: str) -> str | None:
    body, newline, last = text.rstrip().rpartition("\n")
    if not newline or not NOTE.fullmatch(last.strip()):
        return None
    return _rest(body)


def _rest(text: str) -> str | None:
    """What is left, without the whitespace the artefact left; None when nothing is."""
    rest = text.strip()
    return rest or None


#: every rule, in the order they are tried (see the README's "Instruction models: what is
#: cleaned"); a reply is cleaned until none fires
RULES: tuple[Rule, ...] = (
    Rule(
        "reasoning",
        "a leading reasoning block between <think> and </think>",
        "<think>The user wants…</think>",
        _leading(_REASONING),
    ),
    Rule(
        "turn_start",
        "a leading begin-of-text token or assistant turn header",
        "<|im_start|>assistant, <|start_header_id|>assistant<|end_header_id|>, "
        "<start_of_turn>model, [/INST]",
        _leading(_TURN_HEADER),
    ),
    Rule(
        "turn_end",
        "an end-of-turn token and what follows it, where that is only chat tokens or a new turn",
        "<|im_end|>, <|eot_id|>, <end_of_turn>, <|end|>, </s>",
        _turn_end,
    ),
    Rule(
        "role_label",
        "a role marker written as text at the very start",
        "Assistant:, ### Response:, Answer:, المساعد:, a first line that is only assistant",
        _leading(ROLE_LABEL),
    ),
    Rule(
        "preamble",
        "a leading line that introduces the answer and names its task, ending in a colon or "
        "the line",
        "Here is the summary:, Sure! Here's the Arabic translation:, إليك الترجمة:",
        _leading(PREAMBLE),
    ),
    Rule(
        "label",
        "a leading label of the answer, with a colon or as a heading line",
        "Translation:, **Summary:**, Arabic translation:, ## Summary, الترجمة:, الملخص:",
        _leading(LABEL),
    ),
    Rule(
        "code_fence",
        "a code fence around the whole reply",
        "```text … ```",
        _fence,
    ),
    Rule(
        "quotes",
        "a pair of quotes around the whole reply, holding no other quote of that pair",
        "\"…\", “…”, «…», ‹…›, '…'",
        _quotes,
    ),
    Rule(
        "note",
        "a last line that is a note: opened by Note:, N.B.:, Disclaimer:, ملاحظة: or wholly in "
        "parentheses saying what the text is, or a markdown rule (---); never the only line",
        "Note: the names are transliterated., (Translated from English)",
        _trailing_note,
    ),
)


def clean(text: str, source: str | None = None) -> Cleaned:
    """``text`` without what the chat format added (see :data:`RULES`), rule after rule until
    none fires; a rule never fires where ``source`` (the input, when given) has what it would
    remove. Text with none of these comes back as it is; the result is always a piece of it.
    """
    rules = [r for r in RULES if source is None or r.cut(source) is None]
    removed: list[str] = []
    fired = True
    while fired:
        fired = False
        for rule in rules:
            cut = rule.cut(text)
            if cut is not None:
                text, fired = cut, True
                if rule.name not in removed:
                    removed.append(rule.name)
    return Cleaned(text, tuple(removed))
