"""A model-free engine that shows the whole pipeline offline, its outputs labelled as demo."""

from __future__ import annotations

import re
from collections.abc import Sequence

from summarize.backends import GenerateOptions, Generation, LoadSpec

__all__ = ["AR_LABEL", "EN_LABEL", "DemoBackend"]

#: what every demo summary starts with, and every demo "translation" of a segment
EN_LABEL = "[demo]"
AR_LABEL = "[تجريبي]"
# A sentence ends at ., ! or ? (a closing quote may follow) before a space.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"”’'])\s+")
#: a lead summary's most sentences, as the classic lead-3 baseline of news summarisation
LEAD_SENTENCES = 3
# English letters as a reader of Arabic would spell them (pairs first: "sh", "th"; x as
# "ks"), and the punctuation Arabic writes otherwise; digits and the rest are kept.
_PAIRS = {"sh": "ش", "th": "ث", "kh": "خ", "gh": "غ", "dh": "ذ", "ch": "تش", "ph": "ف"}
_PAIR = re.compile("|".join(_PAIRS), re.IGNORECASE)
_LETTERS = dict(zip("abcdefghijklmnopqrstuvwyz", "ابكديفجهيجكلمنوبقرستوفويز", strict=True))
_SPELLING = str.maketrans(
    {**_LETTERS, **{k.upper(): v for k, v in _LETTERS.items()}, "x": "كس", "X": "كس"}
    | {",": "،", "?": "؟", ";": "؛"}
)


class DemoBackend:
    """The demo engine of one role: no model, no download, outputs a reader cannot take for
    a model's.

    As summarizer it gives the article's first sentences (at most half its words, within the
    length limit), after the label ``[demo]``; as translator, the English spelt letter by
    letter in Arabic script after ``[تجريبي]``, so the output guards (script, identical,
    length) pass it on its merits and nothing is flagged for being a demo. Tokens are
    whitespace-separated words, as for the echo engine.
    """

    engine = "demo"
    device = "cpu"
    dtype = "none"
    #: Each input has its own budget, as for a seq2seq model.
    context_tokens = 0

    def __init__(self, model_id: str, role: str) -> None:
        self.model_id = model_id
        self.role = role
        self.family = (
            "demo: the article's first sentences, no model"
            if role == "summarizer"
            else "demo: the English spelt in Arabic letters, no model"
        )
        self.max_input_tokens = 1_000_000
        self.max_output_tokens = 1_000_000

    @classmethod
    def load(cls, spec: LoadSpec) -> DemoBackend:
        """The demo engine of ``spec.role``; the other fields do not apply."""
        return cls(spec.model, spec.role)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) + 1 for text in texts]  # +1: the end-of-sequence token

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        if self.role == "summarizer":
            return [Generation(lead(text, options.max_new_tokens), False) for text in texts]
        return [Generation(spell_in_arabic(text), False) for text in texts]


def lead(text: str, max_words: int) -> str:
    """The labelled first sentences of ``text`` (at most :data:`LEAD_SENTENCES`): at most half
    its words (so that a summary is shorter than its article, and chunk summaries shrink),
    within ``max_words`` with the label; at least the start of the first sentence."""
    body = _unlabelled(text)
    room = max(1, min(max_words - 1, len(body.split()) // 2))
    taken: list[str] = []
    for sentence in _SENTENCE_END.split(body)[:LEAD_SENTENCES]:
        if taken and len(" ".join([*taken, sentence]).split()) > room:
            break
        taken.append(sentence)
    words = " ".join(taken).split()[:room]
    return " ".join([EN_LABEL, *words])


def spell_in_arabic(text: str) -> str:
    """The labelled letter-for-letter spelling of ``text`` (its English label not spelt)."""
    body = _unlabelled(text)
    spelt = _PAIR.sub(lambda pair: _PAIRS[pair.group().lower()], body)
    return f"{AR_LABEL} {spelt.translate(_SPELLING)}"


def _unlabelled(text: str) -> str:
    """``text`` without the English labels: a summary's, or those of the chunk summaries a
    map-reduce round joined."""
    return " ".join(text.replace(EN_LABEL, " ").split())
