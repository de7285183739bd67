"""The review page: overview counts, sections, paragraph pairs, flags, removed lines, escaping."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from summarize.cli import main
from summarize.config import load_config
from summarize.review import default_output, gather
from summarize.review_html import page
from tests.conftest import ROOT
from tests.html_tree import Element, parse_html
from tests.review_data import CALM, SETTINGS, UNTRANSLATED, run_corpus, spell, write_corpus

SET = [item for setting in SETTINGS for item in ("--set", setting)]
HOSTILE_NAME = 'evil<b>"x".txt'
CORPUS_NAMES = ["calm.txt", "flagged.txt", 'evil<b>"x".txt', "binary.txt"]


@pytest.fixture
def news(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run over four articles (one flagged, one failed), its report in news.jsonl."""
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "news", hostile_name=HOSTILE_NAME)
    run_corpus(["news"], tmp_path / "news.jsonl")
    return tmp_path / "news"


def review(*args: str) -> Element:
    assert main(["review", *args, *SET, "-o", "page.html"]) == 0
    return parse_html(Path("page.html").read_text(encoding="utf-8"))


def sections(page: Element) -> dict[str, Element]:
    """Each article's section by the article's name."""
    return {s.find("span", "name").text: s for s in page.find_all("section")}


def counts(page: Element) -> dict[str, int]:
    return {td.attrs["data-status"]: int(td.text) for td in page.find_all("td") if td.attrs}


def rows(section: Element) -> list[Element]:
    """The paragraph rows of the article (the summary's pair left out)."""
    return [
        d
        for d in section.find_all("div", "pair")
        if d.parent is not None and "summary" not in d.parent.classes
    ]


def test_the_overview_counts_every_status_and_lists_what_needs_a_look(news: Path) -> None:
    page = review("news", "--report", "news.jsonl")
    assert counts(page) == {"flagged": 1, "failed": 1, "done": 2}
    needing = page.find("ul", "attention").find_all("li")
    names = [li.find("a").text for li in needing]
    assert names == ["news/flagged.txt", "news/binary.txt"]
    links = {li.find("a").text: li.find("a").attrs["href"] for li in needing}
    ids = {s.attrs["id"] for s in page.find_all("section")}
    assert {href.removeprefix("#") for href in links.values()} <= ids
    assert "binary data (NUL byte at offset 0)" in needing[1].text
    assert "article_ar identical" in needing[0].text
    assert "3 articles done (1 flagged), 1 failed" in page.find("header").text


def test_without_the_report_a_failed_article_shows_as_not_processed(news: Path) -> None:
    page = review("news")
    assert counts(page) == {"flagged": 1, "failed": 0, "not processed": 1, "done": 2}
    assert "no outputs yet" in sections(page)["news/binary.txt"].text


def test_one_section_per_article_flagged_first_and_open(news: Path) -> None:
    page = review("news", "--report", "news.jsonl")
    found = page.find_all("section")
    names = [s.find("span", "name").text for s in found]
    assert names == ["news/flagged.txt", "news/binary.txt", "news/calm.txt", f"news/{HOSTILE_NAME}"]
    assert len({s.attrs["id"] for s in found}) == 4
    assert "open" in found[0].find("details").attrs
    assert all("open" not in s.find("details").attrs for s in found[1:])
    assert "st-flagged" in found[0].classes


def test_paragraphs_pair_with_their_translations_in_order(news: Path) -> None:
    page = review("news")
    calm = sections(page)["news/calm.txt"]
    pairs = [r for r in rows(calm) if "removed" not in r.classes]
    english = [r.find("p", "en").text for r in pairs]
    arabic = [r.find("p", "ar").text for r in pairs]
    assert english == [
        "City council approves new budget",
        "The city council approved a new budget on Monday after a long debate.",
        "Schools will receive more money, and two new libraries will open next year.",
        "The mayor said the plan keeps taxes where they are.",
    ]
    assert arabic == [spell(e) for e in english]
    assert arabic == (news / "calm.ar.txt").read_text(encoding="utf-8").strip().split("\n\n")


