"""The review page as self-contained HTML: inline CSS and SVG, every text escaped, no links out."""

from __future__ import annotations

import errno
import html
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from summarize.discovery import display_name, taken_under
from summarize.errors import UsageError
from summarize.outputs import write_atomic
from summarize.report import Flag
from summarize.review import ArticleReview, Block, Review, ReviewStatus, default_output
from summarize.review import gather as gather_review
from summarize.review_css import CSS
from summarize.settings import Config
from summarize.snapshot import read_start

__all__ = ["article_page", "index_page", "page", "write_review"]

log = logging.getLogger(__name__)

#: Flagged sections shown open; past these they start collapsed, so 1,000 flagged stay light.
OPEN_AT_MOST = 25
_STAGES = ("read", "summarize", "translate", "guard", "write")
#: the name of an article's page in a --split folder (see review._anchor)
_PAGE_NAME = re.compile(r"a-[0-9a-f]{12}\.html")

#: the checkbox that hides all but the flagged articles (with the CSS rules on #only-flagged)
_FILTER = (
    '<input type="checkbox" id="only-flagged">'
    '<label class="filter" for="only-flagged">show only flagged articles</label>'
)


def write_review(
    config: Config,
    paths: Sequence[str],
    output: Path | None,
    *,
    out_dir: Path | None = None,
    report: Path | None = None,
    split: bool = False,
    stdout: BinaryIO | None = None,
) -> tuple[Path | None, Review]:
    """Gather the articles under ``paths`` and write their review page (``-``: to ``stdout``),
    or with ``split`` a folder of pages; return where it went (None for ``stdout``), and what
    it shows."""
    target = output if output is not None else default_output(paths, split)
    to_stdout = target == Path("-")
    if not to_stdout:  # refused before any article is read
        _check_replaceable(_named_page(target / "index.html" if split else target))
        _check_outside(config, paths, target, split)
    # Never review the page itself, whatever input.globs takes.
    exclude = [] if to_stdout else [target]
    review = gather_review(config, paths, out_dir=out_dir, report=report, exclude=exclude)
    title = f"Review of {', '.join(display_name(p) for p in paths)}"
    if to_stdout:
        assert stdout is not None
        # The page says charset=utf-8, whatever the locale's encoding of standard output.
        stdout.write(page(review, title).encode("utf-8"))
        stdout.flush()
        return None, review
    if split:
        _write_split(review, title, target)
    else:
        _write(target, page(review, title))
    return target, review


def _check_outside(config: Config, paths: Sequence[str], target: Path, split: bool) -> None:
    """Refuse a page that the next run over ``paths`` would take as an article (``-o
    news/page.txt``): it would be summarized and translated as news."""
    pages = (
        (target / "index.html", target / "articles" / "a-000000000000.html") if split else (target,)
    )
    for page in pages:
        folder = taken_under(page, paths, config.input, config.reserved_names)
        if folder is not None:
            raise UsageError(
                f"{display_name(target)}: inside {display_name(folder)}, where a run would take "
                "the page for an article (input.globs); write it outside the articles, or under "
                "a name input.globs does not match (such as .html)"
            )


def _write_split(review: Review, title: str, folder: Path) -> None:
    """index.html, and articles/<anchor>.html for each article; the pages an earlier review
    wrote there for articles no longer reviewed are removed (only names of that form)."""
    pages = folder / "articles"
    _check_replaceable(folder / "index.html")  # before any page is written
    pages.mkdir(parents=True, exist_ok=True)
    for article in review.articles:
        _write(pages / f"{article.anchor}.html", article_page(article, "../index.html"))
    current = {f"{article.anchor}.html" for article in review.articles}
    for old in pages.glob("a-*.html"):
        if _PAGE_NAME.fullmatch(old.name) and old.name not in current:
            old.unlink(missing_ok=True)
    _write(
        folder / "index.html",
        index_page(review, title, lambda a: f"articles/{a.anchor}.html"),
    )


def _named_page(path: Path) -> Path:
    if path.name in ("", ".", ".."):  # -o "", -o . : a folder, and no name to write under
        raise UsageError(f"{display_name(path)}: a folder, not a page; name the page to write")
    return path


def _write(path: Path, text: str) -> None:
    _check_replaceable(_named_page(path))
    try:
        write_atomic(path, text)
    except OSError as exc:  # name the page, not its temporary file
        raise OSError(exc.errno, exc.strerror, display_name(path)) from exc


def _check_replaceable(path: Path) -> None:
    """A page replaces an earlier page, or any HTML file, never anything else: ``-o`` naming
    an article, a report or an output by mistake must not destroy it."""
    try:
        start = read_start(path, 64)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # not there (or unreadable: writing it says so)
            return
        # A FIFO, a device or a folder is no page: opening it to look could block for good.
        raise UsageError(
            f"{display_name(path)}: exists and is not an HTML page ({exc.strerror or exc}), so "
            "the review does not replace it; name another page, or remove it first"
        ) from None
    if not start.lstrip().lower().startswith(b"<!doctype html"):
        raise UsageError(
            f"{display_name(path)}: exists and is not an HTML page, so the review does not "
            "replace it; name another page, or remove it first"
        )


