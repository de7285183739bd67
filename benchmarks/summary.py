"""What the benchmark concludes: ratios on equal work, targets, the printed table and the JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import Result

TARGETS = {
    "b/a": 2.7,
    "c/a": 9.2,
    "c/d": 1.1,
    "c/d (cpu time)": 1.0,
    "noop_seconds": 3.0,
    "rss_growth_mb": 300.0,
}


def ratios(results: dict[str, Result]) -> dict[str, Any]:
    """Throughput of one contender over another's, on equal work (and by CPU time)."""
    found: dict[str, Any] = {}
    for top, bottom in (("b", "a"), ("c", "a"), ("c", "d"), ("d", "a"), ("c", "b"), ("d", "b")):
        if top in results and bottom in results:
            t, b = results[top], results[bottom]
            # Same work (tokens asked for), so the ratio of throughputs is that of times.
            speed = (t.work_tokens / t.work_seconds) / (b.work_tokens / b.work_seconds)
            found[f"{top}/{bottom}"] = round(speed, 2)
            if t.projected_seconds is None and b.projected_seconds is None:
                # By CPU time too: less sensitive to other work on the machine.
                found[f"{top}/{bottom} (cpu time)"] = round(
                    (t.tokens / t.cpu_seconds) / (b.tokens / b.cpu_seconds), 2
                )
    return found


def work_check(results: dict[str, Result]) -> dict[str, Any]:
    """Per contender, the work per article: it should match across contenders."""
    check: dict[str, Any] = {}
    for key, r in results.items():
        check[key] = {
            "summary_tokens_per_article": round(r.summary.requested / max(r.articles, 1), 1),
            "translation_tokens_per_article": round(
                r.translation.requested / max(r.articles, 1), 1
            ),
            "rows_stopped_early": r.summary.stopped_early + r.translation.stopped_early,
            "decoded_over_requested": round(
                (r.summary.decoded + r.translation.decoded) / max(r.tokens, 1), 3
            ),
        }
    return check


def targets(out: dict[str, Any]) -> dict[str, Any]:
    """Each target, its value and whether it was met."""
    found = out.get("ratios", {})
    met: dict[str, Any] = {}
    for key in ("b/a", "c/a", "c/d", "c/d (cpu time)"):
        if key in found:
            met[key] = {
                "value": found[key],
                "target": f">= {TARGETS[key]}",
                "met": found[key] >= TARGETS[key],
            }
    if "noop" in out:
        noop = out["noop"]
        met["noop"] = {
            "value": noop["seconds"],
            "target": f"< {TARGETS['noop_seconds']} s, no torch",
            "met": noop["seconds"] < TARGETS["noop_seconds"] and not noop["torch_imported"],
        }
    if "memory" in out:
        growth = out["memory"]["growth_mb"]
        met["rss_growth"] = {
            "value": growth,
            "target": f"< {TARGETS['rss_growth_mb']} MB",
            "met": growth < TARGETS["rss_growth_mb"],
        }
    return met


def line(r: Result) -> str:
    return (
        f"  {r.key}: {r.articles} articles in {r.seconds:.1f} s (load {r.load_seconds:.1f} s); "
        f"{60 * r.articles / r.seconds:.2f} articles/min, {r.tokens / r.seconds:.1f} tokens/s; "
        f"summary {r.summary.requested} tokens, translation {r.translation.requested} tokens, "
        f"{r.summary.stopped_early + r.translation.stopped_early} rows stopped early"
    )


def print_summary(out: dict[str, Any]) -> None:
    print()
    print(
        f"{'':3}{'contender':50} {'art/min':>8} {'tok/s':>8} {'sum t/s':>8} {'tr t/s':>8} "
        f"{'seconds':>8} {'load s':>7} {'corpus art/min':>15}"
    )
    for key, c in out.get("contenders", {}).items():
        print(
            f"{key:3}{c['label'][:50]:50} {c['articles_per_minute']:8.2f} "
            f"{c['tokens_per_second']:8.1f} {c['summary_tokens_per_second']:8.1f} "
            f"{c['translation_tokens_per_second']:8.1f} {c['seconds']:8.1f} "
            f"{c['load_seconds']:7.1f} {c['corpus_articles_per_minute']:15.2f}"
        )
        if c["note"]:
            print(f"{'':5}{c['note']}")
    print("\nwork per article (tokens asked for; every contender should match):")
    for key, w in out.get("work_check", {}).items():
        print(f"   {key}: {w}")
    print("\nratios (throughput on equal work; a projected to the whole corpus when sampled):")
    for key, value in out.get("ratios", {}).items():
        if value is not None:
            print(f"   {key}: {value}")
    if "memory" in out:
        m = out["memory"]
        print(f"\npeak RSS ({m['label']}):")
        for n, run in m["runs"].items():
            print(
                f"   {n:>5} articles: {run['peak_rss_mb']} MB in {run['seconds']} s "
                f"({run['summary_line']})"
            )
        print(f"   growth: {m['growth_mb']} MB")
    if "noop" in out:
        n = out["noop"]
        print(
            f"\nno-op rerun over {n['articles']} up-to-date articles: {n['seconds']} s "
            f"(runs: {[r['seconds'] for r in n['runs']]}; {n['runs'][0]['summary_line']}); "
            f"torch imported: {n['torch_imported']}"
        )
    print("\ntargets:")
    for key, t in out.get("targets", {}).items():
        verdict = "met" if t["met"] else "MISSED"
        print(f"   {key:14} {t['value']!s:>8}  target {t['target']:24} {verdict}")


def write_json(out: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten: {path}  ({out['total_seconds']} s in all)")
