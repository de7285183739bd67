"""Cleanup that never eats a sentence, paragraphs that never glue two sentences, every encoding
told apart, sentences that keep every character in bounded time, and any bytes handled."""

from __future__ import annotations

import codecs
from collections import Counter
from pathlib import Path

import pysbd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarize import run
from summarize.config import load_config
from summarize.errors import InputError
from summarize.text import (
    _windows,
    clean_lines,
    decode,
    detect_language,
    parse,
    split_paragraphs,
    split_sentences,
)
from tests.conftest import ECHO

BEFORE = "The council met on Tuesday to vote on the budget."
AFTER = "It passed by ten votes after a long debate."

# Real sentences of eight words or fewer (so length alone does not save them) that start with
# the words the furniture patterns use.
SENTENCES = [
    "Share prices fell sharply on Monday.",
    "Share this view, the minister told reporters.",
    "Advertisement spending rose by a fifth.",
    "Advert bans were upheld by the court.",
    "More from the minister came on Friday.",
    "More news is expected on Monday.",
    "Copyright claims against AI firms doubled last year.",
    "Copyright 2024 filings rose by a third.",
    "© symbols appear on every page.",
    "Follow us on the trail, he said.",
    "Follow the money, investigators said.",
    "Subscribe to nothing, he told readers.",
    "Subscribers rose to two million.",
    "Sign up for the army fell by half.",
    "Sign up rates fell in May.",
    "Related charges were dropped on Friday.",
    "Read more about it in the statement.",
    "Read the full statement on Monday.",
    "See also the report from last year.",
    "Tags on the bags were removed.",
    "Tags: none were found, police said.",
    "Print sales fell again in May.",
    "Comments by the minister angered Baghdad.",
    "Comments are closed for now, she said.",
    "Tweet by the president sparked a row.",
    "Email records show the deal was signed.",
    "E-mail traffic doubled during the strike.",
    "Loading of the ships began at dawn.",
    "Click here to win, the scam said.",
    "Tap here to vote, the app says.",
    "Skip to the end: the deal failed.",
    "Back to top form, Salah scored twice.",
    "Accept cookies or leave, the site said.",
    "Manage cookies? Few users do, a study found.",
    "Google uses cookies to track users.",
    "This site uses cookies, the court found.",
    "Sponsored content is now labelled clearly.",
    "All rights reserved for the family, he said.",
]

FURNITURE = [
    "Advertisement",
    "ADVERTISEMENT",
    "Sponsored content",
    "Share",
    "Share this article",
    "Share on Facebook",
    "Tweet",
    "Print",
    "Email this article",
    "Read more",
    "Read also:",
    "See also",
    "Related articles",
    "More from Reuters",
    "More from Shafaq News",
    "Click here to read more",
    "Subscribe now",
    "Subscribe to our daily newsletter",
    "Sign up for our newsletter",
    "Follow us on Twitter",
    "© 2024 Acme",
    "© 2023-2024 Shafaq News",
    "Copyright 2024 Acme Corp. All rights reserved.",
    "Copyright © 2021 The Daily Star",
    "All rights reserved.",
    "Skip to main content",
    "Back to top",
    "Accept cookies",
    "Manage cookies",
    "This site uses cookies.",
    "Loading...",
    "Comments",
    "12 comments",
    "Tags: Iraq, Baghdad, security",
]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_a_sentence_starting_with_a_furniture_word_is_kept(sentence: str) -> None:
    lines = [BEFORE, sentence, AFTER]
    assert clean_lines(lines) == (lines, [])