def test_removed_lines_are_struck_through_where_they_were(news: Path) -> None:
    page = review("news")
    calm = sections(page)["news/calm.txt"]
    shown = [
        ("del:" + r.find("del").text) if "removed" in r.classes else r.find("p", "en").text
        for r in rows(calm)
    ]
    original = [line for line in CALM.splitlines() if line]
    sidecar = json.loads((news / "calm.summarize.json").read_text(encoding="utf-8"))
    removed = sidecar["removed_lines"]
    assert removed == [
        "Home | World | Business",
        "By Layla Hassan",
        "Share this article",
        "Most read",
    ]
    assert shown == [f"del:{line}" if line in removed else line for line in original]


def test_a_repeated_title_is_struck_where_cleanup_dropped_it_not_where_it_first_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = (
        "Oil prices fall\nOil prices fall\nOil prices fell on Monday as supply grew in the Gulf.\n"
    )
    Path("a").mkdir()
    Path("a/oil.txt").write_text(text, encoding="utf-8")
    run_corpus(["a"])
    shown = [
        r.find("del").text if "removed" in r.classes else ""
        for r in rows(sections(review("a"))["a/oil.txt"])
    ]
    assert shown == ["", "Oil prices fall", ""]


def test_flagged_segments_are_marked_with_check_value_and_threshold(news: Path) -> None:
    page = review("news")
    flagged = sections(page)["news/flagged.txt"]
    english = [m for r in rows(flagged) for m in r.find("p", "en").find_all("mark")]
    assert [m.text for m in english] == [
        f"{UNTRANSLATED} residents near the river were asked to move to higher ground."
    ]
    row = next(r for r in rows(flagged) if r.find_all("mark"))
    # the Arabic side marks that segment's own output, where the sidecar placed it
    (arabic,) = row.find("p", "ar").find_all("mark")
    assert arabic.text == english[0].text  # the identical check: the "Arabic" is the English
    assert arabic.attrs["title"] == "identical, script"
    label = row.find("span", "check").text
    assert re.search(r"identical 1 \(threshold 1\)", label)
    assert re.search(r"script 0\.\d+ \(threshold 0\.8\)", label)
    assert "flagged" in row.find("p", "ar").classes
    summary = flagged.find("div", "summary")
    assert "summary_ar segment 0: script" in summary.text
    assert not sections(page)["news/calm.txt"].find_all("mark")


def test_arabic_blocks_say_their_language_and_direction(news: Path) -> None:
    page = review("news")
    arabic = [p for p in page.find_all("p", "ar") if re.search("[\u0600-\u06ff]", p.text)]
    assert len(arabic) >= 8
    assert all(p.attrs.get("lang") == "ar" and p.attrs.get("dir") == "rtl" for p in arabic)
    english = page.find_all("p", "en")
    assert all(p.attrs.get("lang") == "en" and "dir" not in p.attrs for p in english)
    assert "Noto Naskh Arabic" in page.find("style").text


def test_hostile_text_and_names_are_shown_as_text(news: Path) -> None:
    raw_page = review("news")
    raw = Path("page.html").read_text(encoding="utf-8")
    assert not raw_page.find_all("script")
    assert not raw_page.find_all("b")
    hostile = sections(raw_page)[f"news/{HOSTILE_NAME}"]
    text = hostile.text
    assert '<script>alert("x")</script>' in text
    assert "</div> and a </section>" in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in raw
    assert "evil&lt;b&gt;&quot;x&quot;.txt" in raw


