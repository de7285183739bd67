"""``summarize review``: each article's status, its rows lined up, the run's counts.

What a run left on disk (report lines, sidecar fields, outputs, the input as the run cleaned it)
is read by :mod:`summarize.review_sources`; this module decides what it means for the page.
"""

from __future__ import annotations

import enum
import hashlib
import os
import typing
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from summarize.discovery import STDIN, Job, display_name, find_inputs
from summarize.errors import UsageError
from summarize.outputs import Outputs
from summarize.planning import named_outputs
from summarize.report import Flag
from summarize.review_sources import ReportLine, read_english, read_output, read_report, report_key
from summarize.settings import Config
from summarize.sidecar import Sidecar
from summarize.sidecar import read as read_sidecar
from summarize.state import assess

__all__ = [
    "ArticleReview",
    "Block",
    "Review",
    "ReviewStatus",
    "default_output",
    "gather",
]


class ReviewStatus(str, enum.Enum):
    """Where an article stands, in the order the page lists them."""

    FLAGGED = "flagged"
    FAILED = "failed"
    STALE = "out of date"
    MISSING = "not processed"
    DONE = "done"


@dataclass(frozen=True)
class Block:
    """A row of the article: a paragraph and its translation, or a line cleanup removed.

    ``flags`` are the checks failed by the segments of this paragraph, their ``span`` counted
    from the paragraph's first character; ``arabic_flags`` the same checks where the sidecar
    says their output is, ``output_span`` counted from the Arabic paragraph's start.
    """

    english: str
    arabic: str | None = None
    removed: bool = False
    flags: tuple[Flag, ...] = ()
    arabic_flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class ArticleReview:
    """Everything the page shows of one article."""

    name: str
    anchor: str
    status: ReviewStatus
    reason: str
    summary: str | None = None
    summary_ar: str | None = None
    #: flags on the summary (its own checks) and on its translation, spans in the summary
    summary_flags: tuple[Flag, ...] = ()
    blocks: tuple[Block, ...] = ()
    flags: tuple[Flag, ...] = ()
    warnings: tuple[str, ...] = ()
    #: what the reader should know about the text shown (misaligned paragraphs, unreadable files)
    notes: tuple[str, ...] = ()
    seconds: tuple[tuple[str, float], ...] = ()
    signature: str | None = None
    models: tuple[str, ...] = ()

    @property
    def open_flags(self) -> tuple[Flag, ...]:
        """The checks still failed (a repaired segment does not flag its article)."""
        return tuple(f for f in (*self.summary_flags, *self.flags) if not f.repaired)


@dataclass(frozen=True)
class Review:
    """The articles (flagged first), and what the run as a whole says."""

    articles: tuple[ArticleReview, ...]
    #: the --report file's summary line, when one was given and has its totals line
    run_summary: str | None = None

    def counts(self) -> dict[ReviewStatus, int]:
        return {s: sum(1 for a in self.articles if a.status is s) for s in ReviewStatus}

    def signatures(self) -> dict[str, int]:
        """Each settings signature found in the sidecars, with how many articles have it."""
        found: dict[str, int] = {}
        for article in self.articles:
            if article.signature is not None:
                found[article.signature] = found.get(article.signature, 0) + 1
        return found

    def models(self) -> tuple[str, ...]:
        return tuple(sorted({m for a in self.articles for m in a.models}))

    def seconds(self) -> dict[str, float]:
        """Seconds per stage, summed over the articles' sidecars."""
        total: dict[str, float] = {}
        for article in self.articles:
            for stage, seconds in article.seconds:
                total[stage] = total.get(stage, 0.0) + seconds
        return total


def default_output(paths: Sequence[str], split: bool = False) -> Path:
    """``news/`` gives ``news.review.html`` beside it (outside the tree it reviews); files or
    several paths give ``review.html`` here. With ``split``, a folder of that name less .html."""
    single = Path(paths[0]) if len(paths) == 1 else None
    if single is not None and single.is_dir():
        # Named as given (the message says "wrote news.review.html"); "." or "news/.." have no
        # name of their own until resolved.
        named = single if single.name not in ("", "..") else single.resolve()
        page = named.parent / f"{named.name or 'root'}.review.html"
    else:
        page = Path("review.html")
    return page.with_suffix("") if split else page


