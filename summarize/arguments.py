"""The command line's arguments: every command and option, and the values they accept."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from summarize.client import add_serve_command, add_server_option, server_flags
from summarize.demo import add_demo_command
from summarize.pipeline import RUNNERS
from summarize.planning import Shard
from summarize.version import __version__

__all__ = ["parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    settings = argparse.ArgumentParser(add_help=False)
    settings.add_argument("-c", "--config", type=Path, help="TOML configuration file")
    settings.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set runtime.device=cpu (repeatable)",
    )
    settings.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log messages (-vv for debug)"
    )
    parser = argparse.ArgumentParser(
        prog="summarize",
        description="Summarise English news articles and translate them to Arabic.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_parser = _add_run(commands, settings)
    _add_download(commands, settings)
    _add_eval(commands, settings)
    _add_review(commands, settings)
    _add_cache(commands, settings)
    add_serve_command(commands, settings)
    add_demo_command(commands, settings)
    config_parser = commands.add_parser("config", help="inspect the configuration")
    config_commands = config_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    config_commands.add_parser(
        "show",
        parents=[settings],
        help="print the effective configuration and where each value came from",
    )
    given = list(sys.argv[1:] if argv is None else argv)
    try:
        given = server_flags(given)
    except ValueError as exc:
        run_parser.error(str(exc))
    args = parser.parse_args(given)
    args.quiet = getattr(args, "quiet", False)
    if args.command == "run":
        if args.json and "-" not in args.paths:
            run_parser.error("--json applies to standard input only: give - as a PATH")
        if args.dry_run and "-" in args.paths:
            run_parser.error("--dry-run lists files; it does not apply to - (standard input)")
    if args.command == "review" and args.split and args.output == Path("-"):
        parser.error("review --split writes a folder of pages, not standard output")
    return args


def _add_run(commands: Any, settings: argparse.ArgumentParser) -> argparse.ArgumentParser:
    run_parser: argparse.ArgumentParser = commands.add_parser(
        "run",
        parents=[settings],
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
    run_parser.add_argument(
        "--force", action="store_true", help="redo articles even when they are up to date"
    )
    run_parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be done and why, without loading a model or writing a file",
    )
    run_parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="write outputs under DIR, mirroring the input tree (for read-only inputs)",
    )
    run_parser.add_argument(
        "--strict",
        action="store_true",
        help="count a flagged article (a guard check failed, or a warning) as failed: exit 1",
    )
    run_parser.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="write a JSON line per article, then a totals line, to FILE (.jsonl)",
    )
    run_parser.add_argument(
        "--fail-fast", action="store_true", help="stop after the first article that fails"
    )
    run_parser.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="take only shard K of N (0 <= K < N): N runs with K = 0..N-1 share the articles "
        "without overlap (a Slurm array, one run per GPU)",
    )
    run_parser.add_argument(
        "--runner",
        choices=RUNNERS,
        default="local",
        help="where the articles are done: this process (local), or a Ray cluster (ray; "
        "needs pip install 'summarize[ray]', models per actor from the [ray] settings)",
    )
    run_parser.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --runner ray, the cluster to join (default: RAY_ADDRESS, else a local Ray)",
    )
    run_parser.add_argument(
        "--json", action="store_true", help="with -, print one JSON object instead of plain text"
    )
    run_parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no summary line"
    )
    add_server_option(run_parser)
    return run_parser


def _add_download(commands: Any, settings: argparse.ArgumentParser) -> None:
    download = commands.add_parser(
        "download",
        parents=[settings],
        help="fetch the configured models now, for later runs without network",
        description="Download the configured models (at their revisions) into the Hugging Face "
        "cache, or with --to into plain model directories, and print how to use them offline.",
    )
    download.add_argument(
        "--to", type=Path, metavar="DIR", help="save plain model directories under DIR"
    )


def _add_eval(commands: Any, settings: argparse.ArgumentParser) -> None:
    evaluate = commands.add_parser(
        "eval",
        parents=[settings],
        help="score outputs against reference files next to them",
        description="ROUGE for the English summary, chrF and BLEU for the Arabic texts, against "
        "<stem>.ref.summary.txt, <stem>.ref.summary.ar.txt and <stem>.ref.ar.txt (names set "
        "in [eval]). Needs the eval extra: pip install 'summarize[eval]'.",
    )
    evaluate.add_argument("paths", nargs="+", metavar="PATH", help="articles or directories")
    evaluate.add_argument(
        "-o", "--output-dir", type=Path, metavar="DIR", help="the outputs were written under DIR"
    )
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="also write the scores as JSON")


def _add_review(commands: Any, settings: argparse.ArgumentParser) -> None:
    review = commands.add_parser(
        "review",
        parents=[settings],
        help="write an HTML page showing each article's English and Arabic side by side",
        description="Read the inputs, their outputs and sidecars (no model is run) and write one "
        "self-contained HTML page: counts, flagged and failed articles first, each article's "
        "paragraphs beside their translation, failed checks highlighted, removed lines struck "
        "through. Default: DIR.review.html beside a directory, else review.html here.",
    )
    review.add_argument("paths", nargs="+", metavar="PATH", help="articles or directories")
    review.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="the page to write (- for stdout)"
    )
    review.add_argument(
        "--output-dir", type=Path, metavar="DIR", help="the outputs were written under DIR"
    )
    review.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="a run's --report JSONL file: shows failed articles with their reasons",
    )
    review.add_argument(
        "-q", "--quiet", action="store_true", help="say nothing of the page written"
    )
    review.add_argument(
        "--split",
        action="store_true",
        help="write a folder instead: index.html and one page per article (for large runs)",
    )


def _add_cache(commands: Any, settings: argparse.ArgumentParser) -> None:
    cache = commands.add_parser(
        "cache",
        help="list or prune the CTranslate2 conversions in $SUMMARIZE_CACHE/ct2",
        description="The ctranslate2 backend converts each model once into $SUMMARIZE_CACHE/ct2 "
        "(default ~/.cache/summarize/ct2). List those conversions, or remove the ones no run "
        "has used lately and the folders left by a killed conversion.",
    )
    actions = cache.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[settings], help="size, model and age of each conversion")
    prune = actions.add_parser(
        "prune",
        parents=[settings],
        help="remove conversions unused for 30 days (or as set) and unfinished ones",
    )
    which = prune.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="remove every conversion")
    which.add_argument(
        "--older-than",
        type=_days,
        default=30.0,
        metavar="DAYS",
        help="remove conversions no run has used for DAYS days (default 30)",
    )


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or days < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (0 or more)")
    return days