def test_a_name_that_turns_text_right_to_left_cannot_reorder_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # U+202E in a name would show the reason after it backwards ("exe.txt" spoofing): it is shown
    # escaped, as in every message. Arabic letters would carry the punctuation and figures
    # beside them. Each is isolated in a <bdi>.
    monkeypatch.chdir(tmp_path)
    spoof, arabic = "news/inv\u202etxt.exe.txt", "news/تقرير 2024.txt"
    write_corpus(tmp_path / "news", hostile_name=Path(spoof).name)
    (tmp_path / arabic).write_bytes(b"\x00binary")
    run_corpus(["news"], tmp_path / "news.jsonl")
    pages = [(["-o", "page.html"], "page.html"), (["--split"], "news.review/index.html")]
    for args, index in pages:
        assert main(["review", "news", *SET, "--report", "news.jsonl", *args]) == 0
        page = parse_html(Path(index).read_text(encoding="utf-8"))
        names = page.find_all("a") + page.find_all("span", "name") + page.find_all("span", "reason")
        shown = {e.text for e in names}
        assert "news/inv\\u202etxt.exe.txt" in shown and arabic in shown
        assert "NUL byte" in " ".join(shown) and not any(spoof in text for text in shown)
        for element in names:
            assert [c.tag for c in element.children if not isinstance(c, str)] == ["bdi"]


def test_the_page_loads_nothing_from_anywhere(news: Path) -> None:
    review("news", "--report", "news.jsonl")
    raw = Path("page.html").read_text(encoding="utf-8")
    assert not re.search(r"https?:|//[a-z]|@import|url\(", raw, re.I)
    for reference in re.findall(r'\b(?:src|href|action|data)="([^"]*)"', raw):
        assert reference.startswith("#"), reference
    assert "<link" not in raw and "<iframe" not in raw and "<img" not in raw


def test_a_filter_shows_only_flagged_articles_with_css_alone(news: Path) -> None:
    page = review("news")
    box = page.find("input")
    assert box.attrs == {"type": "checkbox", "id": "only-flagged"}
    body = page.find("body")
    siblings = [c for c in body.children if isinstance(c, Element)]
    assert siblings.index(box) < siblings.index(body.find("main"))
    assert (
        "#only-flagged:checked~main section:not(.st-flagged){display:none}"
        in page.find("style").text
    )
    # The index of --split pages has it too, over its list of articles.
    assert main(["review", "news", *SET, "--split"]) == 0
    index = parse_html(Path("news.review/index.html").read_text(encoding="utf-8"))
    box = index.find("input")
    assert box.attrs == {"type": "checkbox", "id": "only-flagged"}
    siblings = [c for c in index.find("body").children if isinstance(c, Element)]
    assert siblings.index(box) < siblings.index(index.find("main"))
    assert index.find("main").find("ul", "all").find_all("li")
    rule = "#only-flagged:checked~main ul.all>li:not(.st-flagged){display:none}"
    assert rule in index.find("style").text


def test_time_per_stage_is_an_inline_chart_of_the_sidecars_seconds(news: Path) -> None:
    page = review("news")
    svg = page.find("svg")
    labels = [t.text for t in svg.find_all("text")]
    # Guard retries (the corpus has a flagged article) are timed apart from the first pass.
    assert labels[0::2] == ["read", "summarize", "translate", "guard"]
    read = sum(
        json.loads(p.read_text(encoding="utf-8"))["seconds"]["read"]
        for p in news.glob("*.summarize.json")
    )
    assert labels[1] == f"{read:.2f} s"


def test_settings_signature_and_models_are_shown(news: Path) -> None:
    page = review("news")
    header = page.find("header").text
    # Each model with the engine it ran on, its device and dtype, and how it was asked.
    assert "translator: lexicon (lexicon, cpu, none); Latin letters spelled in Arabic" in header
    signature = json.loads((news / "calm.summarize.json").read_text(encoding="utf-8"))["signature"]
    assert page.find("p", "signature").text == signature
    assert "3 article(s)" in header


