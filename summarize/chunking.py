"""Pack sentences into segments that fit a model's token budget, splitting over-long ones safely."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Measure", "Piece", "Segment", "pack", "pack_paragraphs", "reassemble"]

#: Token length of each text exactly as the model will receive it (prefix and EOS included).
Measure = Callable[[Sequence[str]], list[int]]

# Where an over-long sentence may be split: whitespace after clause punctuation or before a
# dash, then any whitespace between words. Only between non-space characters, so that every
# part holds text and the whitespace between two parts is the glue that rejoins them.
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+(?=\S)|(?<=\S)\s+(?=[—–]\s)")
_WORD_BREAK = re.compile(r"(?<=\S)\s+(?=\S)")
_SENTENCES, _CLAUSES, _WORDS, _CHARACTERS = range(4)


@dataclass(frozen=True)
class Piece:
    """Consecutive source text that fits the budget; ``split`` if it holds part of a sentence.

    ``glue`` goes between the previous piece and this one when they are put back together:
    exactly what stood between them in the source (whitespace, or nothing where a sentence
    ends without a space or a word is split between characters).
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
    paragraphs: Sequence[Sequence[str]],
    measure: Measure,
    budget: int,
    gaps: Sequence[Sequence[str]] | None = None,
) -> list[Segment]:
    """Segments of whole sentences within ``budget`` tokens that never cross a paragraph.

    Every sentence ends up in exactly one segment, in order; a sentence longer than the budget
    is split at clause punctuation, then between words, then between characters. ``gaps``
    are each paragraph's, as :func:`pack` takes them.
    """
    return [
        Segment(index, piece.text, piece.tokens, piece.split, piece.glue)
        for index, sentences in enumerate(paragraphs)
        for piece in pack(sentences, measure, budget, None if gaps is None else gaps[index])
    ]


def pack(
    sentences: Sequence[str], measure: Measure, budget: int, gaps: Sequence[str] | None = None
) -> list[Piece]:
    """Greedily join consecutive sentences into pieces of at most ``budget`` tokens.

    ``gaps`` are what stood before each sentence in the source (see
    :attr:`summarize.text.Paragraph.gaps`), a space each when not given. ``reassemble`` of
    the pieces gives back the sentences joined by their gaps: no character is lost, added or
    moved (an empty sentence is left out, its gap too; a piece can exceed the budget only when
    it is a single character or none).
    """
    glue = [" "] * len(sentences) if gaps is None else gaps
    units = [(s, g) for s, g in zip(sentences, glue, strict=True) if s]
    if not units:
        return []
    overhead = measure([""])[0]
    return _pack(units, measure, budget, _SENTENCES, overhead)


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
            parts = _split(unit, glue, level)
            items.extend(_pack(parts, measure, budget, min(level + 1, _CHARACTERS), overhead))
    return [
        piece
        for group in _greedy_groups(items, budget, overhead)
        for piece in _verified(group, measure, budget)
    ]


def _split(text: str, glue: str, level: int) -> list[tuple[str, str]]:
    """``text`` in parts, each with what stood before it (the first, the whole's ``glue``):
    a sentence at its clauses, a clause at its words, a word in halves. A text with nowhere
    to split at its level comes back whole, for the next level to split."""
    if level >= _WORDS:
        middle = len(text) // 2
        return [(text[:middle], glue), (text[middle:], "")]
    breaks = _CLAUSE_BREAK if level == _SENTENCES else _WORD_BREAK
    cuts = [match.span() for match in breaks.finditer(text)]
    starts = [0, *(end for _, end in cuts)]
    ends = [*(start for start, _ in cuts), len(text)]
    gaps = [glue, *(text[start:end] for start, end in cuts)]
    return [(text[a:b], gap) for a, b, gap in zip(starts, ends, gaps, strict=True)]


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
