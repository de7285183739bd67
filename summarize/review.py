"""``summarize review``: gather each article's input, outputs, sidecar and report line."""

from __future__ import annotations

import enum
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from summarize.cleanup import furniture_lines
from summarize.discovery import STDIN, Job, display_name, find_inputs
from summarize.errors import InputError, UsageError
from summarize.outputs import KINDS, Outputs, output_paths
from summarize.report import Flag
from summarize.settings import Config
from summarize.state import assess, read_sidecar, read_snapshot
from summarize.text import decode, normalize, paragraph_lines

__all__ = [
    "ArticleReview",
    "Block",
    "Review",
    "ReviewStatus",
    "default_output",
    "gather",
]

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _ReportLine:
    status: str
    reason: str
    #: when the report was last written: outputs written after it supersede its failure
    written_ns: int = 0


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
    lines, run_summary = _read_report(report) if report is not None else ({}, None)
    # As run leaves out its report and output directory, so does the review of that run.
    own = [*exclude, *(p for p in (report, out_dir) if p is not None)]
    jobs = find_inputs(paths, config.input, config.reserved_names, exclude=own)
    articles = [_article(config, job, out_dir, lines) for job in jobs if job.path is not None]
    order = list(ReviewStatus)
    articles.sort(key=lambda a: order.index(a.status))
    return Review(tuple(articles), run_summary)


def _read_report(path: Path) -> tuple[dict[str, _ReportLine], str | None]:
    """The last line of each article in a ``--report`` JSONL file, by resolved path: relative
    paths as seen from here, and from the report's folder (a run started there)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        written_ns = path.stat().st_mtime_ns
    except OSError as exc:
        raise UsageError(f"{display_name(path)}: cannot read the report ({exc.strerror})") from None
    found: dict[str, _ReportLine] = {}
    there: dict[str, _ReportLine] = {}
    summary = None
    for number, line in enumerate(text.splitlines(), 1):
        try:
            item = json.loads(line)
        except ValueError:
            log.warning("%s, line %d: not JSON, left out", display_name(path), number)
            continue
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("summary"), str):
            summary = item["summary"]
        if isinstance(item.get("path"), str) and isinstance(item.get("status"), str):
            reason = item.get("reason")
            reason = reason if isinstance(reason, str) else ""
            entry = _ReportLine(item["status"], reason, written_ns)
            named = Path(item["path"])
            there[_key(path.parent / named)] = entry
            found[_key(named)] = entry
    return {**there, **found}, summary


def _key(path: Path) -> str:
    """A report names a file as display_name does (bytes that are not UTF-8 as ``\\xNN``);
    the file found on disk is named the same way, so the two meet."""
    return display_name(path.resolve())


def _anchor(name: str) -> str:
    """A stable id for an article's section: its name's hash, never the name itself."""
    return "a-" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _article(
    config: Config, job: Job, out_dir: Path | None, report: dict[str, _ReportLine]
) -> ArticleReview:
    assert job.path is not None
    name = job.name
    sidecar_path = output_paths(job.path, config.output, out_dir, job.root).sidecar
    sidecar = read_sidecar(sidecar_path)
    line = report.get(_key(job.path))
    notes: list[str] = []
    english, removed, read_error = _english(config, job, sidecar)
    if read_error:
        notes.append(read_error)
    if sidecar is None:
        status, reason = _without_sidecar(sidecar_path, line)
        blocks = tuple(Block(text) for text in english) if english else ()
        return ArticleReview(name, _anchor(name), status, reason, blocks=blocks, notes=tuple(notes))
    outputs = _written(sidecar_path, sidecar)
    texts = {key: _read_output(path, notes) for key, path in outputs.by_kind().items()}
    flags = _flags(sidecar)
    warnings = _texts(sidecar, "warnings")
    status, reason = _with_sidecar(job.path, outputs, sidecar, line, flags, warnings)
    blocks = _blocks(english, removed, texts.get("article_ar"), flags, notes)
    notes += _texts(sidecar, "notes")  # how it was done
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
        seconds=_seconds(sidecar),
        signature=sidecar.get("signature") if isinstance(sidecar.get("signature"), str) else None,
        models=_models(sidecar),
    )


def _without_sidecar(sidecar: Path, line: _ReportLine | None) -> tuple[ReviewStatus, str]:
    if line is not None and line.status == "failed":
        return ReviewStatus.FAILED, line.reason
    if sidecar.exists():
        return ReviewStatus.STALE, f"sidecar unreadable: {display_name(sidecar)}"
    if line is not None:
        return ReviewStatus.MISSING, f"{line.status}: {line.reason}" if line.reason else line.status
    return ReviewStatus.MISSING, "no outputs yet (no sidecar)"


def _with_sidecar(
    source: Path,
    outputs: Outputs,
    sidecar: dict[str, Any],
    line: _ReportLine | None,
    flags: list[Flag],
    warnings: tuple[str, ...],
) -> tuple[ReviewStatus, str]:
    # Staleness against the run that wrote it: the settings given here need not be its own.
    recorded = sidecar.get("signature")
    stale = assess(source, outputs, recorded if isinstance(recorded, str) else "").reason
    if line is not None and line.status == "failed" and not _after(stale, outputs, line):
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


def _after(stale: str | None, outputs: Outputs, line: _ReportLine) -> bool:
    """Whether up-to-date outputs were written after the report (by a later run), so its
    failure is no longer the article's state."""
    try:
        return stale is None and outputs.sidecar.stat().st_mtime_ns > line.written_ns
    except OSError:
        return False


