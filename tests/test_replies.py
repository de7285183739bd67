"""Cleaning an instruction model's reply: each rule fires on its chat artefact and leaves
content alone; cleaning is idempotent, only ever removes, and leaves clean text as it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarize.replies import RULES, Cleaned, clean

# Written for these tests: an English summary and an Arabic translation.
EN = "The government will open a new hospital in Basra next year, the prime minister said."
AR = "قال رئيس الوزراء إن الحكومة ستفتتح مستشفى جديدا في البصرة العام المقبل."
TWO = f"{EN}\n\n{AR}"

# (rule, reply as a chat model writes it, the text meant)
FIRES = [
    ("reasoning", f"<think>\nThe user wants a summary.\n</think>\n\n{EN}", EN),
    ("turn_start", f"<|im_start|>assistant\n{AR}", AR),
    ("turn_start", f"<|start_header_id|>assistant<|end_header_id|>\n\n{EN}", EN),
    ("turn_start", f"<|begin_of_text|>{EN}", EN),
    ("turn_start", f"<start_of_turn>model\n{AR}", AR),
    ("turn_start", f"[/INST] {EN}", EN),
    ("turn_end", f"{AR}<|im_end|>", AR),
    ("turn_end", f"{EN}<|eot_id|>", EN),
    ("turn_end", f"{AR}<end_of_turn>\n", AR),
    ("turn_end", f"{EN}</s>", EN),
    ("turn_end", f"{AR}<|im_end|>\n<|im_start|>user\nThank you!", AR),
    ("turn_end", f"{AR}<|im_end|><|endoftext|>", AR),
    ("role_label", f"Assistant: {EN}", EN),
    ("role_label", f"### Response:\n{EN}", EN),
    ("role_label", f"assistant\n\n{AR}", AR),
    ("role_label", f"المساعد: {AR}", AR),
    ("preamble", f"Here is the summary:\n{EN}", EN),
    ("preamble", f"Here's the translation: {AR}", AR),
    ("preamble", f"Sure! Here is the Arabic translation of the text:\n\n{AR}", AR),
    ("preamble", f"Sure, I can help with that. Here is a summary of the article:\n{EN}", EN),
    ("preamble", f"Here is a concise summary of the article in three sentences\n{EN}", EN),
    ("preamble", f"Below is the translation into Arabic:\n{AR}", AR),
    ("preamble", f"إليك الترجمة:\n{AR}", AR),
    ("preamble", f"بالتأكيد! إليك ترجمة النص إلى العربية:\n{AR}", AR),
    ("preamble", f"فيما يلي ملخص المقال: {AR}", AR),
    ("label", f"Translation: {AR}", AR),
    ("label", f"Summary:\n{EN}", EN),
    ("label", f"**Summary:** {EN}", EN),
    ("label", f"Arabic translation:\n{AR}", AR),
    ("label", f"## Summary\n{EN}", EN),
    ("label", f"الترجمة: {AR}", AR),
    ("label", f"الملخص:\n{AR}", AR),
    ("label", f"الترجمة إلى العربية: {AR}", AR),
    ("code_fence", f"```\n{AR}\n```", AR),
    ("code_fence", f"```text\n{TWO}\n```", TWO),
    ("quotes", f'"{EN}"', EN),
    ("quotes", f"“{EN}”", EN),
    ("quotes", f"«{AR}»", AR),
    ("quotes", f"‹{AR}›", AR),
    ("quotes", f"'{AR}'", AR),
    ("note", f"{AR}\n\nNote: the names are transliterated.", AR),
    ("note", f"{AR}\n(Translated from English)", AR),
    ("note", f"{EN}\n**Note:** This summary is based only on the article.", EN),
    ("note", f"{AR}\nملاحظة: تمت ترجمة الأسماء حرفيا.", AR),
    ("note", f"{EN}\n\n---\nNote: names as in the article.", EN),
]

# (rule, text that looks like the rule's artefact but is content: it comes back as it is)
CONTENT = [
    ("reasoning", f"{EN} <think> is a tag name."),
    ("turn_start", f"{EN} Chat models use <|im_start|>assistant headers."),
    # a token followed by more text is not a turn's end: left for the residue check
    ("turn_end", f"{AR}<|im_end|>{AR}"),
    ("role_label", "Assistant coach Mark Jones resigned on Tuesday."),
    ("role_label", "Answers to the inquiry are due in May, the minister said."),
    ("role_label", f"Model aircraft were banned.\n{EN}"),
    ("preamble", f"{EN} Here is the summary: none was given."),  # "Here is" in the middle
    ("preamble", f"Here is what we know:\n{EN}"),  # names no task
    ("preamble", "Here is the text of the agreement signed on Monday in Basra."),  # no colon
    ("label", "Summary executions were reported in the north, the agency said."),
    ("label", "Translation services were suspended at the border on Monday."),
    ("code_fence", f"```\n{AR}\n```\n{AR}"),  # the fence does not wrap the whole reply
    ("quotes", f'"We will rebuild," the mayor said. "{EN}"'),  # quotes inside, not around
    ("quotes", f"«{AR}» و«{AR}»"),
    ("quotes", f'"{EN}'),  # an opening quote alone: a quotation that runs on
    ("note", f"Note: the figures exclude Basra.\n{EN}"),  # a note that is not the last line
    ("note", "Note: the figures exclude Basra."),  # the only line: nothing else to keep
    ("note", f"{EN}\nNotes from the field were published (see page 4)."),
    ("note", f"{EN} (Translated by the agency.)"),  # not its own line
    ("note", f"{EN}\n---\n{EN}"),  # a rule between two parts of the text
]


@pytest.mark.parametrize(("rule", "reply", "meant"), FIRES)
def test_each_rule_removes_its_chat_artefact(rule: str, reply: str, meant: str) -> None:
    cleaned = clean(reply)
    assert cleaned.text == meant
    assert cleaned.removed == (rule,)


@pytest.mark.parametrize(("rule", "text"), CONTENT)
def test_each_rule_leaves_content_that_resembles_its_artefact(rule: str, text: str) -> None:
    assert clean(text).text == text
    assert clean(text).removed == ()


def test_every_rule_is_tested_both_ways() -> None:
    names = {rule.name for rule in RULES}
    assert {rule for rule, _, _ in FIRES} == names
    assert {rule for rule, _ in CONTENT} == names


def test_the_readme_lists_every_rule() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Instruction models: what is cleaned")[1].split("\n### ")[0]
    assert [r.name for r in RULES] == re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)


def test_artefacts_that_stack_are_removed_in_turn_and_each_rule_named() -> None:
    reply = "<|im_start|>assistant\nSure! Here is the translation:\n\n"
    reply += f'"{AR}"\n(Translated)<|im_end|>'
    assert clean(reply).text == AR
    assert clean(reply).removed == ("turn_start", "turn_end", "preamble", "note", "quotes")


@pytest.mark.parametrize(
    ("source", "reply"),
    [
        # a paragraph that is one quotation keeps its quotes in the translation
        ('"We will rebuild every house in the city."', "«سنعيد بناء كل بيت في المدينة.»"),
        # a source that opens with a label or a preamble keeps it
        ("Summary: the council approved the budget.", "الملخص: وافق المجلس على الميزانية."),
        (
            "Here is the text of the statement:\nWe condemn the attack.",
            "إليك نص البيان:\nندين الهجوم.",
        ),
    ],
)
def test_a_rule_never_removes_what_the_source_itself_has(source: str, reply: str) -> None:
    assert clean(reply, source).text == reply
    assert clean(reply).text != reply  # without the source it reads as an artefact


def test_the_source_spares_only_its_own_artefacts() -> None:
    source = '"We will rebuild every house in the city."'
    reply = "Here is the translation:\n«سنعيد بناء كل بيت في المدينة.»"
    assert clean(reply, source).text == "«سنعيد بناء كل بيت في المدينة.»"


# Prose with none of the artefacts: words, digits, sentence punctuation, Arabic letters (no
# "a" nor "e", so that no word spells a role, a label or a note by chance).
_WORD = st.text(st.sampled_from("bcdfghijklmnopqrstuvwxyzBCDFG0123456789بتثجحخدرس"), min_size=1)
_PROSE = st.lists(
    st.tuples(_WORD, st.sampled_from([" ", ", ", ". ", "; ", "\n", "\n\n", "% ", "-"])),
    min_size=1,
    max_size=30,
).map(lambda parts: "".join(w + gap for w, gap in parts) + "end.")
_ARTEFACT = st.sampled_from(
    [
        "<|im_start|>assistant\n",
        "<|im_end|>",
        "Here is the summary:\n",
        "إليك الترجمة: ",
        "Translation: ",
        '"',
        "«",
        "»",
        "```\n",
        "\n```",
        "\nNote: kept short.",
        "\n(Translated)",
        "Assistant: ",
        "<think>x</think>",
    ]
)
_ANY = st.lists(st.one_of(_PROSE, _ARTEFACT), max_size=8).map("".join)


@settings(max_examples=100, deadline=None)
@given(_ANY)
def test_cleaning_is_idempotent_and_only_removes(reply: str) -> None:
    once = clean(reply)
    assert clean(once.text) == Cleaned(once.text, ())
    assert once.text in reply
    assert (once.text == reply) == (once.removed == ())


@settings(max_examples=100, deadline=None)
@given(_PROSE)
def test_text_with_no_artefact_comes_back_unchanged(text: str) -> None:
    assert clean(text) == Cleaned(text, ())


@settings(max_examples=100, deadline=None)
@given(_PROSE, st.sampled_from(FIRES))
def test_each_artefact_around_any_text_is_removed_exactly(
    text: str, case: tuple[str, str, str]
) -> None:
    rule, reply, meant = case
    assert clean(reply.replace(meant, text)) == Cleaned(text, (rule,))