def test_a_changed_input_is_out_of_date_and_a_new_one_not_processed(news: Path) -> None:
    (news / "calm.txt").write_text(CALM + "A late correction was added.\n", encoding="utf-8")
    (news / "fresh.txt").write_text("A new story arrived after the run.\n", encoding="utf-8")
    page = review("news", "--report", "news.jsonl")
    found = sections(page)
    assert "st-out-of-date" in found["news/calm.txt"].classes
    assert "input changed" in found["news/calm.txt"].find("summary").text
    assert "st-not-processed" in found["news/fresh.txt"].classes
    assert counts(page)["out of date"] == 1


def test_rows_that_do_not_line_up_are_said_to(news: Path) -> None:
    arabic = news / "calm.ar.txt"
    arabic.write_text(arabic.read_text(encoding="utf-8").split("\n\n")[0] + "\n", encoding="utf-8")
    found = sections(review("news"))["news/calm.txt"]
    assert "has 1 paragraph(s), the cleaned English 4" in found.find("ul", "notes").text
    assert [p.text for p in found.find_all("p", "ar")][-1] == "not translated"


def test_an_emptied_arabic_output_has_no_paragraph(news: Path) -> None:
    (news / "calm.ar.txt").write_text("", encoding="utf-8")
    found = sections(review("news"))["news/calm.txt"]
    assert "has 0 paragraph(s), the cleaned English 4" in found.find("ul", "notes").text
    arabic = [p.text for r in rows(found) for p in r.find_all("p", "ar")]
    assert arabic == ["not translated"] * 4


def test_the_default_page_is_beside_the_directory_and_never_an_input(
    news: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_output(["news"]) == Path("news.review.html")
    assert default_output([str(news)]) == news.parent / "news.review.html"
    assert default_output(["news/calm.txt"]) == Path("review.html")
    assert main(["review", "news", *SET]) == 0
    assert (news.parent / "news.review.html").is_file()
    # A page inside the tree, with globs that take it, would be the next run's article: refused.
    takes_html = ["--set", 'input.globs=["*.txt", "*.html"]']
    assert main(["review", "news", *SET, *takes_html, "-o", "news/page.html"]) == 2
    assert not (news / "page.html").exists()
    # With globs that leave it out, it is written there, and never one of its own articles.
    assert main(["review", "news", *SET, "-o", "news/page.html"]) == 0
    assert main(["review", "news", *SET, "-o", "news/page.html"]) == 0
    page = parse_html((news / "page.html").read_text(encoding="utf-8"))
    assert "news/page.html" not in sections(page)
    assert len(sections(page)) == 4


def test_a_page_can_go_to_standard_output(news: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "news", *SET, "-o", "-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!DOCTYPE html>")
    assert len(sections(parse_html(out))) == 4
    assert not Path("review.html").exists() and not Path("news.review.html").exists()


def test_a_page_on_standard_output_is_utf8_whatever_the_locale(news: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "ascii"}
    command = [sys.executable, "-m", "summarize", "review", "news", *SET, "-o", "-"]
    done = subprocess.run(command, capture_output=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode("utf-8")
    assert '<meta charset="utf-8">' in out and "صدور تحذيرات" in out
    assert len(sections(parse_html(out))) == 4


def test_split_writes_an_index_and_one_page_per_article(news: Path) -> None:
    assert main(["review", "news", *SET, "--split", "-o", "pages"]) == 0
    index = parse_html(Path("pages/index.html").read_text(encoding="utf-8"))
    links = [a.attrs["href"] for a in index.find("ul", "all").find_all("a")]
    assert len({h for h in links}) == 4
    for href in links:
        assert re.fullmatch(r"articles/a-[0-9a-f]{12}\.html", href)
        article = parse_html((Path("pages") / href).read_text(encoding="utf-8"))
        assert len(article.find_all("section")) == 1
        assert "open" in article.find("details").attrs
        assert article.find("a").attrs["href"] == "../index.html"
    # A second split after an article is gone drops its page, and nothing else of the folder.
    (news / "calm.txt").unlink()
    (Path("pages/articles") / "notes.html").write_text("mine", encoding="utf-8")
    assert main(["review", "news", *SET, "--split", "-o", "pages"]) == 0
    left = sorted(p.name for p in Path("pages/articles").iterdir())
    assert len(left) == 4 and "notes.html" in left
    assert sorted(Path(h).name for h in links if (Path("pages") / h).exists()) == left[:3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere"], "nowhere"),
        (["-"], "not - (stdin)"),
        (["news", "--report", "missing.jsonl"], "missing.jsonl: cannot read the report"),
        (["news", "-o", ""], ".: a folder, not a page"),
        (["news", "-o", "news/.."], "news/..: a folder, not a page"),
    ],
)
def test_bad_usage_exits_2_naming_the_file(
    news: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["review", *args, *SET]) == 2
    assert message in capsys.readouterr().err


def test_split_pages_cannot_go_to_standard_output(
    news: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["review", "news", "--split", "-o", "-"])
    assert exc.value.code == 2
    assert "not standard output" in capsys.readouterr().err


def test_an_unwritable_page_is_an_error_naming_it(
    news: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", "news", *SET, "-o", "no/such/dir/page.html"]) == 2
    assert "no/such/dir/page.html" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["-o", "news/calm.txt"], "news/calm.txt"),
        (["--report", "news.jsonl", "-o", "news.jsonl"], "news.jsonl"),
        (["--split", "-o", "news"], "news/index.html"),
    ],
)
def test_a_page_never_replaces_a_file_that_is_not_a_page(
    news: Path, capsys: pytest.CaptureFixture[str], args: list[str], target: str
) -> None:
    Path("news/index.html").write_text("my own index, not a page\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in news.parent.rglob("*") if p.is_file()}
    assert main(["review", "news", *SET, *args]) == 2
    assert f"{target}: exists and is not an HTML page" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in news.parent.rglob("*") if p.is_file()} == before
    # An earlier page, or any HTML file, is replaced as before.
    Path("page.html").write_text("<!doctype html><title>old</title>", encoding="utf-8")
    assert main(["review", "news", *SET, "-o", "page.html"]) == 0
    assert "Review of news" in Path("page.html").read_text(encoding="utf-8")


