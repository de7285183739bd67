"""The command line: parse arguments, set up logging and progress, print results and report."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from summarize import __version__
from summarize.config import load_config
from summarize.errors import SummarizeError
from summarize.pipeline import run
from summarize.report import Report

__all__ = ["main", "parse_args"]

log = logging.getLogger("summarize")

_SECTION_TITLES = {
    "summary": "summary",
    "summary_ar": "summary (Arabic)",
    "article_ar": "article (Arabic)",
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="summarize",
        description="Summarise English news articles and translate them to Arabic.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_parser = commands.add_parser(
        "run",
        help="write a summary and Arabic translations next to each article",
        description="For each article.txt write article.summary.txt, article.summary.ar.txt, "
        "article.ar.txt and article.summarize.json (written last). Articles whose outputs are "
        "up to date are skipped.",
    )
    run_parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="an article, a directory (searched recursively), or - for standard input",
    )
    run_parser.add_argument("-c", "--config", type=Path, help="TOML configuration file")
    run_parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set runtime.device=cpu (repeatable)",
    )
    run_parser.add_argument(
        "--force", action="store_true", help="redo articles even when they are up to date"
    )
    run_parser.add_argument(
        "--json",
        action="store_true",
        help="with -, print one JSON object instead of plain text",
    )
    run_parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no summary line"
    )
    run_parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log messages (-vv for debug)"
    )
    args = parser.parse_args(argv)
    if args.json and "-" not in args.paths:
        run_parser.error("--json applies to standard input only: give - as a PATH")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    try:
        config = load_config(args.config, args.overrides)
        report = run(
            config,
            args.paths,
            force=args.force,
            stdin=sys.stdin.buffer if "-" in args.paths else None,
            progress=_TqdmProgress(disable=args.quiet or not sys.stderr.isatty()),
        )
    except SummarizeError as exc:
        print(f"summarize: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("summarize: interrupted", file=sys.stderr)
        return 130
    _print_stdin_results(report, as_json=args.json, out=sys.stdout)
    _print_report(report, quiet=args.quiet, err=sys.stderr)
    return report.exit_code


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    if quiet and not verbose:
        level = logging.ERROR
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("summarize: %(levelname)s: %(message)s"))
    root = logging.getLogger("summarize")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _print_stdin_results(report: Report, *, as_json: bool, out: TextIO) -> None:
    for result in report.results:
        if result.texts is None:
            continue
        if as_json:
            payload: dict[str, Any] = {**result.texts, "warnings": list(result.warnings)}
            out.write(json.dumps(payload, ensure_ascii=False) + "\n")
            continue
        for key, text in result.texts.items():
            out.write(f"=== {_SECTION_TITLES[key]} ===\n{text}\n\n")


def _print_report(report: Report, *, quiet: bool, err: TextIO) -> None:
    for failure in report.failures:
        print(f"failed: {failure.reason}", file=err)
    if not quiet:
        print(report.summary_line(), file=err)


class _TqdmProgress:
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
