"""The command line: parse arguments, set up logging, run the command and print its results."""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarize.config import Config, load_config_with_origins, to_toml
from summarize.console import (
    ResultSink,
    TqdmProgress,
    print_report,
    print_stdin_results,
    print_stdin_warnings,
    report_sink,
)
from summarize.discovery import Skipped
from summarize.download import download_models
from summarize.errors import SummarizeError
from summarize.interrupts import stop_on_signals
from summarize.pipeline import RUNNERS, Planned, plan, run
from summarize.planning import Shard
from summarize.report import Report
from summarize.version import __version__

if TYPE_CHECKING:
    from summarize.backends.ct2_cache import Conversion

__all__ = ["main", "parse_args"]

log = logging.getLogger("summarize")
#: a line per finished article and per model load, shown by default when stderr is a log file
progress_log = logging.getLogger("summarize.progress")


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
    _add_cache(commands, settings)
    config_parser = commands.add_parser("config", help="inspect the configuration")
    config_commands = config_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    config_commands.add_parser(
        "show",
        parents=[settings],
        help="print the effective configuration and where each value came from",
    )
    args = parser.parse_args(argv)
    args.quiet = getattr(args, "quiet", False)
    if args.command == "run":
        if args.json and "-" not in args.paths:
            run_parser.error("--json applies to standard input only: give - as a PATH")
        if args.dry_run and "-" in args.paths:
            run_parser.error("--dry-run lists files; it does not apply to - (standard input)")
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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        _setup_logging(args.verbose, args.quiet)
        with stop_on_signals():
            return _command(args)
    except KeyboardInterrupt:  # Ctrl-C before the handlers were in place
        print("summarize: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


def _command(args: argparse.Namespace) -> int:
    try:
        config, origins = load_config_with_origins(args.config, args.overrides)
        if args.command == "run":
            return _cmd_run(args, config)
        if args.command == "download":
            return _cmd_download(args, config)
        if args.command == "eval":
            return _cmd_eval(args, config)
        if args.command == "cache":
            return _cmd_cache(args)
        sys.stdout.write(to_toml(config, origins))
        return 0
    except SummarizeError as exc:
        print(f"summarize: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # before any article was started
        print("summarize: interrupted", file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except OSError as exc:  # a file named on the command line; never name a missing filename
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"summarize: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


def _cmd_run(args: argparse.Namespace, config: Config) -> int:
    if args.dry_run:
        return _dry_run(args, config)
    own_files = [args.report] if args.report else []
    with report_sink(args.report) as jsonl:
        report = Report(sink=ResultSink(jsonl))
        run(
            config,
            args.paths,
            force=args.force,
            output_dir=args.output_dir,
            fail_fast=args.fail_fast,
            stdin=sys.stdin.buffer if "-" in args.paths else None,
            progress=TqdmProgress(disable=args.quiet or not sys.stderr.isatty()),
            report=report,
            exclude=own_files,
            shard=args.shard,
            runner=args.runner,
            ray_address=args.ray_address,
        )
        if jsonl is not None:
            jsonl.totals(report)
            report.sink_error = jsonl.error
        print_stdin_results(report, as_json=args.json, out=sys.stdout)
        if not args.json and not args.quiet and not args.verbose:  # -v logged them already
            print_stdin_warnings(report, err=sys.stderr)
        print_report(report, quiet=args.quiet, err=sys.stderr)
    return report.exit_code


_LABEL_WIDTH = 20


def _dry_run(args: argparse.Namespace, config: Config) -> int:
    skipped: list[Skipped] = []
    planned = plan(
        config,
        args.paths,
        force=args.force,
        output_dir=args.output_dir,
        exclude=[args.report] if args.report else [],
        skipped=skipped,
        shard=args.shard,
    )
    rows = [(_planned_label(p), p.job.name) for p in planned]
    rows += [(f"left out: {s.reason}", s.name) for s in skipped]
    # Long reasons do not widen the column of the usual short ones.
    width = max((len(label) for label, _ in rows if len(label) <= _LABEL_WIDTH), default=0)
    for label, name in rows:
        print(f"{label:<{width}}  {name}")
    refused = [p for p in planned if p.refused]
    for item in refused:
        print(f"failed: {item.reason}", file=sys.stderr)
    failing = sum(1 for p in planned if p.error is not None)
    if not args.quiet:
        todo = sum(1 for p in planned if p.reason is not None) - failing - len(refused)
        counts = f"{todo} to do, {sum(1 for p in planned if p.reason is None)} up to date"
        extra = (
            (failing, "cannot be done"),
            (len(refused), "refused"),
            (len(skipped), "left out"),
        )
        counts += "".join(f", {n} {label}" for n, label in extra if n)
        counts += f" (shard {args.shard})" if args.shard is not None else ""
        print(counts, file=sys.stderr)
    return 1 if refused else 0


def _planned_label(item: Planned) -> str:
    if item.error is not None:
        return f"cannot be done: {item.error}"
    return item.label


def _cmd_download(args: argparse.Namespace, config: Config) -> int:
    fetched = download_models(config, args.to)
    for item in fetched:
        print(f"{item.role}: {item.model}@{item.revision} -> {item.path}", file=sys.stderr)
    settings = [item.setting for item in fetched if item.setting]
    if settings:
        print("# use these models with:", " ".join(f"--set {s}" for s in settings))
        for item in fetched:
            print(f"[{item.role}]\nmodel = {json.dumps(str(item.path))}")
    elif fetched:
        print("# the models are in the Hugging Face cache; run offline with HF_HUB_OFFLINE=1")
    else:
        print("# nothing to download: the configured models are local", file=sys.stderr)
    return 0


def _cmd_eval(args: argparse.Namespace, config: Config) -> int:
    from summarize.evaluation import evaluate, format_table, to_json

    evaluation = evaluate(config, args.paths, args.output_dir)
    sys.stdout.write(format_table(evaluation) + "\n")
    if args.json:
        args.json.write_text(
            json.dumps(to_json(evaluation), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from summarize.backends.ct2_cache import cache_root, list_conversions, prune_conversions

    if args.action == "list":
        conversions = list_conversions()
        for item in conversions:
            print(_conversion_line(item))
        total = sum(item.size for item in conversions)
        where = cache_root() / "ct2"
        print(f"{len(conversions)} in {where}, {_size(total)}", file=sys.stderr)
        return 0
    removed = prune_conversions(older_than_days=None if args.all else args.older_than)
    for item in removed:
        print(f"removed {_conversion_line(item)}")
    print(f"{len(removed)} removed, {_size(sum(i.size for i in removed))} freed", file=sys.stderr)
    return 0


def _conversion_line(item: Conversion) -> str:
    age = (time.time() - item.used) / 86400
    state = "unfinished (a killed conversion)" if item.partial else f"{item.quantization}"
    return f"{_size(item.size):>9}  {age:6.1f} days  {item.model}  {state}  {item.path}"


def _size(size: float) -> str:
    if size < 1000:
        return f"{size:.0f} B"
    scaled, unit = size / 1000, "KB"
    for bigger in ("MB", "GB"):
        if scaled < 1000:
            break
        scaled, unit = scaled / 1000, bigger
    return f"{scaled:.1f} {unit}"


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
    # With no progress bar to watch (stderr is a log file), a line per article and per model
    # load says how an overnight run is going.
    overnight = not quiet and not sys.stderr.isatty()
    progress_log.setLevel(logging.INFO if overnight else logging.NOTSET)