def page(review: Review, title: str) -> str:
    """One page: the overview, then every article in its own collapsible section."""
    sections = _sections(review.articles, lambda a: f"#{a.anchor}")
    body = [
        _overview(review, title, lambda a: f"#{a.anchor}"),
        _FILTER,
        f"<main>{sections}</main>",
    ]
    return _document(title, "".join(body))


def index_page(review: Review, title: str, link: Callable[[ArticleReview], str]) -> str:
    """The overview and a list of every article, each linking to its own page."""
    rows = "".join(
        f'<li class="st-{_slug(a.status)}">{_badge(a.status)} '
        f'<a href="{_e(link(a))}">{_i(a.name)}</a> <span class="reason">{_i(a.reason)}</span></li>'
        for a in review.articles
    )
    listing = f'<main><h2>All articles</h2><ul class="all">{rows}</ul></main>'
    return _document(title, _overview(review, title, link) + _FILTER + listing)


def article_page(article: ArticleReview, back: str) -> str:
    """One article on a page of its own, opened, with a link back to the index."""
    body = f'<p><a href="{_e(back)}">back to the overview</a></p>'
    body += _section(article, opened=True)
    return _document(article.name, body)


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _i(text: str) -> str:
    """``text`` escaped and isolated: a name holding right-to-left letters or a direction
    override (U+202E) must not reorder the words around it."""
    return f"<bdi>{_e(text)}</bdi>"


def _slug(status: ReviewStatus) -> str:
    return status.value.replace(" ", "-")


def _badge(status: ReviewStatus) -> str:
    return f'<span class="badge st-{_slug(status)}">{_e(status.value)}</span>'


def _overview(review: Review, title: str, link: Callable[[ArticleReview], str]) -> str:
    counts = review.counts()
    cells = "".join(
        f'<th>{_badge(s)}</th><td data-status="{_e(s.value)}">{n}</td>'
        for s, n in counts.items()
        if n or s in (ReviewStatus.DONE, ReviewStatus.FLAGGED, ReviewStatus.FAILED)
    )
    parts = [
        f"<header><h1>{_e(title)}</h1>",
        f'<table class="counts"><tr><th>{len(review.articles)} article(s)</th>{cells}</tr></table>',
    ]
    if review.run_summary:
        parts.append(f"<p>The run's report: <q>{_e(review.run_summary)}</q></p>")
    parts.append(_attention(review, link))
    parts.append(f'<div class="facts"><div>{_settings(review)}</div>')
    parts.append(f"<div>{_chart(review.seconds())}</div></div>")
    parts.append("</header>")
    return "".join(parts)


def _attention(review: Review, link: Callable[[ArticleReview], str]) -> str:
    needing = [
        a for a in review.articles if a.status in (ReviewStatus.FLAGGED, ReviewStatus.FAILED)
    ]
    if not needing:
        return "<h2>Needs a look</h2><p>No article is flagged or failed.</p>"
    items = "".join(
        f'<li class="st-{_slug(a.status)}">{_badge(a.status)} '
        f'<a href="{_e(link(a))}">{_i(a.name)}</a>: <span class="reason">{_i(a.reason)}</span>'
        "</li>"
        for a in needing
    )
    return f'<h2>Needs a look</h2><ul class="attention">{items}</ul>'


def _settings(review: Review) -> str:
    signatures = review.signatures()
    models = "".join(f"<li>{_e(m)}</li>" for m in review.models())
    parts = ["<h2>Settings</h2>"]
    if models:
        parts.append(f"<ul>{models}</ul>")
    if len(signatures) > 1:
        parts.append(f"<p><strong>{len(signatures)} different settings signatures</strong>:")
        parts.append(" the outputs come from runs with different settings.</p>")
    for signature, count in signatures.items():
        parts.append(
            f"<details><summary>settings signature ({count} article(s))</summary>"
            f'<p class="signature"><code>{_e(signature)}</code></p></details>'
        )
    if not signatures:
        parts.append("<p>No sidecar found: nothing was written for these inputs yet.</p>")
    return "".join(parts)


def _chart(seconds: dict[str, float]) -> str:
    """Seconds per stage as horizontal bars, in the pipeline's order."""
    if not seconds:
        return ""
    stages = sorted(seconds, key=lambda s: (_STAGES.index(s) if s in _STAGES else 99, s))
    longest = max(seconds.values()) or 1.0
    row, label, width = 22, 90, 260
    bars = []
    for i, stage in enumerate(stages):
        y = i * row
        length = max(1.0, width * seconds[stage] / longest)
        bars.append(
            f'<text x="0" y="{y + 15}">{_e(stage)}</text>'
            f'<rect x="{label}" y="{y + 4}" width="{length:.1f}" height="14" fill="#4a78c2"/>'
            f'<text x="{label + length + 6:.1f}" y="{y + 15}">{seconds[stage]:.2f} s</text>'
        )
    height = row * len(stages)
    return (
        "<h2>Time per stage</h2>"
        f'<svg role="img" aria-label="seconds per stage" class="chart" '
        f'style="width:100%;max-width:{label + width + 80}px;height:auto" '
        f'viewBox="0 0 {label + width + 80} {height}">{"".join(bars)}</svg>'
    )


