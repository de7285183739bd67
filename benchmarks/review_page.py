"""How big the review page of a large run gets, how long ``summarize review`` and Chromium take.

Builds N made-up articles (``corpus.make_corpus``, with site furniture around them), runs them
through the pipeline with the echo summarizer and the tests' model-free lexicon translator
(Arabic script, every tenth article left untranslated in one paragraph so it is flagged), then
times ``python -m summarize review`` (one page, and ``--split``) as a subprocess, records the
page's size, and the time headless Chromium takes to load it and to lay it out and paint it
(``--dump-dom`` and ``--screenshot``, each less the same command on an empty page: the
browser's own start-up). Prints a table. Usage::

    python benchmarks/review_page.py                      # 1,000 articles
    python benchmarks/review_page.py --articles 200
    python benchmarks/review_page.py --screenshot docs/review.png   # the README's picture
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from corpus import make_corpus  # noqa: E402

from tests.review_data import SETTINGS, UNTRANSLATED, run_corpus, write_corpus  # noqa: E402

#: echo summaries are the article cut to summarizer.max_length words: long enough for all
BENCH_SETTINGS = [*SETTINGS, "summarizer.max_length=1000"]
SCREENSHOT_LIMIT = 150_000
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="browser loads timed (median)")
    parser.add_argument(
        "--screenshot", type=Path, metavar="PNG", help="write the README's screenshot instead"
    )
    args = parser.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.screenshot is not None:
            if browser is None:
                parser.error("--screenshot needs chromium on PATH")
            return _screenshot(work, browser, args.screenshot)
        return _benchmark(work, browser, args.articles, args.repeats)


def _benchmark(work: Path, browser: str | None, count: int, repeats: int) -> int:
    news = work / "news"
    started = time.perf_counter()
    _write_articles(news, count)
    run_corpus([str(news)], None, *BENCH_SETTINGS[len(SETTINGS) :])
    print(f"built and ran {count} articles in {time.perf_counter() - started:.1f} s")
    page, pages = work / "page.html", work / "pages"
    rows = [
        ("summarize review (one page), s", f"{_review(news, '-o', str(page)):.2f}"),
        ("summarize review --split, s", f"{_review(news, '--split', '-o', str(pages)):.2f}"),
        ("page size, MB", f"{page.stat().st_size / 1e6:.2f}"),
        ("--split: index page, MB", f"{(pages / 'index.html').stat().st_size / 1e6:.2f}"),
        ("--split: files", str(sum(1 for _ in pages.rglob("*.html")))),
    ]
    if browser is None:
        rows.append(("Chromium", "not installed: load times not measured"))
    else:
        blank = work / "blank.html"
        blank.write_text("<!DOCTYPE html><title>blank</title>", encoding="utf-8")
        timings = _browser_times(browser, work, [blank, page, pages / "index.html"], repeats)
        base_dom, base_shot = timings[blank]
        for label, target in (("page", page), ("--split index", pages / "index.html")):
            dom, shot = timings[target]
            load = _load_event(browser, work, target, repeats)
            rows.append((f"Chromium: navigation to load event, {label}, s", f"{load:.2f}"))
            rows.append(
                (f"Chromium: load and serialise {label} (--dump-dom), s", f"{dom - base_dom:.2f}")
            )
            rows.append((f"Chromium: load, lay out, paint {label}, s", f"{shot - base_shot:.2f}"))
        rows.append(("Chromium start-up (empty page), s", f"{base_dom:.2f}"))
    _table(f"review page of {count} articles", rows)
    return 0


def _write_articles(folder: Path, count: int) -> None:
    """Made-up articles with a navigation bar, a byline and a share row; every tenth has a
    paragraph the lexicon leaves untranslated (a flagged article)."""
    folder.mkdir(parents=True)
    rng = random.Random(0)
    for index, text in enumerate(make_corpus(count, min_words=120, max_words=600)):
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        if index % 10 == 0 and len(paragraphs) > 2:
            paragraphs[2] = f"{UNTRANSLATED} {paragraphs[2]}"
        byline = f"By {rng.choice(['Layla Hassan', 'Omar Said', 'Staff Reporter'])}"
        lines = ["Home | World | Business", paragraphs[0], byline, *paragraphs[1:2]]
        lines += ["Share this article", *paragraphs[2:], "Most read"]
        (folder / f"article-{index:04d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _review(news: Path, *args: str) -> float:
    settings = [item for setting in BENCH_SETTINGS for item in ("--set", setting)]
    command = [sys.executable, "-m", "summarize", "review", str(news), *settings, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, timeout=600)
    return time.perf_counter() - started


def _browser_times(
    browser: str, work: Path, pages: list[Path], repeats: int
) -> dict[Path, tuple[float, float]]:
    """Median seconds of ``--dump-dom`` and of ``--screenshot`` for each page."""
    found: dict[Path, tuple[float, float]] = {}
    for page in pages:
        dom = [_chromium(browser, work, "--dump-dom", page) for _ in range(repeats)]
        shot = [
            _chromium(browser, work, f"--screenshot={work / 'shot.png'}", page)
            for _ in range(repeats)
        ]
        found[page] = (statistics.median(dom), statistics.median(shot))
    return found


# Written into a copy of the page: the browser's own clock from navigation to the load event.
_LOAD_CLOCK = """<script>addEventListener("load", function () {
  var entry = performance.getEntriesByType("navigation")[0];
  document.documentElement.setAttribute("data-load-ms", String(entry.loadEventStart));
});</script>"""


def _load_event(browser: str, work: Path, page: Path, repeats: int) -> float:
    """Median seconds from navigation to the load event, by the page's own clock."""
    clocked = page.with_name(f"clocked-{page.name}")
    text = page.read_text(encoding="utf-8")
    clocked.write_text(text.replace("</body>", _LOAD_CLOCK + "</body>"), encoding="utf-8")
    found = []
    for _ in range(repeats):
        command = [
            browser, *CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}",
            "--window-size=1280,900", "--dump-dom", clocked.as_uri(),
        ]  # fmt: skip
        dumped = subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
        match = re.search(r'data-load-ms="([0-9.]+)"', dumped.stdout)
        assert match, "the page's load event was not seen"
        found.append(float(match[1]) / 1000)
    return statistics.median(found)


def _chromium(
    browser: str, work: Path, action: str, page: Path, width: int = 1280, height: int = 900
) -> float:
    command = [
        browser, *CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}",
        f"--window-size={width},{height}", action, page.as_uri(),
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - started


def _screenshot(work: Path, browser: str, target: Path) -> int:
    """The review page of the tests' small corpus, its flagged article open, at 1280 px."""
    news = work / "news"
    write_corpus(news)
    run_corpus([str(news)], work / "news.jsonl")
    page = work / "news.review.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    settings = [item for setting in SETTINGS for item in ("--set", setting)]
    subprocess.run(
        [sys.executable, "-m", "summarize", "review", "news", "--report", "news.jsonl",
         *settings, "-o", page.name],
        check=True, cwd=work, env=env, timeout=300,
    )  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    _chromium(browser, work, f"--screenshot={target.resolve()}", page, width=1000, height=820)
    size = target.stat().st_size
    print(f"wrote {target} ({size / 1000:.0f} KB)")
    if size > SCREENSHOT_LIMIT:
        print(f"warning: over {SCREENSHOT_LIMIT / 1000:.0f} KB", file=sys.stderr)
        return 1
    return 0


def _table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"\n{title}")
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for label, value in rows:
        print(f"| {label.ljust(width)} | {value} |")


if __name__ == "__main__":
    raise SystemExit(main())