def _written(sidecar_path: Path, sidecar: dict[str, Any]) -> Outputs:
    """The outputs the sidecar says its run wrote, beside the sidecar."""
    named = sidecar.get("outputs")
    named = named if isinstance(named, dict) else {}
    paths = {
        kind.key: sidecar_path.with_name(named[kind.key])
        if isinstance(named.get(kind.key), str) and "/" not in named[kind.key]
        else None
        for kind in KINDS
    }
    return Outputs(**paths, sidecar=sidecar_path)


def _read_output(path: Path, notes: list[str]) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").rstrip("\n")
    except OSError as exc:
        notes.append(f"{display_name(path)}: cannot read ({exc.strerror or exc})")
        return None


def _english(
    config: Config, job: Job, sidecar: dict[str, Any] | None
) -> tuple[list[str], list[tuple[int, str]], str | None]:
    """The input's paragraphs as the run cleaned them, and the removed lines, each with the
    index of the paragraph it stood before; or why the input cannot be shown."""
    assert job.source is not None
    try:
        data, _ = read_snapshot(job.source, max_bytes=config.input.max_bytes, follow_symlinks=True)
        lines = normalize(decode(data, job.name)).split("\n")
    except InputError as exc:
        return [], [], str(exc)
    except OSError as exc:
        return [], [], f"{job.name}: cannot read ({exc.strerror or exc})"
    drop = _removed_lines(lines, sidecar, config.input.cleanup)
    kept = [i for i in range(len(lines)) if i not in drop]
    groups = [[kept[i] for i in group] for group in paragraph_lines([lines[i] for i in kept])]
    paragraphs = [" ".join(lines[i] for i in group) for group in groups]
    firsts = [group[0] for group in groups]
    removed = [(sum(1 for f in firsts if f < i), lines[i]) for i in sorted(drop)]
    return paragraphs, removed, None


def _removed_lines(lines: list[str], sidecar: dict[str, Any] | None, cleanup: bool) -> set[int]:
    """Which lines the run removed: cleanup's own answer when it matches the sidecar's list,
    else the sidecar's lines found in order (the rules may have changed since the run)."""
    recorded = sidecar.get("removed_lines") if sidecar is not None else None
    if not isinstance(recorded, list):
        return furniture_lines(lines) if cleanup else set()
    now = furniture_lines(lines)
    if [lines[i] for i in sorted(now)] == recorded:
        return now
    found: set[int] = set()
    start = 0
    for text in recorded:
        for i in range(start, len(lines)):
            if lines[i] == text:
                found.add(i)
                start = i + 1
                break
    return found


def _texts(sidecar: dict[str, Any], key: str) -> tuple[str, ...]:
    """The strings of a list the sidecar holds under ``key``; none for anything else."""
    items = sidecar.get(key)
    return tuple(i for i in items if isinstance(i, str)) if isinstance(items, list) else ()


def _flags(sidecar: dict[str, Any]) -> list[Flag]:
    flags = sidecar.get("flags")
    return [note for item in flags if (note := _flag(item))] if isinstance(flags, list) else []


def _flag(item: object) -> Flag | None:
    if not isinstance(item, dict):
        return None
    try:
        return Flag.from_dict(item)
    except (KeyError, TypeError, ValueError, IndexError):
        return None


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


def _seconds(sidecar: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    seconds = sidecar.get("seconds")
    if not isinstance(seconds, dict):
        return ()
    return tuple(
        (str(k), float(v))
        for k, v in seconds.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    )


def _models(sidecar: dict[str, Any]) -> tuple[str, ...]:
    engines = sidecar.get("engines")
    if not isinstance(engines, dict):
        return ()
    return tuple(
        f"{role}: {info.get('model')} ({info.get('device')}, {info.get('dtype')})"
        for role, info in engines.items()
        if isinstance(info, dict)
    )