def _sections(articles: Iterable[ArticleReview], link: Callable[[ArticleReview], str]) -> str:
    parts = []
    opened = 0
    for article in articles:
        wide_open = article.status is ReviewStatus.FLAGGED and opened < OPEN_AT_MOST
        opened += wide_open
        parts.append(_section(article, opened=wide_open))
    return "".join(parts)


def _section(article: ArticleReview, *, opened: bool) -> str:
    state = " open" if opened else ""
    head = (
        f'<summary>{_badge(article.status)} <span class="name">{_i(article.name)}</span>'
        f' <span class="reason">{_i(article.reason)}</span></summary>'
    )
    body = [
        _list("notes", article.notes),
        _list("warnings", article.warnings),
        _summaries(article),
        _rows(article.blocks),
    ]
    return (
        f'<section id="{_e(article.anchor)}" class="st-{_slug(article.status)}">'
        f"<details{state}>{head}{''.join(body)}</details></section>"
    )


def _list(kind: str, items: Iterable[str]) -> str:
    lines = "".join(f"<li>{_e(item)}</li>" for item in items)
    return f'<ul class="{kind}">{lines}</ul>' if lines else ""


def _summaries(article: ArticleReview) -> str:
    if article.summary is None and article.summary_ar is None:
        return ""
    own = [f for f in article.summary_flags if f.output == "summary"]
    translated = [f for f in article.summary_flags if f.output == "summary_ar"]
    english = _marked(article.summary or "", translated)
    if own:
        english = f'<mark class="{_flag_class(own)}">{english}</mark>{_checks(own, "summary")}'
    if article.summary_ar is None:
        arabic = "<em>none</em>"
    else:
        arabic = _marked_output(article.summary_ar, translated)
    flagged = " flagged" if any(not f.repaired for f in translated) else ""
    return (
        '<div class="summary"><div class="label">summary</div><div class="pair">'
        f'<p class="en" lang="en">{english}</p>'
        f'<p class="ar{flagged}" lang="ar" dir="rtl">{arabic}</p></div></div>'
    )


def _rows(blocks: Iterable[Block]) -> str:
    return "".join(_row(block) for block in blocks)


def _row(block: Block) -> str:
    if block.removed:
        return (
            f'<div class="pair removed"><p class="en" lang="en"><del>{_e(block.english)}</del>'
            " <small>removed by cleanup</small></p></div>"
        )
    flagged = " flagged" if any(not f.repaired for f in block.flags) else ""
    if block.arabic is None:
        arabic = '<p class="ar" lang="en" dir="ltr"><em>not translated</em></p>'
    else:
        marked = _marked_output(block.arabic, list(block.arabic_flags))
        arabic = f'<p class="ar{flagged}" lang="ar" dir="rtl">{marked}</p>'
    english = f'<p class="en{flagged}" lang="en">{_marked(block.english, list(block.flags))}</p>'
    return f'<div class="pair">{english}{arabic}</div>'


def _marked(text: str, flags: list[Flag]) -> str:
    """``text`` with each flagged span in a <mark>, its checks written out after it."""
    spans: dict[tuple[int, int], list[Flag]] = {}
    for flag in flags:
        spans.setdefault(flag.span, []).append(flag)
    parts, cursor = [], 0
    for (start, end), found in sorted(spans.items()):
        start = max(start, cursor)
        end = max(end, start)
        parts.append(_e(text[cursor:start]))
        parts.append(f'<mark class="{_flag_class(found)}">{_e(text[start:end])}</mark>')
        parts.append(_checks(found, f"segment {found[0].segment}"))
        cursor = end
    parts.append(_e(text[cursor:]))
    return "".join(parts)


def _marked_output(text: str, flags: list[Flag]) -> str:
    """The output ``text`` with each flagged segment's output in a <mark> (where the sidecar
    placed it); the checks are written out beside the English."""
    spans: dict[tuple[int, int], list[Flag]] = {}
    for flag in flags:
        if flag.output_span is not None:
            spans.setdefault(flag.output_span, []).append(flag)
    parts, cursor = [], 0
    for (start, end), found in sorted(spans.items()):
        start, end = max(start, cursor), min(max(end, start, cursor), len(text))
        checks = ", ".join(dict.fromkeys(f.check for f in found))
        parts.append(_e(text[cursor:start]))
        parts.append(
            f'<mark class="{_flag_class(found)}" title="{_e(checks)}">{_e(text[start:end])}</mark>'
        )
        cursor = end
    parts.append(_e(text[cursor:]))
    return "".join(parts)


def _flag_class(flags: list[Flag]) -> str:
    return "flag" if any(not f.repaired for f in flags) else "flag repaired"


def _checks(flags: list[Flag], where: str) -> str:
    text = "; ".join(f"{f.output} {where}: {f.verdict()}" for f in flags)
    return f'<span class="check">{_e(text)}</span>'
