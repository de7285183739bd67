"""The summarize stage: one chunk gives the summary, more go map-reduce until one is left."""

from __future__ import annotations

from pathlib import Path

from summarize.backends.echo import EchoBackend
from summarize.discovery import Job
from summarize.records import Article
from summarize.settings import SummarizerSettings
from summarize.stages.summarize import summarize
from summarize.text import Document, segment_paragraph

SETTINGS = SummarizerSettings(max_input_tokens=40, max_length=12, min_length=2)


def article(path: Path, sentences: int) -> Article:
    paragraph = [f"Sentence {i} says the council met again." for i in range(sentences)]
    return Article(Job(path), None, "new", doc=Document([segment_paragraph(" ".join(paragraph))]))


def test_short_and_long_articles_are_summarized_together(tmp_path: Path) -> None:
    short, long = article(tmp_path / "s.txt", 1), article(tmp_path / "l.txt", 40)
    failed = Article(Job(tmp_path / "f.txt"), None, "new", error="f.txt: cannot read")
    summarize([short, long, failed], EchoBackend("echo"), SETTINGS, batch_tokens=1000)
    assert (short.counts.summary_chunks, short.counts.summary_rounds) == (1, 1)
    assert short.summary == "Sentence 0 says the council met again."  # echo: shorter than 12
    assert short.warnings == []
    assert long.counts.summary_chunks is not None and long.counts.summary_chunks > 1
    assert long.counts.summary_rounds is not None and long.counts.summary_rounds > 1
    assert long.summary
    assert any("(map-reduce)" in note for note in long.notes)
    assert failed.counts.summary_chunks is None and failed.summary == ""


def test_the_outputs_of_an_article_do_not_depend_on_its_company(tmp_path: Path) -> None:
    alone = article(tmp_path / "a.txt", 25)
    summarize([alone], EchoBackend("echo"), SETTINGS, batch_tokens=1000)
    together = article(tmp_path / "a.txt", 25)
    others = [article(tmp_path / f"o{i}.txt", 5 + 7 * i) for i in range(4)]
    summarize([*others, together], EchoBackend("echo"), SETTINGS, batch_tokens=1000)
    assert (together.summary, together.warnings) == (alone.summary, alone.warnings)
    assert together.counts == alone.counts
