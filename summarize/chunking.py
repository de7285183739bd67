"""Pack sentences into segments that fit a model's token budget, splitting over-long ones safely."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Measure", "Piece", "Segment", "pack", "pack_paragraphs", "reassemble"]

#: Token length of each text exactly as the model will receive it (prefix and EOS included).
Measure = Callable[[Sequence[str]], list[int]]

_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+|\s+(?=[—–]\s)")
_SENTENCES, _CLAUSES, _WORDS, _CHARACTERS = range(4)


@dataclass(frozen=True)
class Piece:
    """Consecutive source text that fits the budget; ``split`` if it holds part of a sentence.

    ``glue`` goes between the previous piece and this one when they are put back together:
    a space, or nothing where this piece goes on with a word split between characters.
    """

    text: str
    tokens: int
    split: bool = False
    glue: str = " "


@dataclass(frozen=True)
class Segment:
    """A piece of one paragraph, to be translated on its own (``glue`` as in :class:`Piece`)."""

    paragraph: int
    text: str
    tokens: int
    split: bool = False
    glue: str = " "


def pack_paragraphs(
    paragraphs: Sequence[Sequence[str]], measure: Measure, budget: int
) -> list[Segment]:
    """Segments of whole sentences within ``budget`` tokens that never cross a paragraph.

    Every sentence ends up in exactly one segment, in order; a sentence longer than the budget
    is split at clause punctuation, then between words, then between characters.
    """
    return [
        Segment(index, piece.text, piece.tokens, piece.split, piece.glue)
        for index, sentences in enumerate(paragraphs)
        for piece in pack(sentences, measure, budget)
    ]


def pack(sentences: Sequence[str], measure: Measure, budget: int) -> list[Piece]:
    """Greedily join consecutive sentences into pieces of at most ``budget`` tokens.

    ``reassemble`` of the pieces gives back the sentences joined by single spaces, except
    that a run of whitespace where a sentence was split (or at a sentence's ends) becomes one
    space: no other character is lost, added or moved (a piece can exceed the budget only
    when it is a single character or none).
    """
    if not sentences:
        return []
    overhead = measure([""])[0]
    return _pack([(s, " ") for s in sentences], measure, budget, _SENTENCES, overhead)


def reassemble(parts: Iterable[tuple[str, str]]) -> str:
    """Texts of consecutive pieces as ``(glue, text)``, joined by their glue; empty ones skipped."""
    kept = [(glue, text) for glue, text in parts if text]
    if not kept:
        return ""
    return kept[0][1] + "".join(glue + text for glue, text in kept[1:])


def _pack(
    units: list[tuple[str, str]], measure: Measure, budget: int, level: int, overhead: int
) -> list[Piece]:
    items: list[Piece] = []
    texts = [text for text, _ in units]
    for (unit, glue), tokens in zip(units, measure(texts), strict=True):
        if tokens <= budget or len(unit) <= 1:
            items.append(Piece(unit, tokens, level > _SENTENCES, glue))
        else:
            parts = _glued(_split(unit, level), glue, "" if level >= _WORDS else " ")
            items.extend(_pack(parts, measure, budget, min(level + 1, _CHARACTERS), overhead))
    return [
        piece
        for group in _greedy_groups(items, budget, overhead)
        for piece in _verified(group, measure, budget)
    ]


def _glued(parts: list[str], first: str, rest: str) -> list[tuple[str, str]]:
    """The non-empty parts with their glue: the first keeps the whole's, the others ``rest``."""
    kept = [p for p in parts if p]
    return [(part, first if i == 0 else rest) for i, part in enumerate(kept)]


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


def _verified(group: list[Piece], measure: Measure, budget: int) -> list[Piece]:
    """The estimate can be off where tokens merge across a join: measure, halve if over."""
    if len(group) == 1:
        return group
    text = group[0].text + "".join(p.glue + p.text for p in group[1:])
    tokens = measure([text])[0]
    if tokens <= budget:
        return [Piece(text, tokens, any(p.split for p in group), group[0].glue)]
    middle = len(group) // 2
    return _verified(group[:middle], measure, budget) + _verified(group[middle:], measure, budget)