def test_gather_reads_without_a_report_and_sorts_flagged_first(news: Path) -> None:
    config = load_config(None, SETTINGS)
    found = gather(config, ["news"])
    assert [a.status.value for a in found.articles] == ["flagged", "not processed", "done", "done"]
    assert found.run_summary is None


def test_review_never_imports_a_model_library(news: Path) -> None:
    code = (
        "import sys; from summarize.cli import main; "
        f"code = main(['review', 'news', *{SET!r}, '-o', 'page.html']); "
        "heavy = [m for m in ('torch', 'transformers', 'ctranslate2') if m in sys.modules]; "
        "print(heavy); sys.exit(code)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_report_written_in_another_folder_still_names_the_failures(
    news: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = news.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    page = review("../news", "--report", "../news.jsonl")
    assert counts(page)["failed"] == 1
    assert "binary data" in sections(page)["../news/binary.txt"].text


def test_a_failure_that_a_later_run_made_good_is_not_shown_as_failed(news: Path) -> None:
    # news.jsonl failed binary.txt; the article is mended and done by a run without --report.
    (news / "binary.txt").write_text("The mended article reads well now.\n", encoding="utf-8")
    run_corpus(["news"])
    sidecar = (news / "binary.summarize.json").stat().st_mtime_ns
    os.utime("news.jsonl", ns=(sidecar - 10**9, sidecar - 10**9))
    page = review("news", "--report", "news.jsonl")
    assert counts(page)["failed"] == 0
    assert "st-done" in sections(page)["news/binary.txt"].classes
    # A report written after the outputs (a --strict run fails a flagged article) still counts.
    os.utime("news.jsonl", ns=(sidecar + 10**9, sidecar + 10**9))
    assert counts(review("news", "--report", "news.jsonl"))["failed"] == 1


def test_a_failure_in_a_file_whose_name_is_not_utf8_is_found_in_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The report names it news/bad\xff.txt (as every message does); the disk holds byte 0xff.
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "news")
    (tmp_path / "news" / os.fsdecode(b"bad\xff.txt")).write_bytes(b"\x00binary")
    run_corpus(["news"], tmp_path / "news.jsonl")
    page = review("news", "--report", "news.jsonl")
    assert counts(page)["failed"] == 2
    assert "NUL byte" in sections(page)["news/bad\\xff.txt"].text


