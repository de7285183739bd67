"""Pack sentences into segments that fit a model's token budget, splitting over-long ones safely."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Measure", "Piece", "Segment", "pack", "pack_paragraphs"]

#: Token length of each text exactly as the model will receive it (prefix and EOS included).
Measure = Callable[[Sequence[str]], list[int]]

_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+|\s+(?=[—–]\s)")
_SENTENCES, _CLAUSES, _WORDS, _CHARACTERS = range(4)


@dataclass(frozen=True)
class Piece:
    """Consecutive source text that fits the budget; ``split`` if it holds part of a sentence."""

    text: str
    tokens: int
    split: bool = False


@dataclass(frozen=True)
class Segment:
    """A piece of one paragraph, to be translated on its own."""

    paragraph: int
    text: str
    tokens: int
    split: bool = False


def pack_paragraphs(
    paragraphs: Sequence[Sequence[str]], measure: Measure, budget: int
) -> list[Segment]:
    """Segments of whole sentences within ``budget`` tokens that never cross a paragraph.

    Every sentence ends up in exactly one segment, in order; a sentence longer than the budget
    is split at clause punctuation, then between words, then between characters.
    """
    return [
        Segment(index, piece.text, piece.tokens, piece.split)
        for index, sentences in enumerate(paragraphs)
        for piece in pack(sentences, measure, budget)
    ]


def pack(sentences: Sequence[str], measure: Measure, budget: int) -> list[Piece]:
    """Greedily join consecutive sentences into pieces of at most ``budget`` tokens."""
    if not sentences:
        return []
    overhead = measure([""])[0]
    return _pack(list(sentences), measure, budget, _SENTENCES, overhead)


def _pack(
    units: list[str], measure: Measure, budget: int, level: int, overhead: int
) -> list[Piece]:
    items: list[Piece] = []
    for unit, tokens in zip(units, measure(units), strict=True):
        if tokens <= budget or len(unit) <= 1:
            items.append(Piece(unit, tokens, split=level > _SENTENCES))
        else:
            parts = [p for p in _split(unit, level) if p]
            items.extend(_pack(parts, measure, budget, min(level + 1, _CHARACTERS), overhead))
    joiner = "" if level >= _CHARACTERS else " "
    return [
        piece
        for group in _greedy_groups(items, budget, overhead)
        for piece in _verified(group, measure, budget, joiner)
    ]


def _split(text: str, level: int) -> list[str]:
    if level == _SENTENCES:
        return _CLAUSE_BREAK.split(text)
    if level == _CLAUSES:
        return text.split(" ")
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


def _greedy_groups(items: list[Piece], budget: int, overhead: int) -> list[list[Piece]]:
    """Group by estimated length: the prefix/EOS overhead counts once per group."""
    groups: list[list[Piece]] = []
    current: list[Piece] = []
    estimate = overhead
    for item in items:
        cost = max(item.tokens - overhead, 0)
        if current and estimate + cost > budget:
            groups.append(current)
            current, estimate = [], overhead
        current.append(item)
        estimate += cost
    if current:
        groups.append(current)
    return groups


def _verified(group: list[Piece], measure: Measure, budget: int, joiner: str) -> list[Piece]:
    """The estimate can be off where tokens merge across a join: measure, halve if over."""
    if len(group) == 1:
        return group
    text = joiner.join(p.text for p in group)
    tokens = measure([text])[0]
    if tokens <= budget:
        return [Piece(text, tokens, any(p.split for p in group))]
    middle = len(group) // 2
    return _verified(group[:middle], measure, budget, joiner) + _verified(
        group[middle:], measure, budget, joiner
    )
