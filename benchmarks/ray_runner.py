"""The Ray runner against the local runner on one machine: overhead per article, 1 to 2 actors.

    python benchmarks/ray_runner.py [--echo-articles 200] [--tiny-articles 24] [--cpus 2]

The same corpus is done by the local runner, then by the Ray runner on a local Ray (started
once, its start-up timed apart) with ray.actors = 1 and 2; with the echo engine (the runners'
own cost: reading, writing, moving records between processes) and with the tests' tiny models
(runtime.threads = 1 everywhere, so two actors can use two cores where the local runner uses
one). Each run is over a fresh copy of the corpus and includes starting the actors and loading
the models in them. Prints a table and writes it as JSON (``--json-out``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from summarize.config import load_config  # noqa: E402
from summarize.pipeline import run  # noqa: E402
from summarize.report import Report  # noqa: E402
from summarize.settings import Config  # noqa: E402

ECHO = [
    f"{role}.{key}=echo" for role in ("summarizer", "translator") for key in ("backend", "model")
]
SENTENCE = "The committee met on {day} and agreed that the {n}th report needs more work."


def corpus(folder: Path, count: int) -> Path:
    """``count`` articles of 3 to 8 paragraphs of 3 sentences, a few hundred words each."""
    folder.mkdir(parents=True)
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
    for i in range(count):
        paragraphs = [
            " ".join(SENTENCE.format(day=days[(i + p + s) % 5], n=i + p + s) for s in range(3))
            for p in range(3 + i % 6)
        ]
        (folder / f"article{i:05d}.txt").write_text("\n\n".join(paragraphs) + "\n", "utf-8")
    return folder


def timed(config: Config, source: Path, work: Path, runner: str) -> tuple[float, Report]:
    tree = work / f"{runner}-{config.ray.actors}-{time.monotonic_ns()}"
    shutil.copytree(source, tree)
    started = time.perf_counter()
    report = run(config, [str(tree)], runner=runner)
    seconds = time.perf_counter() - started
    shutil.rmtree(tree)
    return seconds, report


def measure(
    name: str, path: Path | None, settings: list[str], articles: int, work: Path
) -> dict[str, Any]:
    source = corpus(work / f"{name}-corpus", articles)
    row: dict[str, Any] = {"engine": name, "articles": articles}
    base = [*settings, "runtime.threads=1", "ray.cpus_per_actor=0.25"]
    config = load_config(path, base)
    row["local_s"], report = timed(config, source, work, "local")
    done = report.counts()["done"]
    assert done == articles, report.counts()
    for actors in (1, 2):
        config = load_config(path, [*base, f"ray.actors={actors}"])
        seconds, report = timed(config, source, work, "ray")
        assert report.counts() == {**report.counts(), "done": articles}, report.counts()
        row[f"ray_{actors}_s"] = seconds
    row["overhead_ms_per_article"] = 1000 * (row["ray_1_s"] - row["local_s"]) / articles
    row["speedup_1_to_2"] = row["ray_1_s"] / row["ray_2_s"]
    print(
        f"{name:<6} {articles:>5} articles: local {row['local_s']:6.1f} s, ray 1 actor "
        f"{row['ray_1_s']:6.1f} s, 2 actors {row['ray_2_s']:6.1f} s; overhead "
        f"{row['overhead_ms_per_article']:6.1f} ms/article, "
        f"1->2 actors x{row['speedup_1_to_2']:.2f}",
        flush=True,
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echo-articles", type=int, default=200)
    parser.add_argument("--tiny-articles", type=int, default=24)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--json-out", type=Path, default=HERE / "ray_runner.json")
    args = parser.parse_args()

    import ray

    os.environ.setdefault("RAY_worker_niceness", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    temp = tempfile.mkdtemp(prefix="rayb", dir="/tmp")  # Ray's socket paths must stay short
    rows: list[dict[str, Any]] = []
    try:
        started = time.perf_counter()
        ray.init(
            num_cpus=args.cpus,
            include_dashboard=False,
            _temp_dir=temp,
            object_store_memory=512 * 2**20,
            log_to_driver=False,
            logging_level="ERROR",
        )
        start_s = time.perf_counter() - started
        print(f"local Ray with {args.cpus} CPUs started in {start_s:.1f} s; load {os.getloadavg()}")
        with tempfile.TemporaryDirectory(prefix="rayb") as scratch:
            work = Path(scratch)
            if args.echo_articles:
                rows.append(measure("echo", None, ECHO, args.echo_articles, work))
            if args.tiny_articles:
                from tests.model_builders import build_summarizer, build_translator

                summarizer = build_summarizer(work / "summarizer")
                translator = build_translator(work / "translator")
                models = [f"summarizer.model={summarizer}", f"translator.model={translator}"]
                tiny = ROOT / "configs" / "tiny.toml"
                rows.append(measure("tiny", tiny, models, args.tiny_articles, work))
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    result = {"ray_start_s": start_s, "cpus": args.cpus, "load": os.getloadavg(), "rows": rows}
    args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