def gather(
    config: Config,
    paths: Sequence[str],
    *,
    out_dir: Path | None = None,
    report: Path | None = None,
    exclude: Sequence[Path] = (),
) -> Review:
    """Every input ``run`` would take under ``paths``, with what was written for it.

    Raises UsageError for standard input, a path that is not there or an unreadable report.
    """
    if STDIN in paths:
        raise UsageError("review reads files and what was written next to them, not - (stdin)")
    lines, run_summary = read_report(report) if report is not None else ({}, None)
    # As run leaves out its report and output directory, so does the review of that run.
    own = [*exclude, *(p for p in (report, out_dir) if p is not None)]
    jobs = find_inputs(paths, config.input, config.reserved_names, exclude=own)
    # Articles whose outputs collide are refused by run: what lies there is another's.
    named, refused = named_outputs(config, jobs, out_dir)
    articles = [
        _refused(config, job, refused[job]) if job in refused else _article(job, config, out, lines)
        for job, out in named.items()
    ]
    order = list(ReviewStatus)
    articles.sort(key=lambda a: order.index(a.status))
    return Review(tuple(articles), run_summary)


def _anchor(name: str) -> str:
    """A stable id for an article's section: its name's hash, never the name itself."""
    return "a-" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _refused(config: Config, job: Job, reason: str) -> ArticleReview:
    """An article run refuses (its outputs collide): failed, its English alone."""
    english, _, read_error = read_english(config, job, None)
    notes = (read_error,) if read_error else ()
    blocks = tuple(Block(text) for text in english)
    return ArticleReview(
        job.name, _anchor(job.name), ReviewStatus.FAILED, reason, blocks=blocks, notes=notes
    )


def _article(
    job: Job, config: Config, named: Outputs, report: dict[str, ReportLine]
) -> ArticleReview:
    assert job.path is not None
    name = job.name
    found = read_sidecar(named.sidecar)
    sidecar = None if found is None else found[0]
    line = report.get(report_key(job.path))
    notes: list[str] = []
    english, removed, read_error = read_english(config, job, sidecar)
    if read_error:
        notes.append(read_error)
    if sidecar is None and (_failed(line) or not os.path.lexists(named.sidecar)):
        status, reason = _without_sidecar(line)
        blocks = tuple(Block(text) for text in english) if english else ()
        return ArticleReview(name, _anchor(name), status, reason, blocks=blocks, notes=tuple(notes))
    # A sidecar that cannot be read is taken to say nothing: the outputs at the configured
    # names are shown, for a person to judge.
    record = sidecar or Sidecar()
    outputs = record.written_outputs(named)
    texts = {key: read_output(config, path, notes) for key, path in outputs.by_kind().items()}
    flags = list(record.flags)
    warnings = record.warnings + _doubts(sidecar)
    status, reason = _with_sidecar(job.path, outputs, named, sidecar, line, flags, warnings)
    blocks = _blocks(english, removed, texts.get("article_ar"), flags, notes)
    notes += record.notes  # how it was done
    return ArticleReview(
        name,
        _anchor(name),
        status,
        reason,
        summary=texts.get("summary"),
        summary_ar=texts.get("summary_ar"),
        summary_flags=tuple(f for f in flags if f.output in ("summary", "summary_ar")),
        blocks=blocks,
        flags=tuple(f for f in flags if f.output == "article_ar"),
        warnings=warnings,
        notes=tuple(notes),
        seconds=tuple(record.seconds.items()),
        signature=record.signature,
        models=tuple(engine.describe(role) for role, engine in record.engines.items()),
    )


def _doubts(sidecar: Sidecar | None) -> tuple[str, ...]:
    """What the sidecar cannot vouch for: a person has to look."""
    if sidecar is None:
        return ("the sidecar cannot be read: the outputs at the configured names are shown, "
                "check them by eye",)  # fmt: skip
    doubts = []
    if sidecar.unreadable_flags:  # a check failed; the page cannot say which
        doubts.append(
            f"{sidecar.unreadable_flags} flag(s) in the sidecar cannot be read: check by eye"
        )
    # Flags that are not even a list are counted with the other fields.
    if other := [k for k in sidecar.malformed if k != "flags" or not sidecar.unreadable_flags]:
        doubts.append(f"the sidecar's {', '.join(other)} cannot be read: check by eye")
    return tuple(doubts)


def _failed(line: ReportLine | None) -> typing.TypeGuard[ReportLine]:
    return line is not None and line.status == "failed"


def _without_sidecar(line: ReportLine | None) -> tuple[ReviewStatus, str]:
    if _failed(line):
        return ReviewStatus.FAILED, line.reason
    if line is not None:
        return ReviewStatus.MISSING, f"{line.status}: {line.reason}" if line.reason else line.status
    return ReviewStatus.MISSING, "no outputs yet (no sidecar)"


