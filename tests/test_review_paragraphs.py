"""The review's English is the text the run segmented, so a flag's span marks what was flagged."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings

from summarize.cli import main
from summarize.config import load_config
from summarize.discovery import Job
from summarize.errors import InputError
from summarize.review_sources import read_english
from summarize.sidecar import parse as parse_sidecar
from summarize.text import decode_lines, parse
from tests.html_tree import parse_html
from tests.review_data import SETTINGS, UNTRANSLATED, run_corpus, spell
from tests.test_text_layout import WRAPPED, articles

FLAGGED = f"{UNTRANSLATED} traders said the mood on the floor was grim all day."
# Sentences that end without a space, a line cleanup removes between the halves of a wrapped
# sentence, and the flagged sentence after them in the same paragraph.
ARTICLE = (
    "Markets in turmoil\n"
    "Home | World | Business\n"
    "Prices rose 5%.Markets fell sharply on Monday as the\n"
    "Share this article\n"
    f"traders sold.Really?!Yes, said Mr. Smith of the U.S. Treasury. {FLAGGED}\n"
)


@settings(max_examples=150, deadline=None)
@given(articles)
@example(WRAPPED)
@example(ARTICLE)
def test_the_reviews_paragraphs_are_the_runs_paragraphs(text: str) -> None:
    data = text.encode()
    try:
        doc = parse(data, "a.txt")
    except InputError:
        return
    lines = decode_lines(data, "a.txt")
    kept = {i for p in doc.paragraphs for i in p.lines}
    removed = [i for i, line in enumerate(lines) if line and i not in kept]
    firsts = [p.lines[0] for p in doc.paragraphs]
    expected = [(sum(f < i for f in firsts), lines[i]) for i in removed]
    config = load_config(None, [])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "a.txt")
        path.write_bytes(data)
        for sidecar in (None, parse_sidecar({"removed_lines": doc.removed})):
            english, placed, error = read_english(config, Job(path), sidecar)
            assert error is None
            assert english == [p.text for p in doc.paragraphs]
            assert placed == expected


def test_the_flagged_sentence_is_marked_exactly_after_sentences_without_spaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("news").mkdir()
    Path("news/a.txt").write_text(ARTICLE, encoding="utf-8")
    # A small budget puts the flagged sentence in a segment of its own.
    run_corpus(["news"], None, "translator.max_input_tokens=16")
    paragraph = ARTICLE.split("\n", 2)[2].replace("\nShare this article\n", " ").strip()
    before = paragraph.removesuffix(FLAGGED).strip()
    arabic = Path("news/a.ar.txt").read_text(encoding="utf-8").split("\n\n")
    assert arabic[1].strip() == f"{spell(before)} {FLAGGED}"  # no space added after "5%."

    options = [item for s in SETTINGS for item in ("--set", s)]
    assert main(["review", "news", *options, "-o", "page.html"]) == 0
    page = parse_html(Path("page.html").read_text(encoding="utf-8"))
    rows = [
        r
        for r in page.find_all("div", "pair")
        if "removed" not in r.classes and r.parent is not None and "summary" not in r.parent.classes
    ]
    assert [r.find("p", "en").text for r in rows][1].startswith(paragraph)
    assert [m.text for r in rows for m in r.find("p", "en").find_all("mark")] == [FLAGGED]
    assert [m.text for r in rows for m in r.find("p", "ar").find_all("mark")] == [FLAGGED]