@pytest.fixture
def cafe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run over news/caf\\xe9.txt, whose name holds byte 0xe9 (not UTF-8)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / os.fsdecode(b"caf\xe9.txt")).write_text(CALM, encoding="utf-8")
    run_corpus(["news"])
    assert len(list((tmp_path / "news").iterdir())) == 5  # the article and its four files
    return tmp_path / "news"


def test_an_article_whose_name_is_not_utf8_is_shown_with_its_outputs(cafe: Path) -> None:
    section = sections(review("news"))["news/caf\\xe9.txt"]
    assert "st-done" in section.classes, section.find("summary").text
    summary = (cafe / os.fsdecode(b"caf\xe9.summary.txt")).read_text(encoding="utf-8")
    assert summary.strip() in section.find("div", "summary").text
    assert "cannot read" not in section.text


def test_a_sidecar_of_an_earlier_version_naming_outputs_as_shown_still_finds_them(
    cafe: Path,
) -> None:
    sidecar = cafe / os.fsdecode(b"caf\xe9.summarize.json")
    record = json.loads(sidecar.read_text(encoding="utf-8"))
    record["outputs"] = {k: n.replace("\udce9", "\\xe9") for k, n in record["outputs"].items()}
    sidecar.write_text(json.dumps(record), encoding="utf-8")
    section = sections(review("news"))["news/caf\\xe9.txt"]
    assert "st-done" in section.classes, section.find("summary").text
    assert "cannot read" not in section.text


def test_an_output_that_is_a_fifo_is_said_and_never_waited_on(news: Path) -> None:
    (news / "calm.summary.txt").unlink()
    os.mkfifo(news / "calm.summary.txt")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "summarize", "review", "news", *SET, "-o", "page.html"]
    done = subprocess.run(command, capture_output=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    calm = sections(parse_html(Path("page.html").read_text(encoding="utf-8")))["news/calm.txt"]
    assert "calm.summary.txt: cannot read (not a regular file but a FIFO)" in calm.text


def test_outputs_under_an_output_directory_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "news")
    run_corpus(["news"], output_dir=Path("out"))
    assert counts(review("news", "--output-dir", "out"))["done"] == 2
    assert counts(review("news"))["not processed"] == 4


def test_the_runs_report_and_output_directory_inside_the_tree_are_not_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "news")
    run_corpus(["news"], Path("news/report.txt"), output_dir=Path("news/out"))
    Path("news/out/notes.txt").write_text("A note among the outputs.\n", encoding="utf-8")
    page = review("news", "--report", "news/report.txt", "--output-dir", "news/out")
    assert sorted(sections(page)) == sorted(f"news/{n}" for n in CORPUS_NAMES)
    assert "skipped" not in capsys.readouterr().err


def test_articles_whose_outputs_collide_are_failed_as_run_refuses_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # news/a/calm.txt was run alone into out/; named with news/b/calm.txt, both would write
    # out/calm.*, so run refuses both, and what lies in out/ is not news/b/calm.txt's.
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "news/a")
    write_corpus(tmp_path / "news/b")
    run_corpus(["news/a/calm.txt"], output_dir=Path("out"))
    assert counts(review("news/a/calm.txt", "--output-dir", "out")) == {
        "flagged": 0, "failed": 0, "done": 1
    }  # fmt: skip
    page = review("news/a/calm.txt", "news/b/calm.txt", "--output-dir", "out")
    assert counts(page) == {"flagged": 0, "failed": 2, "done": 0}
    other = sections(page)["news/b/calm.txt"]
    assert "is also an output of news/a/calm.txt" in other.find("span", "reason").text
    assert not [p for p in other.find_all("p") if p.attrs.get("lang") == "ar"]
    assert not other.find_all("div", "summary")


