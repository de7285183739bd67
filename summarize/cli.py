"""The command line: parse arguments, set up logging and progress, print results and report."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from summarize import __version__
from summarize.config import Config, load_config_with_origins, to_toml
from summarize.download import download_models
from summarize.errors import Interrupted, SummarizeError
from summarize.pipeline import plan, run
from summarize.report import ArticleResult, Report

__all__ = ["main", "parse_args"]

log = logging.getLogger("summarize")

_SECTION_TITLES = {
    "summary": "summary",
    "summary_ar": "summary (Arabic)",
    "article_ar": "article (Arabic)",
}


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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        config, origins = load_config_with_origins(args.config, args.overrides)
        if args.command == "run":
            return _cmd_run(args, config)
        if args.command == "download":
            return _cmd_download(args, config)
        if args.command == "eval":
            return _cmd_eval(args, config)
        sys.stdout.write(to_toml(config, origins))
        return 0
    except SummarizeError as exc:
        print(f"summarize: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # before any article was started
        print("summarize: interrupted", file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except OSError as exc:  # e.g. the report file
        print(f"summarize: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_run(args: argparse.Namespace, config: Config) -> int:
    if args.dry_run:
        return _dry_run(args, config)
    with _report_sink(args.report) as sink:
        report = Report(sink=sink.write if sink else None)
        run(
            config,
            args.paths,
            force=args.force,
            output_dir=args.output_dir,
            fail_fast=args.fail_fast,
            stdin=sys.stdin.buffer if "-" in args.paths else None,
            progress=_TqdmProgress(disable=args.quiet or not sys.stderr.isatty()),
            report=report,
        )
        _print_stdin_results(report, as_json=args.json, out=sys.stdout)
        _print_report(report, quiet=args.quiet, err=sys.stderr)
        if sink:
            sink.totals(report, report.exit_code)
    return report.exit_code


def _dry_run(args: argparse.Namespace, config: Config) -> int:
    planned = plan(config, args.paths, force=args.force, output_dir=args.output_dir)
    width = max((len(p.label) for p in planned), default=0)
    for item in planned:
        print(f"{item.label:<{width}}  {item.job.name}")
    refused = [p for p in planned if p.refused]
    for item in refused:
        print(f"failed: {item.reason}", file=sys.stderr)
    if not args.quiet:
        todo = sum(1 for p in planned if p.reason is not None and not p.refused)
        up_to_date = len(planned) - todo - len(refused)
        line = f"{todo} to do, {up_to_date} up to date"
        print(line + (f", {len(refused)} refused" if refused else ""), file=sys.stderr)
    return 1 if refused else 0


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


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


class _JsonlReport:
    """The --report file: a line per article as it finishes, so a killed run still leaves one."""

    def __init__(self, fh: TextIO) -> None:
        self.fh = fh

    def write(self, result: ArticleResult) -> None:
        self._line(
            {
                "path": result.name,
                "status": result.status.value,
                "reason": result.reason,
                "outputs": list(result.outputs),
                "seconds": {k: round(v, 4) for k, v in result.seconds.items()},
                "warnings": list(result.warnings),
            }
        )

    def totals(self, report: Report, exit_code: int) -> None:
        self._line(
            {"totals": report.totals(), "exit_code": exit_code, "summary": report.summary_line()}
        )

    def _line(self, payload: dict[str, Any]) -> None:
        self.fh.write(json.dumps(payload, ensure_ascii=False) + "\n")
        self.fh.flush()


@contextlib.contextmanager
def _report_sink(path: Path | None) -> Iterator[_JsonlReport | None]:
    if path is None:
        yield None
        return
    with path.open("w", encoding="utf-8") as fh:
        yield _JsonlReport(fh)


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
    if report.interrupted is not None:
        print(f"summarize: interrupted by signal {report.interrupted}", file=err)
    if not quiet or report.interrupted is not None:
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
