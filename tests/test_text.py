"""Decoding, normalising, boilerplate cleanup (both directions) and sentence segmentation."""

from __future__ import annotations

import codecs

import pytest

from summarize.errors import InputError
from summarize.text import (
    clean_lines,
    decode,
    normalize,
    paragraph_lines,
    parse,
    split_paragraphs,
    split_sentences,
)
from tests.conftest import SEEDS

SEED = SEEDS / "kadhimi-ambassadors.txt"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Café news.".encode(), "Café news."),
        (codecs.BOM_UTF8 + "Café news.".encode(), "Café news."),
        (codecs.BOM_UTF16_LE + "Café news.".encode("utf-16-le"), "Café news."),
        (codecs.BOM_UTF16_BE + "Café news.".encode("utf-16-be"), "Café news."),
    ],
)
def test_decode_accepts_utf8_and_bom_marked_encodings(data: bytes, expected: str) -> None:
    assert decode(data, "a.txt") == expected


def test_invalid_utf8_names_the_file_and_byte_offset() -> None:
    with pytest.raises(InputError, match=r"a\.txt: not valid UTF-8 at byte 6"):
        decode(b"Hello \xff world", "a.txt")


def test_binary_data_is_refused() -> None:
    with pytest.raises(InputError, match=r"x\.txt: binary data \(NUL byte at offset 4\)"):
        decode(b"\x89PNG\x00\x00\x00\rIHDR", "x.txt")


def test_normalize_unifies_spaces_newlines_and_invisible_characters() -> None:
    text = "A\u00a0B\u200b C\t\tD  \r\nE\rF\u2028G"
    assert normalize(text) == "A B C D\nE\nF\nG"


def test_normalize_composes_unicode() -> None:
    assert normalize("Cafe\u0301") == "Caf\u00e9"


def test_seed_cleanup_removes_the_repeated_title_and_site_furniture() -> None:
    doc = parse(SEED.read_bytes(), "seed")
    assert doc.removed == [
        "Al-Kadhimi receives 25 ambassador to discuss the security of international missions "
        "in Iraq",
        "Shafaq Live",
        "Shafaq Live",
        "Radio radio icon",
    ]
    text = doc.text
    assert text.count("Al-Kadhimi receives 25 ambassador") == 1  # the title is kept once
    assert "Shafaq Live" not in text
    assert "radio icon" not in text
    assert text.rstrip().endswith('tighten security measures".')


def test_seed_without_cleanup_keeps_everything() -> None:
    doc = parse(SEED.read_bytes(), "seed", cleanup=False)
    assert doc.removed == []
    assert doc.text.count("Shafaq Live") == 2
    assert "Radio radio icon" in doc.text


@pytest.mark.parametrize(
    "lines",
    [
        # A short closing line of real prose.
        ["The talks went on for hours and ended late.", "He died in 1990."],
        # Short list items in the middle of an article.
        ["Prices rose in three cities last month.", "Baghdad", "Basra", "Erbil", "More below."],
        # A sign-off line longer than navigation links.
        ["The talks ended late.", "Reporting by John Smith; editing by Jane Doe"],
        # A quotation that ends the article.
        ["The minister spoke briefly.", '"We will not stop," she said.'],
        # A headline-only article keeps its only line.
        ["Oil prices fall sharply on Monday"],
        # A long paragraph repeated is not touched: only short repeats are template echoes.
        [" ".join(["word"] * 30) + ".", "Middle.", " ".join(["word"] * 30) + "."],
    ],
)
def test_cleanup_keeps_real_article_text(lines: list[str]) -> None:
    kept, removed = clean_lines(lines)
    assert kept == lines
    assert removed == []


@pytest.mark.parametrize(
    "furniture",
    ["Advertisement", "Share this article", "Read more", "Follow us on Twitter", "© 2024 Acme"],
)
def test_cleanup_removes_known_furniture_lines(furniture: str) -> None:
    lines = ["The council met on Tuesday to vote.", furniture, "It passed by ten votes."]
    kept, removed = clean_lines(lines)
    assert removed == [furniture]
    assert kept == [lines[0], lines[2]]


def test_furniture_words_inside_a_sentence_are_kept() -> None:
    lines = ["Read more about the vote in the statement released by the council today."]
    assert clean_lines(lines) == (lines, [])


def test_only_boilerplate_is_an_error_that_says_so() -> None:
    with pytest.raises(InputError, match=r"nothing left to summarize.*boilerplate"):
        parse(b"Advertisement\nShare\nRead more\n", "menu.txt")


@pytest.mark.parametrize("data", [b"", b"   \n\n\t  \n"])
def test_empty_or_blank_input_is_an_error(data: bytes) -> None:
    with pytest.raises(InputError, match=r"e\.txt: empty"):
        parse(data, "e.txt")


def test_paragraphs_follow_lines_and_rejoin_hard_wrapped_text() -> None:
    lines = [
        "Title of the piece",
        "",
        "The first paragraph was wrapped by an editor",
        "at a fixed width, mid-sentence.",
        "A second paragraph on its own line.",
    ]
    assert split_paragraphs(lines) == [
        "Title of the piece",
        "The first paragraph was wrapped by an editor at a fixed width, mid-sentence.",
        "A second paragraph on its own line.",
    ]


def test_sentences_respect_abbreviations_and_numbers() -> None:
    text = "Mr. Smith arrived in Washington at 3 p.m. on Monday. It cost $3.5 million. Why?"
    assert split_sentences(text) == [
        "Mr. Smith arrived in Washington at 3 p.m. on Monday.",
        "It cost $3.5 million.",
        "Why?",
    ]


def test_document_counts_characters_paragraphs_and_sentences() -> None:
    doc = parse(b"One. Two.\n\nThree.\n", "a.txt")
    assert [p.sentences for p in doc.paragraphs] == [["One.", "Two."], ["Three."]]
    assert doc.sentences == ["One.", "Two.", "Three."]
    assert doc.characters == len("One.Two.Three.")


def test_paragraph_lines_name_the_lines_each_paragraph_joins() -> None:
    lines = ["Oil prices fall", "Prices fell on Monday as the", "supply grew.", "", "", "Next one."]
    assert paragraph_lines(lines) == [[0], [1, 2], [5]]
    assert split_paragraphs(lines) == [
        "Oil prices fall",
        "Prices fell on Monday as the supply grew.",
        "Next one.",
    ]
