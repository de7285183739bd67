"""`summarize demo`: the whole pipeline offline on copies of some articles, with the demo engine."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from summarize.discovery import STDIN, Job, display_name, find_inputs
from summarize.errors import UsageError
from summarize.outputs import output_paths
from summarize.settings import Config

__all__ = ["DEMO_SETTINGS", "SEEDS", "add_demo_command", "copy_articles", "tour"]

#: the settings a demo runs with, over the user's own (-c, --set): both roles on the demo engine
DEMO_SETTINGS = (
    "summarizer.backend=demo",
    "summarizer.model=demo",
    "translator.backend=demo",
    "translator.model=demo",
)
#: the example articles of a source checkout (the README's install is one)
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
#: where the copies go unless --to says otherwise
FOLDER = Path("summarize-demo")


def add_demo_command(commands: Any, settings: argparse.ArgumentParser) -> None:
    demo = commands.add_parser(
        "demo",
        parents=[settings],
        help="try the whole pipeline offline, without models (outputs labelled as demo output)",
        description="Copy the example articles (or the articles under PATH) into a folder of "
        "their own and run them through the real pipeline with the demo engine: no model, no "
        "download. Each summary is the article's first sentences after [demo], each "
        "'translation' the English spelt in Arabic letters after [تجريبي]; the sidecar names "
        "the demo engine, and a run with real models redoes every demo output.",
    )
    demo.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="articles or directories to copy (default: the example articles in seeds/)",
    )
    demo.add_argument(
        "--to",
        type=Path,
        default=FOLDER,
        metavar="FOLDER",
        help=f"the folder the copies and their outputs go in (default: {FOLDER})",
    )
    demo.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, no summary and no tour"
    )


def copy_articles(config: Config, paths: Sequence[str], folder: Path) -> list[Path]:
    """Copy the articles ``paths`` name (as a run would find them) into ``folder``; the copies.

    A copy already there with the same bytes is left alone, so a second demo finds its
    articles up to date, as a second run does. The folder must be one of its own: demo
    outputs beside the articles themselves would sit among real ones.
    """
    if not paths:
        paths = _seeds()
    if STDIN in paths:
        raise UsageError("demo copies files: give articles or directories, not - (standard input)")
    # The folder itself is left out: `demo . --to summarize-demo` copies no earlier copy.
    jobs = find_inputs(paths, config.input, config.reserved_names, exclude=[folder])
    if not jobs:
        raise UsageError(f"no articles found in {', '.join(map(display_name, paths))}")
    here = folder.resolve()
    copies: dict[Path, Job] = {}
    for job in jobs:
        path, source = _named(job)
        if here == source.resolve().parent or here in source.resolve().parents:
            raise UsageError(
                f"--to {display_name(folder)}: {job.name} is in it; the demo copies articles "
                "into a folder of their own, so that no demo output sits beside a real one"
            )
        copy = folder / path.relative_to(job.root or path.parent)
        if copy in copies:
            raise UsageError(
                f"{job.name} and {copies[copy].name} would both be copied to "
                f"{display_name(copy)}; name them from different folders"
            )
        copies[copy] = job
    for copy, job in copies.items():
        _copy(_named(job)[1], copy)
    return list(copies)


def _named(job: Job) -> tuple[Path, Path]:
    """The path a file job was found at, and the file to read (never a symlink)."""
    if job.path is None or job.source is None:
        raise UsageError("demo copies files, not standard input")
    return job.path, job.source


def _seeds() -> list[str]:
    if not SEEDS.is_dir():
        raise UsageError(
            "this install has no example articles (they come with a source checkout, in "
            "seeds/): name some, e.g. summarize demo news/"
        )
    return [str(SEEDS)]


def _copy(source: Path, copy: Path) -> None:
    """``copy`` holds the bytes of ``source``; left untouched when it does already."""
    if copy.is_file() and copy.read_bytes() == source.read_bytes():
        return
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, copy)


def tour(config: Config, folder: Path, articles: Sequence[Path]) -> str:
    """What a newcomer looks at next: an article's outputs, the review page, a real run."""
    outputs = output_paths(articles[0], config.output)
    what = {
        "summary": "the English summary: the article's first sentences, after [demo]",
        "summary_ar": "that summary 'in Arabic': spelt in Arabic letters, after [تجريبي]",
        "article_ar": "the whole article 'in Arabic', paragraph for paragraph",
    }
    rows = [(path, what[key]) for key, path in outputs.by_kind().items()]
    rows.append((outputs.sidecar, "the sidecar, written last: input, settings, engines, checks"))
    width = max(len(display_name(path)) for path, _ in rows)
    more = f" (and {len(articles) - 1} more articles)" if len(articles) > 1 else ""
    name = display_name(folder)
    lines = [
        f"demo engine, no model: every output is labelled as demo output. For "
        f"{display_name(articles[0].name)}"
        f"{more}:",
        *(f"  {display_name(path):<{width}}  {text}" for path, text in rows),
        "next:",
        f"  summarize review {name}    an HTML page: each article's English beside its Arabic",
        f"  summarize run {name}       with real models (the defaults download about "
        "1.5 GB on first use): it redoes every demo output",
    ]
    return "\n".join(lines)