@pytest.mark.parametrize("furniture", FURNITURE)
def test_furniture_lines_are_still_removed(furniture: str) -> None:
    lines = [BEFORE, furniture, AFTER]
    assert clean_lines(lines) == ([BEFORE, AFTER], [furniture])


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # A headline, then a sentence that starts with a digit, a bracket or a quote.
        (["Oil prices fall", "2024 was a bad year for producers."], 2),
        (["Oil prices fall", "(Reuters) Prices fell on Monday."], 2),
        (["Oil prices fall", "3 ministers resign in protest"], 2),
        (["Oil prices fall", '"We are worried," a trader said.'], 2),
        (["Oil prices fall", "«Nous sommes inquiets», dit-il."], 2),
        # Hard-wrapped text that goes on mid-sentence.
        (["The first paragraph was wrapped", "at a fixed width."], 1),
        (["The company sold more than", "2,000 units last year."], 1),
        (["He met the", "President on Monday."], 1),
        (["Prices rose,", "2024 figures show."], 1),
        (["It rose by", "(about 5%) last year."], 1),
        (["The minister, who was", "élu in 2020, spoke."], 1),
        (["The vote was held", ", said the speaker."], 1),
    ],
)
def test_lines_join_only_when_the_first_cannot_end_there(lines: list[str], expected: int) -> None:
    paragraphs = split_paragraphs(lines)
    assert len(paragraphs) == expected
    assert " ".join(paragraphs) == " ".join(lines)


def test_a_line_starting_with_a_digit_after_a_headline_is_its_own_sentence() -> None:
    doc = parse(b"Oil prices fall\n2024 was a bad year for producers.\n", "a.txt")
    assert doc.sentences == ["Oil prices fall", "2024 was a bad year for producers."]


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_utf16_and_utf32_with_bom_decode_without_nul_characters(bom: bytes, encoding: str) -> None:
    text = "Café news 😀 from Baghdad."
    assert decode(bom + text.encode(encoding), "a.txt") == text


def test_utf32_article_comes_out_clean() -> None:
    doc = parse(codecs.BOM_UTF32_LE + "One. Two.\n".encode("utf-32-le"), "a.txt")
    assert doc.sentences == ["One.", "Two."]


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"a" * 9000 + b"\x00tail", 9000),  # after the first 8 KB
        (b"a" * 100_000 + b"\x00", 100_000),
        (codecs.BOM_UTF16_LE + "ab\x00".encode("utf-16-le"), 2 + 4),
        (codecs.BOM_UTF16_LE + "😀\x00".encode("utf-16-le"), 2 + 4),
        (codecs.BOM_UTF32_BE + "abc\x00".encode("utf-32-be"), 4 + 12),
    ],
)
def test_a_nul_anywhere_fails_the_file_as_binary_with_its_offset(data: bytes, offset: int) -> None:
    with pytest.raises(InputError, match=rf"^a\.txt: binary data \(NUL byte at offset {offset}\)"):
        decode(data, "a.txt")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (codecs.BOM_UTF32_LE + b"a\x00\x00\x00\x00\x00\x11\x00", "not valid UTF-32 at byte 8"),
        (codecs.BOM_UTF16_LE + b"a\x00b", "not valid UTF-16 at byte 4"),
        (codecs.BOM_UTF16_BE + b"\xd8\x00\x00a", "not valid UTF-16 at byte 2"),
    ],
)
def test_invalid_wide_encodings_name_the_byte(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=rf"^a\.txt: {message}$"):
        decode(data, "a.txt")


@pytest.mark.parametrize("text", [":.?!", "a .. b", "Visit www.x.com. Now.", "Stop!? Go."])
def test_sentence_splitting_loses_no_character(text: str) -> None:
    assert "".join(split_sentences(text)).replace(" ", "") == text.replace(" ", "")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ1 .!?\"'(),;:-’”…\n\t")), max_size=120))
def test_sentences_are_consecutive_slices_of_the_paragraph(text: str) -> None:
    """Each sentence is the next stretch of the paragraph with its spaces stripped: nothing
    between two sentences but whitespace, so no character is lost, repeated or moved."""
    position = 0
    for sentence in split_sentences(text):
        assert sentence and sentence == sentence.strip()
        found = text.find(sentence, position)
        assert found >= 0 and not text[position:found].strip()
        position = found + len(sentence)
    assert not text[position:].strip()


