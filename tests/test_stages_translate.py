"""The translate stage: limits on a grid, segments within a paragraph, reassembly in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarize.backends.echo import EchoBackend
from summarize.discovery import Job
from summarize.errors import InputError
from summarize.records import Article, Generated, Source
from summarize.settings import TranslatorSettings
from summarize.stages.translate import assemble, output_spans, translate, translation_limit
from summarize.text import Document, parse, segment_paragraph
from tests.test_text_layout import articles

SETTINGS = TranslatorSettings(max_length_ratio=2.0, max_length_extra=16, source_prefix="")


@pytest.mark.parametrize(
    ("tokens", "limit"),
    [(0, 16), (1, 18), (7, 30), (8, 32), (9, 36), (20, 56), (100, 224), (300, 640)],
)
def test_limits_are_rounded_up_onto_a_grid(tokens: int, limit: int) -> None:
    assert translation_limit(tokens, SETTINGS) == limit


@given(st.integers(min_value=0, max_value=100_000))
def test_a_limit_is_at_most_an_eighth_over_and_never_under(tokens: int) -> None:
    asked = 2 * tokens + 16
    assert asked <= translation_limit(tokens, SETTINGS) <= asked * 9 / 8


def test_each_text_is_translated_paragraph_for_paragraph_and_counted(tmp_path: Path) -> None:
    paragraphs = [
        [f"Sentence {p}.{s} of this short article is here." for s in range(5)] for p in range(3)
    ]
    article = Article(
        Job(tmp_path / "a.txt"),
        None,
        "new",
        doc=Document([segment_paragraph(" ".join(p)) for p in paragraphs]),
    )
    article.summary = "A summary. Of two sentences."
    settings = TranslatorSettings(max_input_tokens=20, source_prefix="")
    translate([article], EchoBackend("echo"), settings, [Source.SUMMARY, Source.ARTICLE], 1000)
    assert article.error is None
    assert article.translations[Source.ARTICLE] == "\n\n".join(" ".join(p) for p in paragraphs)
    assert article.translations[Source.SUMMARY] == article.summary
    counts = article.counts
    assert counts.summary_segments == 1 and counts.article_segments is not None
    assert counts.article_segments > len(paragraphs)  # a budget of 20 splits each paragraph
    assert list(counts.as_dict())[:2] == ["summary_segments", "summary_split_sentences"]


def test_an_empty_summary_translates_to_an_empty_text(tmp_path: Path) -> None:
    article = Article(
        Job(tmp_path / "a.txt"), None, "new", doc=Document([segment_paragraph("One sentence.")])
    )
    translate([article], EchoBackend("echo"), SETTINGS, [Source.SUMMARY], 1000)
    assert article.translations == {Source.SUMMARY: ""}
    assert article.counts.summary_segments == 0


SEGMENTS = st.lists(
    st.tuples(
        st.integers(0, 3),  # paragraph
        st.text(alphabet="ab مخ.", max_size=6),  # output, possibly empty
        st.sampled_from([" ", "", "\n"]),  # glue
    ),
    max_size=8,
).map(
    lambda items: [
        Generated(paragraph, "src", (0, 3), 1, output, False, glue)
        for paragraph, output, glue in sorted(items, key=lambda item: item[0])
    ]
)


@given(SEGMENTS)
def test_output_spans_find_each_segment_in_the_assembled_text(segments: list[Generated]) -> None:
    text = assemble(segments)
    spans = output_spans(segments)
    assert len(spans) == len(segments)
    for seg, (start, end) in zip(segments, spans, strict=True):
        assert text[start:end] == seg.output
    # in order, never overlapping: each output is found where it is, not elsewhere
    ends = [end for _, end in spans]
    starts = [start for start, _ in spans]
    assert all(b >= a for a, b in zip(ends, starts[1:], strict=False))
    assert all(end <= len(text) for end in ends)


@settings(max_examples=150, deadline=None)
@given(articles, st.integers(min_value=16, max_value=40))
def test_an_echo_translation_is_the_cleaned_article_and_each_output_stands_at_its_source(
    text: str, budget: int
) -> None:
    """An engine that gives back its input gives back the cleaned text, character for
    character ("5%.Markets" included), and each output's span is its source's span."""
    try:
        doc = parse(text.encode(), "a.txt")
    except InputError:
        return
    article = Article(Job(Path("a.txt")), None, "new", doc=doc)
    article.summary = doc.text.replace("\n\n", " ")
    translator = TranslatorSettings(max_input_tokens=budget, source_prefix="")
    translate([article], EchoBackend("echo"), translator, [Source.SUMMARY, Source.ARTICLE], 1000)
    assert article.translations[Source.ARTICLE] == doc.text
    assert article.translations[Source.SUMMARY] == article.summary
    for source, segments in article.generated.items():
        assert [s.span for s in segments] == output_spans(segments), source


def test_a_summary_sentence_that_ends_without_a_space_is_translated_without_one(
    tmp_path: Path,
) -> None:
    doc = Document([segment_paragraph("One sentence.")])
    article = Article(Job(tmp_path / "a.txt"), None, "new", doc=doc)
    article.summary = "Prices rose 5%.Markets fell on Monday."
    translate([article], EchoBackend("echo"), SETTINGS, [Source.SUMMARY], 1000)
    assert article.translations[Source.SUMMARY] == article.summary
    assert [s.span for s in article.generated[Source.SUMMARY]] == [(0, len(article.summary))]
