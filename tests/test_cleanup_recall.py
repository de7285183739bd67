"""Cleanup on the labelled pages of tests/data/cleanup: it never removes article text, it removes
at least nine furniture lines in ten, and extra furniture anywhere changes nothing else."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarize import run
from summarize.config import load_config
from summarize.text import clean_lines
from tests.conftest import ECHO, ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from cleanup_recall import ARTICLE, FURNITURE, Labelled, Score, load, load_all, score

PAGES = load_all()

# Furniture that cleanup recognises by itself, wherever it stands: what a scraper may leave
# between any two lines of an article.
INSERTED = [
    "Advertisement",
    "Share this article",
    "Facebook Twitter WhatsApp Email",
    "Home | World | Business | Sport",
    "Read more: Oil prices rise on supply worries",
    "Photo: Ahmed Karim/Reuters",
    "Published 14 March 2025",
    "By Layla Hassan",
    "Sign up for our daily newsletter",
    "Get our free app",
    "We use cookies to improve your experience. By using this site you agree to our use of "
    "cookies.",
    "© 2025 Gulf Courier. All rights reserved.",
    "4 min read",
]


def test_the_set_is_labelled_line_by_line_and_large_enough() -> None:
    assert len(PAGES) >= 20
    for page in PAGES:
        assert {FURNITURE, ARTICLE} <= set(page.labels), page.name
        raw = (ROOT / "tests" / "data" / "cleanup" / f"{page.name}.txt").read_text("utf-8")
        assert [line[2:] for line in raw.splitlines()] == page.lines  # labels stripped


def test_a_line_without_a_label_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("A Oil prices fall\nOil prices fall\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt:2: expected 'F text' or 'A text'"):
        load(tmp_path / "bad.txt")


def test_no_article_line_is_ever_removed_and_nine_furniture_lines_in_ten_are() -> None:
    total = Score()
    for page in PAGES:
        total.add(score(page))
    assert total.removed_article == []
    assert total.precision == 1.0
    assert total.recall >= 0.90, total.kept_furniture


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_each_page_keeps_every_article_line_in_order(page: Labelled) -> None:
    kept, _ = clean_lines(page.lines)
    article = [line for line, label in zip(page.lines, page.labels, strict=True) if label == "A"]
    assert [line for line in kept if line in set(article)] == article


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_inserted_furniture_is_removed_and_changes_nothing_else(data: st.DataObject) -> None:
    """The property: for any labelled page with furniture lines inserted anywhere, every
    article line survives verbatim and in order, every inserted line is removed, kept and
    removed lines together are exactly the input, and what is kept is what was kept before."""
    page = data.draw(st.sampled_from(PAGES))
    inserts = data.draw(
        st.lists(st.tuples(st.integers(0, len(page.lines)), st.sampled_from(INSERTED)), max_size=6)
    )
    lines = list(page.lines)
    for position, line in sorted(inserts, key=lambda item: -item[0]):
        lines.insert(position, line)
    kept, removed = clean_lines(lines)
    assert kept == clean_lines(page.lines)[0]
    assert Counter(kept) + Counter(removed) == Counter(lines)
    assert Counter(line for _, line in inserts) <= Counter(removed)


def test_the_sidecar_lists_exactly_the_removed_lines(tmp_path: Path) -> None:
    page = PAGES[0]
    (tmp_path / "page.txt").write_text("\n".join(page.lines) + "\n", encoding="utf-8")
    report = run(load_config(None, ECHO[1::2]), [str(tmp_path)])
    assert report.failures == []
    sidecar = json.loads((tmp_path / "page.summarize.json").read_text(encoding="utf-8"))
    furniture = [line for line, label in zip(page.lines, page.labels, strict=True) if label == "F"]
    assert sidecar["removed_lines"] == furniture
    translated = (tmp_path / "page.ar.txt").read_text(encoding="utf-8")
    for line, label in zip(page.lines, page.labels, strict=True):
        if label == ARTICLE:
            assert line in translated
