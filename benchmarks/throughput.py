"""Throughput and memory of `summarize` against the naive transformers baseline and raw CTranslate2.

    python benchmarks/throughput.py [--quick] [--device cpu|cuda] [--json-out PATH]

Contenders, all on the same articles, with the same models, beam size and output lengths:

  a  naive baseline: one generate() call per article (summary) and per sentence (translation),
     which is what transformers' summarization/translation pipelines did per input (transformers
     5 removed those pipelines; the calls below are their __call__ for one text);
  b  this tool, transformers backend: summarize.run(config, [dir], models=...);
  c  this tool, CTranslate2 backend (when summarize.backends.ct2 and ctranslate2 are there);
  d  raw CTranslate2 translate_batch on the very batches c (else b) sent to its engine, already
     tokenized, nothing around it.

With ``--models``, each named stand-in (nllb-200-distilled-600M, pegasus-cnn_dailymail, ...,
or "all") is then run alone through both engines, beside the default model of its role
(per_model.py): the speed column of the README's model guide.

Models are random stand-ins with the published architectures of the default models (see
standins.py); loading time is reported separately and never counted. Output lengths are fixed
(summary 80 tokens; translation ceil(1.2 x source tokens)), and the stand-ins cannot end early,
so every contender generates the same tokens; the tokens each one asked for and got are counted
and printed. Then: peak RSS of the tool over 100 and 1,000 articles (echo backend, labelled
so), and a no-op rerun over 10,000 up-to-date articles, with whether it imported torch.

The pieces: harness.py (the articles; CountingBackend, which wraps any summarize Backend
handed to summarize.run through Models and records each call; tallies and results),
contenders.py (a, b, c, d), system.py (the machine, memory, the no-op rerun), summary.py
(ratios, targets, the table, the JSON) and standins.py (the models, built by
tests/model_builders.py and cached). This file is the command line and the order of the parts.

Built models, conversions and the 10,000-article tree are cached (``--cache-dir``, default
``~/.cache/summarize-benchmarks``); the first run spends a few minutes building them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import contenders  # noqa: E402
import per_model  # noqa: E402
import standins  # noqa: E402
import summary  # noqa: E402
import system  # noqa: E402
from harness import Article, CountingBackend, Result, write_corpus  # noqa: E402
from paths import CACHE_DIR  # noqa: E402


@dataclass(frozen=True)
class Plan:
    """How much work each part does."""

    articles: int  # corpus for b, c, d
    min_words: int
    max_words: int
    baseline_articles: int  # a is timed on this many of them and projected to all
    rss_articles: tuple[int, int] = (100, 1000)
    rss_words: tuple[int, int] = (140, 600)
    noop_articles: int = 10_000
    noop_runs: int = 2
    repeats: int = 1  # c and d: the fastest of this many runs counts


# On a 2-core CPU: --quick about 2 minutes, the full run under 10 (once the cache is built).
QUICK = Plan(
    articles=2, min_words=60, max_words=120, baseline_articles=1, rss_words=(40, 90), noop_runs=1
)
FULL = Plan(
    articles=5,
    min_words=80,
    max_words=340,
    baseline_articles=3,
    rss_words=(80, 240),
    noop_runs=3,
    repeats=2,
)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 2 minutes on a 2-core CPU")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--json-out", type=Path, default=HERE / "results.json")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=CACHE_DIR,
        help="stand-in models, conversions and article trees (reused between runs)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="CPU threads for every contender (torch, runtime.threads, CTranslate2's "
        "intra_threads); default: all cores. Use fewer when other work shares the machine: "
        "torch's small ops slow down badly when a thread waits for a busy core",
    )
    parser.add_argument("--articles", type=int, help="articles for b, c and d")
    parser.add_argument(
        "--tool-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra setting for the tool's runs b and c, as summarize's --set (repeatable), "
        "e.g. runtime.batch_tokens=1024 (applied after the benchmark's own settings)",
    )
    parser.add_argument("--baseline-articles", type=int, help="articles the baseline is timed on")
    parser.add_argument(
        "--models",
        default="",
        metavar="NAMES",
        help="also run each of these stand-ins alone through both engines, beside the default "
        f"model of its role: 'all' or a comma-separated list of {', '.join(standins.STANDINS)}",
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to leave out: a,b,c,d,memory,noop"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    plan = dataclasses.replace(
        plan,
        articles=args.articles or plan.articles,
        baseline_articles=args.baseline_articles or plan.baseline_articles,
    )
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    chosen = per_model.names(args.models) if args.models else []
    cache = args.cache_dir.expanduser().resolve()
    cache.mkdir(parents=True, exist_ok=True)
    # The tool's own cache (CTranslate2 conversions) goes beside ours, not into ~/.cache/summarize.
    os.environ.setdefault("SUMMARIZE_CACHE", str(cache / "summarize-cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    _quiet_libraries()
    threads = args.threads
    if args.device == "cpu":
        import torch

        torch.set_num_threads(threads)
    begun = time.perf_counter()
    out: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "plan": dataclasses.asdict(plan),
    }
    placeholder = {"summarizer": Path("<stand-in>"), "translator": Path("<stand-in>")}
    out["tool_settings"] = [
        *contenders.tool_overrides(placeholder, args.device, "<backend>", threads),
        *args.tool_set,
    ]
    out["machine"] = system.machine(args.device)
    out["machine"]["threads"] = threads
    out["machine"]["cpu_busy_before"] = {}
    say = _printer()

    busy = system.cpu_busy()
    if busy > 0.25:
        say(
            f"warning: the CPU is {100 * busy:.0f}% busy before starting: other work shares it, "
            "so timings will be noisy (torch's small ops suffer most; see --threads)"
        )
    say(f"stand-in models in {cache} (built on first use) ...")
    started = time.perf_counter()
    dirs = {
        "summarizer": standins.ensure(standins.SUMMARIZER, cache),
        "translator": standins.ensure(standins.TRANSLATOR, cache),
    }
    for name in chosen:
        standins.ensure(name, cache)
    out["setup_seconds"] = {"models": round(time.perf_counter() - started, 1)}
    out["models"] = {
        "summarizer": {"path": str(dirs["summarizer"]), **standins.describe(standins.SUMMARIZER)},
        "translator": {"path": str(dirs["translator"]), **standins.describe(standins.TRANSLATOR)},
        **{name: {"path": str(cache / name), **standins.describe(name)} for name in chosen},
    }

    with tempfile.TemporaryDirectory(prefix="summarize-bench-") as tmp:
        work = Path(tmp)
        articles = write_corpus(work / "corpus", plan.articles, plan.min_words, plan.max_words, 1)
        out["corpus"] = _describe(articles, dirs)
        say(
            f"corpus: {len(articles)} articles, {out['corpus']['words']} words "
            f"({out['corpus']['min_words']}-{out['corpus']['max_words']} per article)"
        )
        results: dict[str, Result] = {}
        engines: dict[str, dict[str, CountingBackend]] = {}
        ct2 = contenders.ct2_status()
        out["ctranslate2"] = ct2
        if "a" not in skip:
            out["machine"]["cpu_busy_before"]["a"] = system.cpu_busy()
            sample = contenders.spread(articles, plan.baseline_articles)
            say(f"a: naive baseline on {len(sample)} article(s) ...")
            results["a"] = contenders.run_baseline(sample, articles, dirs, args.device)
            say(summary.line(results["a"]))
        # b and c: the tool with each backend (c only where it has a ctranslate2 backend)
        for key, backend, repeats in (("b", "transformers", 1), ("c", "ctranslate2", plan.repeats)):
            if key in skip:
                continue
            if key == "c" and not ct2["tool_backend"]:
                say(f"c: skipped ({ct2['why_not']})")
                continue
            out["machine"]["cpu_busy_before"][key] = system.cpu_busy()
            say(f"{key}: the tool, {backend} backend ...")
            results[key], engines[key] = contenders.run_tool(
                key,
                f"summarize, {backend} backend",
                backend,
                articles,
                work,
                dirs,
                args.device,
                threads,
                args.tool_set,
                repeats,
            )
            say(summary.line(results[key]))
        source = "c" if "c" in engines else "b" if "b" in engines else None
        if "d" not in skip and ct2["package"] and source:
            out["machine"]["cpu_busy_before"]["d"] = system.cpu_busy()
            compute_type = contenders.ct2_compute_type(engines.get("c"), args.device)
            say(f"d: raw ctranslate2 on the batches of {source} ({compute_type}) ...")
            d = contenders.run_raw_ct2(
                plan.repeats,
                engines[source],
                len(articles),
                dirs,
                cache,
                args.device,
                compute_type,
                threads,
            )
            calls = sum(len(e.calls) for e in engines[source].values())
            d.note = f"replays the {calls} engine calls of {source}" + (
                f"; {d.note}" if d.note else ""
            )
            results["d"] = d
            say(summary.line(d))
        elif "d" not in skip:
            say(
                "d: skipped ("
                + (
                    "ctranslate2 is not installed"
                    if not ct2["package"]
                    else "no tool run to replay"
                )
                + ")"
            )
        if "a" in results and "b" in results:
            contenders.project_baseline(
                results["a"], len(articles), results["b"].translation.requested
            )
        if chosen:
            out["machine"]["cpu_busy_before"]["models"] = system.cpu_busy()
            engines_off = [] if ct2["tool_backend"] else ["ctranslate2"]
            runs = per_model.run_all(
                chosen,
                articles,
                work,
                cache,
                args.device,
                threads,
                args.tool_set,
                1,
                say,
                engines_off,
            )
            out["per_model"] = per_model.table(runs)
        out["contenders"] = {k: r.as_dict(len(articles)) for k, r in results.items()}
        out["ratios"] = summary.ratios(results)
        out["work_check"] = summary.work_check(results)
        if "memory" not in skip:
            say("memory: peak RSS of the tool over 100 and 1,000 articles (echo backend) ...")
            out["memory"] = system.run_memory(plan, cache, work, env)
            say(f"  {out['memory']['runs']}")
        if "noop" not in skip:
            say(f"no-op rerun over {plan.noop_articles} up-to-date articles ...")
            out["noop"] = system.run_noop(plan, cache, work, dirs, env)
            say(f"  {out['noop']['runs']}, torch imported: {out['noop']['torch_imported']}")
    out["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out["targets"] = summary.targets(out)
    out["total_seconds"] = round(time.perf_counter() - begun, 1)
    summary.print_summary(out)
    if "per_model" in out:
        per_model.print_table(out["per_model"])
    summary.write_json(out, args.json_out)
    return 0


def _quiet_libraries() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    with contextlib.suppress(ImportError):
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    logging.getLogger("summarize").setLevel(logging.WARNING)


def _printer() -> Callable[[str], None]:
    begun = time.perf_counter()

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {text}", flush=True)

    return say


def _describe(articles: list[Article], dirs: dict[str, Path]) -> dict[str, Any]:
    from transformers import AutoTokenizer

    words = [a.words for a in articles]
    s_tok = AutoTokenizer.from_pretrained(dirs["summarizer"])
    t_tok = AutoTokenizer.from_pretrained(dirs["translator"])
    s_tokens = [len(s_tok(" ".join(a.text.split())).input_ids) for a in articles]
    t_tokens = [len(t_tok(a.text).input_ids) for a in articles]
    return {
        "articles": len(articles),
        "words": sum(words),
        "min_words": min(words),
        "max_words": max(words),
        "summarizer_tokens_per_word": round(sum(s_tokens) / sum(words), 3),
        "translator_tokens_per_word": round(sum(t_tokens) / sum(words), 3),
        "longest_summarizer_input": max(s_tokens),
        "note": "seeds/ articles (as cleaned by the tool) and made-up news; all fit the "
        "summarizer's 1024 tokens, so no contender needs map-reduce",
    }


if __name__ == "__main__":
    raise SystemExit(main())