def test_a_summary_check_marks_the_whole_summary(news: Path) -> None:
    sidecar = news / "calm.summarize.json"
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    flag = {"output": "summary", "segment": 0, "span": [0, 10], "check": "grounding"}
    data["flags"] = [{**flag, "value": 0.2, "threshold": 0.5, "attempts": 1, "repaired": False}]
    sidecar.write_text(json.dumps(data), encoding="utf-8")
    calm = sections(review("news"))["news/calm.txt"]
    assert "st-flagged" in calm.classes
    summary = calm.find("div", "summary")
    assert (
        summary.find("mark").text == (news / "calm.summary.txt").read_text(encoding="utf-8").strip()
    )
    assert "grounding 0.2 (threshold 0.5)" in summary.find("span", "check").text


def test_repaired_segments_are_green_and_flag_nothing(news: Path) -> None:
    sidecar = news / "calm.summarize.json"
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    repaired = {"segment": 0, "span": [0, 10], "check": "script", "value": 0.9, "threshold": 0.8,
                "attempts": 2, "repaired": True, "output_span": [0, 8]}  # fmt: skip
    data["flags"] = [{**repaired, "output": "summary_ar"}, {**repaired, "output": "article_ar"}]
    sidecar.write_text(json.dumps(data), encoding="utf-8")
    calm = sections(review("news"))["news/calm.txt"]
    assert "st-done" in calm.classes
    marks = calm.find_all("mark")
    assert len(marks) == 4 and all(m.classes == {"flag", "repaired"} for m in marks)
    assert not [p for p in calm.find_all("p") if "flagged" in p.classes]
    assert "mark.repaired{background:#d7f0d7}" in review("news").find("style").text


def test_an_unreadable_sidecar_is_out_of_date_and_named(news: Path) -> None:
    (news / "calm.summarize.json").write_text("{not json", encoding="utf-8")
    calm = sections(review("news"))["news/calm.txt"]
    assert "st-out-of-date" in calm.classes
    assert "sidecar unreadable: news/calm.summarize.json" in calm.find("summary").text


def test_a_sidecar_without_its_list_of_outputs_shows_the_configured_ones(news: Path) -> None:
    sidecar = news / "calm.summarize.json"
    sidecar.write_text(
        json.dumps({**json.loads(sidecar.read_text(encoding="utf-8")), "outputs": None}),
        encoding="utf-8",
    )
    calm = sections(review("news"))["news/calm.txt"]
    assert "st-done" in calm.classes
    arabic = (news / "calm.ar.txt").read_text(encoding="utf-8").split("\n\n")[0]
    assert arabic in [p.text for r in rows(calm) for p in r.find_all("p", "ar")]
    assert calm.find("div", "summary")


def test_a_flag_the_page_cannot_read_asks_for_a_look_and_is_never_done(news: Path) -> None:
    sidecar = news / "calm.summarize.json"
    record = json.loads(sidecar.read_text(encoding="utf-8"))
    record["flags"] = [{"output": "article_ar", "segment": 0, "check": "script", "value": None}]
    sidecar.write_text(json.dumps(record), encoding="utf-8")
    calm = sections(review("news"))["news/calm.txt"]
    # Not what the tool writes: run redoes it, and the page says so.
    assert "st-out-of-date" in calm.classes
    assert "sidecar malformed (flags)" in calm.find("summary").text
    assert "1 flag(s) in the sidecar cannot be read" in calm.find("ul", "warnings").text


