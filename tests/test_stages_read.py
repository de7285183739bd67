"""The read stage: bytes to counted paragraphs and sentences, or a failure naming the article."""

from __future__ import annotations

import io
from pathlib import Path

from summarize.discovery import Job
from summarize.records import Article, Stage
from summarize.settings import InputSettings
from summarize.stages.read import read

TEXT = "The council met on Monday. It voted twice.\n\nThe mayor spoke. Nobody left early.\n"


def test_a_file_is_read_counted_and_fingerprinted(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(TEXT, encoding="utf-8")
    article = Article(Job(path, tmp_path), None, "new")
    read([article], InputSettings())
    assert article.error is None and article.doc is not None
    assert article.doc.paragraphs[1].sentences == ["The mayor spoke.", "Nobody left early."]
    counted = {"characters": article.doc.characters, "paragraphs": 2, "sentences": 4}
    assert article.counts.as_dict() == counted
    assert article.input_info["path"] == str(path)
    assert article.input_info["size"] == len(TEXT)
    assert set(article.seconds) == {Stage.READ}


def test_standard_input_is_read_from_the_stream_given() -> None:
    article = Article(Job(None), None, "stdin")
    read([article], InputSettings(), io.BytesIO(TEXT.encode()))
    assert article.error is None and article.counts.sentences == 4
    assert article.input_info == {"path": "<stdin>"}


def test_an_unreadable_article_fails_alone_naming_why(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(TEXT, encoding="utf-8")
    bad.write_bytes(TEXT.encode() * 10)
    articles = [Article(Job(p, tmp_path), None, "new") for p in (bad, good, tmp_path / "gone.txt")]
    read(articles, InputSettings(max_bytes=200))
    assert [a.error is None for a in articles] == [False, True, False]
    assert articles[0].error == (
        f"{bad}: {len(TEXT) * 10} bytes is more than input.max_bytes (200); "
        "raise it to process this file"
    )
    assert articles[2].error is not None and "cannot read" in articles[2].error
    assert articles[0].doc is None
