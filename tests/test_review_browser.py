"""The review page in a real browser: Arabic laid out right to left, nothing wider than the screen.

Headless Chromium renders a copy of the page with a short script added by the test that opens
every section and writes element boxes into the page; ``--dump-dom`` reads them back. Headless
windows are at least 500 pixels wide, so the page is shown in a frame of the width under test
(the frame is the page's viewport: its media queries and widths are the frame's). A screenshot
per width is kept in ``artifacts/`` (ignored by git).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from summarize.cli import main
from tests.conftest import ROOT
from tests.review_data import SETTINGS, run_corpus, write_corpus

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no chromium on PATH (apt-get install chromium; .ci/run installs it)",
)
ARTIFACTS = ROOT / "artifacts"
WIDTHS = (1280, 390)
SET = [item for setting in SETTINGS for item in ("--set", setting)]
LONG_WORD = "Supercalifragilistic" * 15
# Opens every section, then measures: the viewport, the page's width, each paragraph pair,
# the first character of each Arabic and English paragraph, and anything past the right edge.
MEASURE = """<script>
document.querySelectorAll("details").forEach(function (d) { d.open = true; });
function firstChar(p) {
  var walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
  var node = walker.nextNode();
  while (node && !node.data.trim()) { node = walker.nextNode(); }
  if (!node) { return null; }
  var at = node.data.search(/\\S/);
  var range = document.createRange();
  range.setStart(node, at); range.setEnd(node, at + 1);
  var r = range.getBoundingClientRect();
  return {left: r.left, right: r.right, text: node.data.slice(at, at + 1)};
}
function content(p) {
  var r = p.getBoundingClientRect(), s = getComputedStyle(p);
  return {left: r.left + parseFloat(s.paddingLeft) + parseFloat(s.borderLeftWidth),
          right: r.right - parseFloat(s.paddingRight) - parseFloat(s.borderRightWidth),
          top: r.top, bottom: r.bottom, direction: s.direction, align: s.textAlign};
}
var out = {width: window.innerWidth, scroll: document.documentElement.scrollWidth,
           pairs: [], overflow: []};
document.querySelectorAll("section .pair").forEach(function (row) {
  var en = row.querySelector("p.en"), ar = row.querySelector("p.ar[dir=rtl]");
  if (!en || !ar) { return; }
  out.pairs.push({en: content(en), ar: content(ar), enFirst: firstChar(en),
                  arFirst: firstChar(ar), arabic: /^[\\u0600-\\u06ff]/.test(ar.textContent)});
});
document.querySelectorAll("body *").forEach(function (el) {
  var r = el.getBoundingClientRect();
  if (r.width && r.right > window.innerWidth + 0.5) {
    out.overflow.push(el.tagName + "." + el.getAttribute("class") + " " + r.right);
  }
});
var pre = parent.document.createElement("pre");
pre.id = "measures";
pre.textContent = JSON.stringify(out);
parent.document.body.appendChild(pre);
</script>"""


def chromium(*args: str, width: int, profile: Path) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    command = [
        BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
        f"--window-size={max(width, 500)},900", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The review page of a run with Arabic text, a flagged article, a very long word."""
    root = tmp_path_factory.mktemp("browser")
    news = root / "news"
    write_corpus(news, hostile_name=f"{'long-name-' * 12}.txt")
    (news / "long.txt").write_text(
        f"A word longer than any screen follows.\n{LONG_WORD} ended the report.\n",
        encoding="utf-8",
    )
    run_corpus([str(news)])
    target = root / "page.html"
    assert main(["review", str(news), *SET, "-o", str(target)]) == 0
    return target


@pytest.fixture(scope="module", params=WIDTHS, ids=lambda w: f"{w}px")
def measured(request: pytest.FixtureRequest, page: Path) -> dict[str, Any]:
    """The boxes the script wrote at one width; a screenshot of the page at that width."""
    width: int = request.param
    text = page.read_text(encoding="utf-8")
    measure = framed(text.replace("</body>", MEASURE + "</body>"), width, page.parent / "measure")
    profile = page.parent / f"profile-{width}"
    dumped = chromium("--dump-dom", measure.as_uri(), width=width, profile=profile).stdout
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"review-{width}.png"
    plain = framed(text, width, page.parent / "plain")
    chromium(f"--screenshot={shot}", plain.as_uri(), width=width, profile=profile)
    found = re.search(r'<pre id="measures">(.*?)</pre>', dumped, re.S)
    assert found, dumped[-2000:]
    measures: dict[str, Any] = json.loads(html.unescape(found[1]))
    measures["requested"] = width
    measures["screenshot"] = shot
    return measures


def framed(text: str, width: int, stem: Path) -> Path:
    """A page showing ``text`` in a frame ``width`` pixels wide (its viewport)."""
    path = stem.with_name(f"{stem.name}-{width}.html")
    frame = (
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe style="border:0;display:block;width:{width}px;height:900px" '
        f'srcdoc="{html.escape(text, quote=True)}"></iframe></body></html>'
    )
    path.write_text(frame, encoding="utf-8")
    return path


def test_the_browser_saw_the_width_asked_for(measured: dict[str, Any]) -> None:
    assert measured["width"] == measured["requested"]
    assert measured["screenshot"].stat().st_size > 1000


def test_arabic_paragraphs_run_right_to_left_from_their_right_edge(
    measured: dict[str, Any],
) -> None:
    arabic = [p for p in measured["pairs"] if p["arabic"]]
    assert len(arabic) >= 8
    for pair in arabic:
        box, first = pair["ar"], pair["arFirst"]
        assert box["direction"] == "rtl"
        assert abs(first["right"] - box["right"]) <= 2, pair
        assert first["left"] > box["left"] + (box["right"] - box["left"]) / 2, pair


def test_english_paragraphs_start_at_their_left_edge(measured: dict[str, Any]) -> None:
    english = [pair for pair in measured["pairs"] if pair["enFirst"] is not None]
    # Every row beside an Arabic paragraph has its English one: none is measured away.
    assert len(english) >= len([p for p in measured["pairs"] if p["arabic"]]) >= 8
    for pair in english:
        box, first = pair["en"], pair["enFirst"]
        assert box["direction"] == "ltr"
        assert abs(first["left"] - box["left"]) <= 2, pair


def test_each_paragraph_sits_beside_its_translation_or_above_it_on_a_phone(
    measured: dict[str, Any],
) -> None:
    for pair in measured["pairs"]:
        en, ar = pair["en"], pair["ar"]
        if measured["width"] >= 1000:
            assert abs(en["top"] - ar["top"]) <= 1
            assert ar["left"] > en["right"]
        else:
            assert ar["top"] >= en["bottom"] - 1
            assert abs(ar["left"] - en["left"]) <= 12


def test_nothing_is_wider_than_the_screen(measured: dict[str, Any]) -> None:
    assert measured["scroll"] <= measured["width"]
    assert measured["overflow"] == []
