"""Packing sentences under a token budget: nothing lost, nothing repeated, nothing over budget."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from summarize.chunking import pack, pack_paragraphs


def words(texts: Sequence[str]) -> list[int]:
    """A stand-in tokenizer: one token per word, plus a prefix token and an EOS token."""
    return [len(t.split()) + 2 for t in texts]


def sentence(n: int, tag: str) -> str:
    return " ".join(f"{tag}w{i}" for i in range(n - 1)) + f" {tag}end."


def test_short_sentences_share_a_segment_within_a_paragraph() -> None:
    segments = pack_paragraphs([["One two.", "Three four."], ["Five six."]], words, budget=20)
    assert [(s.paragraph, s.text) for s in segments] == [
        (0, "One two. Three four."),
        (1, "Five six."),
    ]


@pytest.mark.parametrize("seed", range(8))
def test_every_sentence_comes_back_once_in_order_and_within_budget(seed: int) -> None:
    rng = random.Random(seed)
    paragraphs = [
        [sentence(rng.randint(1, 30), f"p{p}s{s}") for s in range(rng.randint(1, 8))]
        for p in range(rng.randint(1, 6))
    ]
    budget = rng.randint(8, 40)
    segments = pack_paragraphs(paragraphs, words, budget)
    assert all(s.tokens <= budget for s in segments)
    assert all(words([s.text])[0] == s.tokens for s in segments)
    for index, sentences in enumerate(paragraphs):
        own = [s.text for s in segments if s.paragraph == index]
        assert " ".join(own).split() == " ".join(sentences).split()
    assert [s.paragraph for s in segments] == sorted(s.paragraph for s in segments)


def test_long_sentence_is_split_at_clause_punctuation_first() -> None:
    long = "The minister said on Monday, after a long meeting with the council, that taxes rise."
    pieces = pack([long], words, budget=10)
    assert [p.text for p in pieces] == [
        "The minister said on Monday,",
        "after a long meeting with the council,",
        "that taxes rise.",
    ]
    assert all(p.split for p in pieces)


def test_sentence_without_punctuation_is_split_between_words() -> None:
    long = " ".join(f"w{i}" for i in range(50))
    pieces = pack([long], words, budget=12)
    assert all(p.tokens <= 12 for p in pieces)
    assert " ".join(p.text for p in pieces) == long


def test_a_single_overlong_word_is_split_between_characters() -> None:
    def chars(texts: Sequence[str]) -> list[int]:
        return [len(t) // 4 + 2 for t in texts]

    blob = "x" * 400
    pieces = pack([blob], chars, budget=20)
    assert all(p.tokens <= 20 for p in pieces)
    assert "".join(p.text for p in pieces) == blob


def test_estimate_that_undercounts_joins_is_corrected_by_measuring() -> None:
    def join_costs_extra(texts: Sequence[str]) -> list[int]:
        # Each sentence boundary inside a text costs 3 tokens the per-sentence sums miss.
        return [len(t.split()) + 2 + 3 * t.count(". ") for t in texts]

    sentences = [f"s{i} a b." for i in range(12)]
    segments = pack(sentences, join_costs_extra, budget=16)
    assert all(join_costs_extra([s.text])[0] <= 16 for s in segments)
    assert " ".join(s.text for s in segments) == " ".join(sentences)


def test_nothing_in_nothing_out() -> None:
    assert pack([], words, 10) == []
    assert pack_paragraphs([], words, 10) == []
