"""The cleaned text and its line map: paragraphs whose sentences give back their text exactly.

The properties the translation and the review rely on, for any input: each paragraph's
sentences, with what stood between them, are the paragraph character for character (nothing
lost, repeated, moved or added, not even a space after "5%."); the paragraphs are the input's
lines not removed, each joining the lines its map names; the document's text is its paragraphs.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from summarize.errors import InputError
from summarize.text import decode_lines, lay_out, parse, segment_paragraph

# Pieces of scraped articles: sentences that end without a space, abbreviations, quotes,
# wrapped lines, furniture that cleanup removes, odd spaces and invisible characters.
FRAGMENTS = [
    "Prices rose 5%.",
    "Markets fell",
    " on Monday.",
    "Mr. Smith met the U.S. envoy.",
    'He said "it is over."',
    "Next",
    "Really?!",
    "Yes, and the",
    "figures were revised.",
    "e.g. 3.5 million",
    "Share this article",
    "Most read",
    "By Layla Hassan",
    "Home | World | Business",
    "Oil prices fall",
    " ",
    "  ",
    "\t",
    "\u00a0",
    "\u200b",
    "\n",
    "\n\n",
    "\r\n",
    ".",
    "?",
    "…",
    "a",
]
articles = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
WRAPPED = (
    "Markets in turmoil\nHome | World | Business\nPrices rose 5%.Markets fell sharply as the\n"
    "Share this article\ntraders sold.Really?!Yes, said Mr. Smith of the U.S. Treasury.\n\n"
    "Most read\nOil prices fall\nGas falls\n"
)


@settings(max_examples=400, deadline=None)
@given(articles, st.booleans())
@example(WRAPPED, True)
def test_each_paragraphs_sentences_cover_it_exactly_once_in_order(text: str, cleanup: bool) -> None:
    try:
        doc = parse(text.encode(), "a.txt", cleanup=cleanup)
    except InputError:
        return
    for paragraph in doc.paragraphs:
        assert paragraph.spans
        ends = [0, *(end for _, end in paragraph.spans)]
        for (start, end), previous in zip(paragraph.spans, ends, strict=False):
            assert previous <= start < end
        for sentence, gap in zip(paragraph.sentences, paragraph.gaps, strict=True):
            assert sentence == sentence.strip() and not gap.strip()
        rebuilt = "".join(g + s for g, s in zip(paragraph.gaps, paragraph.sentences, strict=True))
        assert rebuilt == paragraph.text
    assert doc.text == "\n\n".join(p.text for p in doc.paragraphs)
    assert doc.sentences == [s for p in doc.paragraphs for s in p.sentences]
    assert doc.characters == sum(len(s) for s in doc.sentences)


@settings(max_examples=300, deadline=None)
@given(articles, st.booleans())
@example(WRAPPED, True)
def test_the_line_map_names_every_kept_line_once_and_the_removed_ones_are_the_rest(
    text: str, cleanup: bool
) -> None:
    try:
        doc = parse(text.encode(), "a.txt", cleanup=cleanup)
    except InputError:
        return
    lines = decode_lines(text.encode(), "a.txt")
    mapped = [i for p in doc.paragraphs for i in p.lines]
    assert mapped == sorted(set(mapped))
    for paragraph in doc.paragraphs:
        assert paragraph.text == " ".join(lines[i] for i in paragraph.lines)
    rest = [line for i, line in enumerate(lines) if line and i not in mapped]
    assert doc.removed == (rest if cleanup else [])


@pytest.mark.parametrize(
    ("text", "cleaned", "gaps"),
    [
        ("Prices rose 5%.Markets fell on Monday.", "Prices rose 5%.Markets fell on Monday.", ""),
        ("Really?!Yes, they did.", "Really?!Yes, they did.", ""),
        ("Really?!  Yes,\tthey did. ", "Really?! Yes, they did.", " "),
    ],
)
def test_a_sentence_that_ends_without_a_space_is_not_given_one(
    text: str, cleaned: str, gaps: str
) -> None:
    doc = parse(text.encode(), "a.txt")
    assert doc.text == cleaned
    (paragraph,) = doc.paragraphs
    assert len(paragraph.sentences) == 2
    assert paragraph.gaps == ["", gaps]


def test_gaps_are_what_stands_before_each_sentence() -> None:
    paragraph = segment_paragraph(" One.Two.  Three? ")
    assert paragraph.sentences == ["One.Two.", "Three?"]
    assert paragraph.gaps == [" ", "  "]
    assert paragraph.spans == ((1, 9), (11, 17))
    assert segment_paragraph("").spans == ()


def test_a_removed_line_between_two_halves_of_a_sentence_does_not_keep_them_apart() -> None:
    lines = ["Title", "", "Prices fell as the", "Share this article", "traders sold.", "Most read"]
    layout = lay_out(lines, {1, 3, 5})
    assert layout.groups == ((0,), (2, 4))
    assert layout.paragraphs == ["Title", "Prices fell as the traders sold."]
    assert layout.removed_lines() == ["", "Share this article", "Most read"]
    assert layout.removed_before() == [(1, ""), (2, "Share this article"), (2, "Most read")]


def test_removed_lines_stand_before_the_paragraph_that_follows_them() -> None:
    lines = ["Menu", "One.", "Share", "Two.", "Three."]
    layout = lay_out(lines, {0, 2})
    assert layout.removed_before() == [(0, "Menu"), (1, "Share")]
    assert lay_out(lines).removed_before() == []
    assert lay_out(lines).paragraphs == ["Menu", "One.", "Share", "Two.", "Three."]