def test_long_paragraphs_reach_the_segmenter_in_bounded_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    segment = pysbd.Segmenter.segment

    def spy(self: pysbd.Segmenter, text: str) -> list[str]:
        seen.append(len(text))
        return segment(self, text)  # type: ignore[no-any-return]

    monkeypatch.setattr(pysbd.Segmenter, "segment", spy)
    sentences = [f"The council met for the {i}th time on Monday in Basra." for i in range(1000)]
    assert split_sentences(" ".join(sentences)) == sentences
    assert max(seen) <= 2000


def test_a_window_cut_never_splits_an_abbreviation_from_its_name() -> None:
    text = " ".join(["Officials met Mr. Smith and Dr. Jones in the U.S. Embassy today."] * 300)
    assert set(split_sentences(text)) == {
        "Officials met Mr. Smith and Dr. Jones in the U.S. Embassy today."
    }


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.sampled_from(list("ab .A\n")), max_size=300),
        # Prose-like: sure sentence ends for the cut to find, runs of spaces and newlines.
        st.lists(
            st.sampled_from(["Word", "word.", "ends!", "ab", " ", "\n", "A."]), max_size=80
        ).map(" ".join),
    ),
    st.integers(min_value=2, max_value=40),
)
def test_windows_give_back_exactly_the_text(text: str, size: int) -> None:
    windows = _windows(text, size)
    assert "".join(windows) == text
    for window in windows:
        assert len(window) <= size or not any(c.isspace() for c in window.strip())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["", "Advertisement", "Shafaq Live", "Share", "Read more", "Title"]),
            st.text(alphabet=st.sampled_from(list("ab .©")), max_size=20),
        ),
        max_size=30,
    )
)
def test_cleanup_never_loses_a_line(lines: list[str]) -> None:
    kept, removed = clean_lines(lines)
    assert Counter(kept) + Counter(removed) == Counter(lines)
    assert len(kept) + len(removed) == len(lines)
    assert _is_subsequence(kept, lines)
    assert _is_subsequence(removed, lines)


def _is_subsequence(part: list[str], whole: list[str]) -> bool:
    remaining = iter(whole)
    return all(any(item == other for other in remaining) for item in part)


_BOMS = st.sampled_from(
    [
        b"",
        codecs.BOM_UTF8,
        codecs.BOM_UTF16_LE,
        codecs.BOM_UTF16_BE,
        codecs.BOM_UTF32_LE,
        codecs.BOM_UTF32_BE,
    ]
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.tuples(_BOMS, st.binary(max_size=200)).map(b"".join),
        st.text(max_size=200).map(str.encode),
    ),
    st.booleans(),
)
def test_any_bytes_give_a_document_or_an_error_naming_the_file(data: bytes, cleanup: bool) -> None:
    try:
        doc = parse(data, "fuzz.txt", cleanup=cleanup)
    except InputError as exc:
        assert str(exc).startswith("fuzz.txt: ")
    else:
        assert doc.paragraphs and all(p.spans for p in doc.paragraphs)
        assert "\x00" not in doc.text


# --- Cases found by mutation testing (see docs/DEVELOPMENT.md): each pins a behaviour that a
# changed operator or constant in text.py would break without any other test noticing.


@pytest.mark.parametrize(
    ("magic", "kind"),
    [
        (b"%PDF-1.7\n", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"PK\x03\x04", "a ZIP archive (or a .docx/.xlsx/.epub document)"),
        (b"\x1f\x8b\x08", "gzip-compressed data"),
    ],
)
def test_known_binary_formats_are_named(magic: bytes, kind: str) -> None:
    with pytest.raises(InputError) as caught:
        decode(magic + b"rest of the file", "a.txt")
    assert str(caught.value) == f"a.txt: {kind}, not a text article"