def _with_sidecar(
    source: Path,
    outputs: Outputs,
    configured: Outputs,
    sidecar: Sidecar | None,
    line: ReportLine | None,
    flags: list[Flag],
    warnings: tuple[str, ...],
) -> tuple[ReviewStatus, str]:
    stale = _stale(source, configured, sidecar)
    if _failed(line) and not _after(stale, outputs, line):
        return ReviewStatus.FAILED, line.reason
    if stale is not None:
        return ReviewStatus.STALE, stale
    failed = [f for f in flags if not f.repaired]
    if failed or warnings:
        checks = ", ".join(dict.fromkeys(f"{f.output} {f.check}" for f in failed))
        parts = [f"{len(failed)} failed check(s): {checks}"] if failed else []
        parts += [f"{len(warnings)} warning(s)"] if warnings else []
        return ReviewStatus.FLAGGED, "; ".join(parts)
    return ReviewStatus.DONE, ""


def _stale(source: Path, outputs: Outputs, sidecar: Sidecar | None) -> str | None:
    """Why run would redo the article: its files at the configured names (``outputs``),
    judged against the run that wrote it (the settings given here need not be its own)."""
    where = display_name(outputs.sidecar)
    if sidecar is None:
        return f"sidecar unreadable: {where}"
    if sidecar.malformed:
        return f"sidecar malformed ({', '.join(sidecar.malformed)}): {where}"
    return assess(source, outputs, sidecar.signature or "").reason


def _after(stale: str | None, outputs: Outputs, line: ReportLine) -> bool:
    """Whether up-to-date outputs were written after the report (by a later run), so its
    failure is no longer the article's state."""
    try:
        return stale is None and outputs.sidecar.stat().st_mtime_ns > line.written_ns
    except OSError:
        return False


def _blocks(
    english: list[str],
    removed: list[tuple[int, str]],
    arabic: str | None,
    flags: list[Flag],
    notes: list[str],
) -> tuple[Block, ...]:
    """Paragraph pairs in order, each removed line before the paragraph that followed it."""
    translated = arabic.split("\n\n") if arabic else []  # an emptied file has no paragraph
    if arabic is not None and len(translated) != len(english):
        notes.append(
            f"the Arabic article has {len(translated)} paragraph(s), the cleaned English "
            f"{len(english)}: rows may not line up"
        )
    located = _flags_by_paragraph(english, [f for f in flags if f.output == "article_ar"])
    in_arabic = _placed_by_paragraph(translated, [f for f in flags if f.output == "article_ar"])
    rows: list[Block] = []
    pending = list(removed)
    for index in range(max(len(english), len(translated))):
        while pending and pending[0][0] <= index:
            rows.append(Block(pending.pop(0)[1], removed=True))
        rows.append(
            Block(
                english[index] if index < len(english) else "",
                translated[index] if index < len(translated) else None,
                flags=tuple(located.get(index, ())),
                arabic_flags=tuple(in_arabic.get(index, ())),
            )
        )
    rows += [Block(text, removed=True) for _, text in pending]
    return tuple(rows)


def _flags_by_paragraph(paragraphs: list[str], flags: list[Flag]) -> dict[int, list[Flag]]:
    """Each flag in the paragraph its span starts in, its span counted from that paragraph's
    start."""
    starts = _starts(paragraphs)
    found: dict[int, list[Flag]] = {}
    for flag in flags:
        index = max((i for i, s in enumerate(starts) if s <= flag.span[0]), default=0)
        base = starts[index] if starts else 0
        length = len(paragraphs[index]) if paragraphs else 0
        local = _shifted(flag, base, length)
        found.setdefault(index, []).append(local)
    return found


def _placed_by_paragraph(paragraphs: list[str], flags: list[Flag]) -> dict[int, list[Flag]]:
    """Each flag with an output span in the Arabic paragraph it starts in, the span counted
    from that paragraph's start (an output that no longer fits the file is left out)."""
    starts = _starts(paragraphs)
    found: dict[int, list[Flag]] = {}
    for flag in flags:
        if flag.output_span is None:
            continue
        start, end = flag.output_span
        index = max((i for i, s in enumerate(starts) if s <= start), default=None)
        if index is None or end > starts[index] + len(paragraphs[index]) or start > end:
            continue
        local = (start - starts[index], end - starts[index])
        found.setdefault(index, []).append(replace(flag, output_span=local))
    return found


def _starts(paragraphs: list[str]) -> list[int]:
    """Where each paragraph starts in a text that joins them with a blank line."""
    starts, offset = [], 0
    for paragraph in paragraphs:
        starts.append(offset)
        offset += len(paragraph) + 2
    return starts


def _shifted(flag: Flag, base: int, length: int) -> Flag:
    start = min(max(flag.span[0] - base, 0), length)
    return replace(flag, span=(start, min(max(flag.span[1] - base, start), length)))