def test_a_sidecars_notes_are_shown_and_flag_nothing(news: Path) -> None:
    sidecar = news / "calm.summarize.json"
    record = json.loads(sidecar.read_text(encoding="utf-8"))
    record["notes"] = ["summarised in 3 chunks, then their summaries (map-reduce)"]
    sidecar.write_text(json.dumps(record), encoding="utf-8")
    found = sections(review("news"))["news/calm.txt"]
    assert "(map-reduce)" in found.find("ul", "notes").text
    assert "st-done" in found.classes


def test_the_command_says_where_the_page_went_and_what_it_counts(
    news: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", "news", *SET, "--report", "news.jsonl"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err
        == "summarize: wrote news.review.html: 4 articles (1 flagged, 1 failed, 2 done)\n"
    )
    assert main(["review", "news/", *SET, "-q"]) == main(["review", str(news), *SET, "-q"]) == 0
    assert main(["review", ".", *SET]) == 0
    where = news.parent.parent / f"{news.parent.name}.review.html"
    assert capsys.readouterr().err.startswith(f"summarize: wrote {where}: 4 articles")
    assert main(["review", "news", *SET, "-q", "-o", "-"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out.startswith("<!DOCTYPE html>")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
SIDECAR_KEYS = ("outputs", "flags", "warnings", "notes", "seconds", "engines", "removed_lines",
                "signature", "input", "counts")  # fmt: skip


@pytest.fixture(scope="module")
def done_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run, whose sidecars the fuzz test then spoils one key at a time."""
    folder = tmp_path_factory.mktemp("fuzz") / "news"
    write_corpus(folder)
    run_corpus([str(folder)])
    return folder


@pytest.mark.parametrize("key", SIDECAR_KEYS)
@settings(max_examples=25, deadline=None)
@given(value=JSON, into_list=st.booleans())
@example(value=None, into_list=False).via("a key present but null")
@example(value={"span": None}, into_list=True).via("a malformed item in a list")
@example(
    value={"output": "article_ar", "segment": 0, "span": [0, 1], "check": "x", "value": 1,
           "threshold": 1, "output_span": [3]}, into_list=True,
).via("an output span that is not a pair")  # fmt: skip
def test_a_sidecar_with_any_values_is_reviewed_without_a_crash(
    done_once: Path, key: str, value: object, into_list: bool
) -> None:
    sidecar = done_once / "flagged.summarize.json"
    record = json.loads(sidecar.read_text(encoding="utf-8"))
    spoiled = {**record, key: value}
    if into_list and isinstance(record.get(key), list):  # a bad item among good ones
        spoiled = {**record, key: [*record[key], value]}
    try:
        sidecar.write_text(json.dumps(spoiled), encoding="utf-8")
        review = gather(load_config(None, SETTINGS), [str(done_once)])
        html = page(review, "fuzz")
    finally:
        sidecar.write_text(json.dumps(record), encoding="utf-8")
    assert len(review.articles) == 4
    assert html.count("<section") == 4


def test_the_arabic_mark_covers_the_flagged_output_alone(news: Path) -> None:
    arabic = (news / "calm.ar.txt").read_text(encoding="utf-8").rstrip("\n")
    second = arabic.split("\n\n")[1]
    start = arabic.index(second) + 3  # a span inside the second paragraph
    sidecar = news / "calm.summarize.json"
    record = json.loads(sidecar.read_text(encoding="utf-8"))
    record["flags"] = [{"output": "article_ar", "segment": 1, "span": [0, 5], "check": "script",
                        "value": 0.2, "threshold": 0.8, "attempts": 2, "repaired": False,
                        "output_span": [start, start + 7]}]  # fmt: skip
    sidecar.write_text(json.dumps(record), encoding="utf-8")
    calm = sections(review("news"))["news/calm.txt"]
    arabic_blocks = [p for r in rows(calm) for p in r.find_all("p") if "ar" in p.classes]
    (mark,) = [m for p in arabic_blocks for m in p.find_all("mark")]
    assert mark.text == second[3:10]
    assert mark.attrs == {"class": "flag", "title": "script"}