def test_invalid_utf8_after_a_bom_counts_the_bom_in_the_offset() -> None:
    with pytest.raises(InputError, match=r"^a\.txt: not valid UTF-8 at byte 5;"):
        decode(codecs.BOM_UTF8 + b"ab\xff", "a.txt")


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (codecs.BOM_UTF16_BE + "\x00ab".encode("utf-16-be"), 2),  # the very first character
        (codecs.BOM_UTF32_LE + "a\x00b\x00".encode("utf-32-le"), 8),  # the first of two
    ],
)
def test_the_first_nul_of_a_wide_text_is_reported(data: bytes, offset: int) -> None:
    with pytest.raises(InputError, match=rf"NUL byte at offset {offset}\)"):
        decode(data, "a.txt")


def test_a_paragraph_separator_starts_a_paragraph() -> None:
    doc = parse("First part here.\u2029Second part here.".encode(), "a.txt")
    assert [p.sentences for p in doc.paragraphs] == [["First part here."], ["Second part here."]]


def test_the_only_boilerplate_message_is_exact() -> None:
    with pytest.raises(InputError) as caught:
        parse(b"Advertisement\nShare\n", "menu.txt")
    assert str(caught.value) == (
        "menu.txt: nothing left to summarize: all 2 line(s) look like site boilerplate "
        "(set input.cleanup = false to keep them)"
    )


def test_furniture_and_repeat_limits_are_inclusive() -> None:
    eight = "Copyright © 2021 Daily Star. All rights reserved."  # eight words
    repeated = " ".join(["word"] * 25)
    lines = [BEFORE, repeated, eight, AFTER, repeated]
    assert clean_lines(lines) == ([BEFORE, repeated, AFTER], [eight, repeated])


@pytest.mark.parametrize(
    ("lines", "removed"),
    [
        # Navigation after the last line of prose, up to five words a line, goes.
        ([BEFORE, "Home", "Contact us", "Shafaq News on your phone"],
         ["Home", "Contact us", "Shafaq News on your phone"]),
        # A line of four words with a full stop is prose.
        (["He died in 1990.", "Shafaq Live"], ["Shafaq Live"]),
        # Without prose before it (a headline has no full stop) nothing is a trailing menu.
        (["Oil prices fall sharply on Monday", "Baghdad"], []),
        (["Oil prices fall", "Markets close lower"], []),
    ],
)  # fmt: skip
def test_trailing_navigation_needs_prose_before_it(lines: list[str], removed: list[str]) -> None:
    kept, gone = clean_lines(lines)
    assert gone == removed
    assert kept == [line for line in lines if line not in removed]


def test_a_line_starting_with_a_capital_x_is_not_a_continuation() -> None:
    assert split_paragraphs(["Oil prices fall", "Xi Jinping visits Baghdad"]) == [
        "Oil prices fall",
        "Xi Jinping visits Baghdad",
    ]


def test_a_paragraph_of_exactly_one_window_is_still_split_into_sentences() -> None:
    sentence = "The council met again on Monday. "
    text = (sentence * (2000 // len(sentence) + 1))[:2000]
    assert len(text) == 2000
    assert len(split_sentences(text)) == 2000 // len(sentence) + 1


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The minister met the ambassadors on Wednesday to discuss security.", "en"),
        ("التقى رئيس الوزراء بالسفراء يوم الأربعاء لبحث الأمن", "ar"),
    ],
)
def test_language_is_detected_with_a_probability(text: str, language: str) -> None:
    found, probability = detect_language(text)
    assert found == language
    assert 0.5 < probability <= 1.0


def test_a_run_reads_utf32_and_fails_a_late_nul_naming_its_offset(tmp_path: Path) -> None:
    text = "The council met on Tuesday. It voted for the budget.\n"
    (tmp_path / "wide.txt").write_bytes(codecs.BOM_UTF32_LE + text.encode("utf-32-le"))
    (tmp_path / "late.txt").write_bytes(text.encode() * 200 + b"\x00" + text.encode())
    report = run(load_config(None, ECHO[1::2]), [str(tmp_path)])
    assert [r.reason for r in report.failures] == [
        f"{tmp_path / 'late.txt'}: binary data (NUL byte at offset {len(text) * 200}), "
        "not a text article"
    ]
    assert (tmp_path / "wide.ar.txt").read_text(encoding="utf-8").rstrip() == text.rstrip()
