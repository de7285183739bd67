"""The command line: parse arguments, set up logging, run the command and print its results."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from summarize import servers
from summarize.client import (
    LocalWork,
    run_remote,
    server_mode,
)
from summarize.config import load_config_with_origins, to_toml
from summarize.console import (
    ResultSink,
    TqdmProgress,
    print_report,
    print_stdin_results,
    print_stdin_warnings,
    report_sink,
)
from summarize.demo import DEMO_SETTINGS, copy_articles, tour
from summarize.discovery import Job, Skipped, display_name, report_clash
from summarize.download import download_models
from summarize.errors import SummarizeError, UsageError, naming
from summarize.interrupts import stop_on_signals
from summarize.pipeline import Planned, plan, run
from summarize.report import Report
from summarize.settings import Config
from summarize.stages.read import read_failure

if TYPE_CHECKING:
    from summarize.backends.ct2_cache import Conversion

from summarize.arguments import parse_args

__all__ = ["main", "parse_args"]

log = logging.getLogger("summarize")
#: a line per finished article and per model load, shown by default when stderr is a log file
progress_log = logging.getLogger("summarize.progress")
#: a line when a run starts waiting (models loading, Ray starting), shown unless --quiet
status_log = logging.getLogger("summarize.progress.status")


def main(argv: Sequence[str] | None = None) -> int:
    _open_closed_streams()
    try:
        args = parse_args(argv)
        _setup_logging(args.verbose, args.quiet)
        with stop_on_signals():
            return _command(args)
    except KeyboardInterrupt:  # Ctrl-C before the handlers were in place
        print("summarize: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as exc:  # a mistake in the tool: said in one line, the traceback at -vv
        log.debug("internal error", exc_info=True)
        print(
            f"summarize: internal error: {type(exc).__name__}: {exc} (a bug in summarize; "
            "-vv shows where)",
            file=sys.stderr,
        )
        return 1


def _open_closed_streams() -> None:
    """A standard stream a caller closed (``<&-``, ``>&-``, a daemon) reads as empty and takes
    writes to nowhere, as ``/dev/null`` does, instead of failing the tool where it is used."""
    if sys.stdin is None:
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - for the process's life
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115


def _command(args: argparse.Namespace) -> int:
    try:
        overrides = [*args.overrides, *DEMO_SETTINGS] if args.command == "demo" else args.overrides
        config, origins = load_config_with_origins(args.config, overrides)
        if args.command == "run":
            return _cmd_run(args, config)
        if args.command == "download":
            return _cmd_download(args, config)
        if args.command == "eval":
            return _cmd_eval(args, config)
        if args.command == "review":
            return _cmd_review(args, config)
        if args.command == "cache":
            return _cmd_cache(args)
        if args.command == "serve":
            return _cmd_serve(args, config)
        if args.command == "demo":
            return _cmd_demo(args, config)
        sys.stdout.write(to_toml(config, origins))
        return 0
    except SummarizeError as exc:
        print(f"summarize: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # before any article was started
        print("summarize: interrupted", file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except OSError as exc:  # a file named on the command line; never name a missing filename
        where = f"{display_name(exc.filename)}: " if exc.filename else ""
        print(f"summarize: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


def _cmd_run(args: argparse.Namespace, config: Config) -> int:
    if args.dry_run:
        return _dry_run(args, config)
    own_files = [args.report] if args.report else []
    if args.runner != "local" and args.server is not None:
        raise UsageError(f"--runner {args.runner} does not go through a server: drop --server")
    mode = server_mode(args.server) if args.runner == "local" else None
    if args.report is not None:
        clash = report_clash(args.report, args.paths, config.input, config.reserved_names)
        if clash is not None:
            raise UsageError(f"--report {display_name(args.report)}: {clash}; name another file")
    with report_sink(args.report) as jsonl:
        shard = None if args.shard is None else str(args.shard)
        report = Report(sink=ResultSink(jsonl), strict=args.strict, shard=shard)
        stdin = sys.stdin.buffer if "-" in args.paths else None
        progress = TqdmProgress(disable=args.quiet or not sys.stderr.isatty())
        here: LocalWork | None = LocalWork()
        if mode is not None:
            here = run_remote(
                config, args, mode, report=report, progress=progress, stdin=stdin,
                exclude=own_files,
            )  # fmt: skip
        if here is not None:  # no --server; nothing to generate; or --server-or-local
            run(
                config,
                args.paths,
                force=args.force,
                output_dir=args.output_dir,
                fail_fast=args.fail_fast,
                stdin=stdin if here.stdin is None else io.BytesIO(here.stdin),
                only=here.only,
                progress=progress,
                report=report,
                exclude=own_files,
                shard=args.shard,
                runner=args.runner,
                ray_address=args.ray_address,
            )
        # Results first: the report's totals then carry the exit code this run ends with.
        report.sink_error = _print_stdin_results(report, as_json=args.json)
        if jsonl is not None:
            jsonl.totals(report)
            report.sink_error = jsonl.error or report.sink_error
        if not args.json and not args.quiet and not args.verbose:  # -v logged them already
            print_stdin_warnings(report, err=sys.stderr)
        print_report(report, quiet=args.quiet, verbose=bool(args.verbose), err=sys.stderr)
    return report.exit_code


def _print_stdin_results(report: Report, *, as_json: bool) -> str | None:
    """Write standard input's results; why not, if standard output refused them.

    The articles were done all the same, so this is exit code 1, as for a report that cannot
    be written, not a usage error; stdout is then pointed at /dev/null so that the flush at
    exit does not fail again.
    """
    try:
        print_stdin_results(report, as_json=as_json, out=sys.stdout)
        sys.stdout.flush()
    except OSError as exc:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return f"standard output could not be written ({exc.strerror or exc})"
    return None


_LABEL_WIDTH = 20


def _dry_run(args: argparse.Namespace, config: Config) -> int:
    if args.report is not None:  # kept out of the inputs, as in the run it previews
        log.warning("--dry-run writes no report: %s is left as it is", display_name(args.report))
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
    failing_reads = _read_failures(planned, config)
    rows = [(failing_reads.get(p.job) or _planned_label(p), p.job.name) for p in planned]
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
        todo -= len(failing_reads)
        counts = f"{todo} to do, {sum(1 for p in planned if p.reason is None)} up to date"
        extra = (
            (len(failing_reads), "failing on reading"),
            (failing, "cannot be done"),
            (len(refused), "refused"),
            (len(skipped), "left out"),
        )
        counts += "".join(f", {n} {label}" for n, label in extra if n)
        counts += f" (shard {args.shard})" if args.shard is not None else ""
        print(counts, file=sys.stderr)
    return 1 if refused else 0


def _read_failures(planned: list[Planned], config: Config) -> dict[Job, str]:
    """The label of each file to do that would fail on reading alone, read here as a run
    would (standard input is left unread: it can be read only once)."""
    labels = {}
    for item in planned:
        job = item.job
        if item.reason is None or item.refused or item.error is not None or job.path is None:
            continue
        error = read_failure(job, config.input)
        if error is not None:
            labels[job] = f"fails: {error.removeprefix(f'{job.name}: ')}"
    return labels


def _planned_label(item: Planned) -> str:
    if item.error is not None:
        return f"cannot be done: {item.error}"
    return item.label


def _cmd_demo(args: argparse.Namespace, config: Config) -> int:
    """The real pipeline, here and on copies, with the demo engine (see summarize.demo)."""
    articles = copy_articles(config, args.paths, args.to)
    report = Report()
    progress = TqdmProgress(disable=args.quiet or not sys.stderr.isatty())
    run(config, [str(path) for path in articles], progress=progress, report=report)
    print_report(report, quiet=args.quiet, verbose=bool(args.verbose), err=sys.stderr)
    if not args.quiet:
        print(tour(config, args.to, articles), file=sys.stderr)
    return report.exit_code


def _cmd_serve(args: argparse.Namespace, config: Config) -> int:
    limits = servers.Limits.from_environment()
    if (args.all and not args.stop) or (args.list and args.stop):
        raise UsageError("serve: --all goes with --stop, and --list alone")
    if args.list:
        for path, status in servers.running(limits):
            said = status if isinstance(status, str) else servers.describe(status)
            print(f"{display_name(path)}  {said}")
        return 0
    if args.stop:
        return _stop_servers(args.all, config, limits)
    from summarize.server import serve

    def ready(path: Path) -> None:
        print(f"summarize: serving on {display_name(path)}", file=sys.stderr, flush=True)

    why = serve(config, idle_timeout=args.idle_timeout, gather=args.gather, ready=ready)
    print(f"summarize: stopped: {why}", file=sys.stderr)
    return 0


def _stop_servers(every: bool, config: Config, limits: servers.Limits) -> int:
    """``serve --stop [--all]``: 1 if a server did not stop (or, without --all, none runs)."""
    if not every:
        path, answer = servers.stop_for(config, limits)
        said = f"stopped {display_name(path)} (pid {answer.pid})" if answer else "no server runs"
        print(f"summarize: {said}", file=sys.stderr)
        return 0 if answer else 1
    code, found = 0, False
    for path in servers.sockets():
        try:
            answer = servers.stop(path, limits)
        except UsageError as exc:
            print(f"summarize: error: {exc}", file=sys.stderr)
            code = 1
            continue
        if answer is not None:
            found = True
            print(f"summarize: stopped {display_name(path)} (pid {answer.pid})", file=sys.stderr)
    if not found and not code:
        print("summarize: no server runs", file=sys.stderr)
    return code


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
        with naming(args.json):  # a full disk fails the write, which names no file
            args.json.write_text(
                json.dumps(to_json(evaluation), ensure_ascii=False, indent=2) + "\n",
                encoding="utf-8",
            )
    return 0


def _cmd_review(args: argparse.Namespace, config: Config) -> int:
    from summarize.review_html import write_review

    written, review = write_review(
        config,
        args.paths,
        args.output,
        out_dir=args.output_dir,
        report=args.report,
        split=args.split,
        stdout=sys.stdout.buffer,
    )
    if not args.quiet:
        counts = ", ".join(f"{n} {status.value}" for status, n in review.counts().items() if n)
        where = "standard output" if written is None else display_name(written)
        total = len(review.articles)
        print(
            f"summarize: wrote {where}: {total} article{'s' if total != 1 else ''}"
            + (f" ({counts})" if counts else ""),
            file=sys.stderr,
        )
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from summarize.backends.ct2_cache import list_conversions, prune_conversions
    from summarize.model_identity import cache_root

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
    # What a run waits for (models loading, Ray starting) is said on a terminal too: seconds
    # with nothing shown look like a hang.
    status_log.setLevel(logging.NOTSET if quiet else logging.INFO)
