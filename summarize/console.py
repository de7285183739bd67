"""What the command line shows of a run: the progress bar, the --report file, the results."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from summarize.discovery import STDIN_NAME, display_name
from summarize.errors import UsageError
from summarize.outputs import KINDS
from summarize.report import ArticleResult, Report, Status

__all__ = [
    "JsonlReport",
    "ResultSink",
    "TqdmProgress",
    "print_flagged",
    "print_report",
    "print_stdin_results",
    "print_stdin_warnings",
    "report_sink",
]

#: a line per finished article, shown by default when stderr is a log file (see cli)
progress_log = logging.getLogger("summarize.progress")
# Articles the run worked on; the up to date and the held ones are only counted.
_WORKED = frozenset({Status.DONE, Status.FLAGGED, Status.FAILED})
_SECTION_TITLES = {kind.key: kind.title for kind in KINDS}


class JsonlReport:
    """The --report file: a line per article as it finishes, so a killed run still leaves one.

    A line that cannot be written (a full disk) ends the report, not the run: ``error`` says
    why, and the run's exit code shows it.
    """

    def __init__(self, fh: TextIO, path: Path) -> None:
        self.fh = fh
        self.path = path
        self.error: str | None = None

    def write(self, result: ArticleResult) -> None:
        self._line(
            {
                "path": result.name,
                "status": result.status.value,
                "reason": result.reason,
                "outputs": list(result.outputs),
                "seconds": {k: round(v, 4) for k, v in result.seconds.items()},
                "warnings": list(result.warnings),
                "flags": [flag.as_dict() for flag in result.flags],
            }
        )

    def totals(self, report: Report) -> None:
        self._line(
            {
                "totals": report.totals(),
                "exit_code": report.exit_code,
                "summary": report.summary_line(),
                **({"shard": report.shard} if report.shard is not None else {}),
            }
        )

    def _line(self, payload: dict[str, Any]) -> None:
        if self.error is not None:
            return
        try:
            line = json.dumps(payload, ensure_ascii=False)
            # A path with bytes that are not UTF-8 must not cost the line: escape what is left.
            self.fh.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
            self.fh.flush()
        except OSError as exc:
            self.error = (
                f"--report {display_name(self.path)}: cannot write ({exc.strerror or exc}); "
                "the articles were still processed, but the report is incomplete"
            )


class ResultSink:
    """Each finished article: to the --report file, and as a log line (see cli._setup_logging)."""

    def __init__(self, jsonl: JsonlReport | None) -> None:
        self.jsonl = jsonl

    def __call__(self, result: ArticleResult) -> None:
        if result.status in _WORKED:
            seconds = sum(result.seconds.values())
            progress_log.info("%s %s (%.1f s)", result.status.value, result.name, seconds)
        if self.jsonl is not None:
            self.jsonl.write(result)


@contextlib.contextmanager
def report_sink(path: Path | None) -> Iterator[JsonlReport | None]:
    if path is None:
        yield None
        return
    try:
        fh = path.open("w", encoding="utf-8")
    except OSError as exc:  # found before any article is touched: a usage error
        raise UsageError(
            f"--report {display_name(path)}: cannot write it ({exc.strerror or exc})"
        ) from None
    jsonl = JsonlReport(fh, path)
    try:
        yield jsonl
    finally:
        try:
            fh.close()
        except OSError as exc:  # the last buffered bytes of a report that could not be written
            why = f"--report {display_name(path)}: cannot write ({exc.strerror or exc})"
            jsonl.error = jsonl.error or why


def print_stdin_results(report: Report, *, as_json: bool, out: TextIO) -> None:
    for result in report.results:
        if result.texts is None and result.name != STDIN_NAME:
            continue
        texts = result.texts or {}
        if as_json:
            # The same keys for every outcome; null for a text that was not made.
            payload: dict[str, Any] = {
                "status": result.status.value,
                "reason": result.reason,
                **{key: texts.get(key) for key in _SECTION_TITLES},
                "warnings": list(result.warnings),
                "flags": [flag.as_dict() for flag in result.flags],
            }
            out.write(json.dumps(payload, ensure_ascii=False) + "\n")
            continue
        for key, text in texts.items():
            out.write(f"=== {_SECTION_TITLES[key]} ===\n{text}\n\n")


def print_stdin_warnings(report: Report, *, err: TextIO) -> None:
    """Warnings of a standard-input article, which has no sidecar to keep them, and the checks
    that flagged it (one line per output and check: a long article may fail one in every
    segment); without them a flagged article from standard input would not say why."""
    for result in report.results:
        if result.texts is None:
            continue
        for warning in result.warnings:
            print(f"summarize: warning: {result.name}: {warning}", file=err)
        failed: dict[tuple[str, str], list[int]] = {}
        for flag in result.flags:
            if not flag.repaired:
                failed.setdefault((flag.output, flag.check), []).append(flag.segment)
        for (output, check), segments in failed.items():
            where = f"segment {segments[0]}" if len(segments) == 1 else f"{len(segments)} segments"
            print(
                f"summarize: warning: {result.name}: {output}: failed the {check} check in "
                f"{where} (-v for each)",
                file=err,
            )


def print_report(report: Report, *, quiet: bool, err: TextIO, verbose: bool = False) -> None:
    """Failures, then (``verbose``) each flagged article with its checks, then the summary."""
    if verbose:
        print_flagged(report, err=err)
    for failure in report.failures:
        print(f"failed: {failure.reason}", file=err)
    if report.sink_error is not None:
        print(f"summarize: warning: {report.sink_error}", file=err)
    if report.interrupted is not None:
        print(f"summarize: interrupted by signal {report.interrupted}", file=err)
    if not quiet or report.interrupted is not None:
        print(report.summary_line(), file=err)


def print_flagged(report: Report, *, err: TextIO) -> None:
    """Each article with a failed check or a warning: the checks, repaired or not, and why."""
    for result in report.results:
        if result.status is not Status.FLAGGED and not result.flags:
            continue
        print(f"{result.status.value}: {result.name}", file=err)
        for flag in result.flags:
            print(f"  {flag.describe()}", file=err)
        for warning in result.warnings:
            print(f"  warning: {warning}", file=err)


class TqdmProgress:
    """A progress bar over articles on stderr, its description showing the current stage."""

    def __init__(self, *, disable: bool) -> None:
        self.disable = disable
        self.bar: Any = None

    def start(self, total: int) -> None:
        if self.disable:
            return
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="article", file=sys.stderr, dynamic_ncols=True)

    def stage(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_description(name)

    def advance(self, count: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(count)
            if self.bar.n >= self.bar.total:
                self.bar.close()
