"""System measurements: the machine, the tool's peak memory, a no-op rerun's time and imports."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import corpus
from harness import copy_corpus, write_corpus

ROOT = Path(__file__).resolve().parent.parent
ECHO = [
    f"{role}.{key}=echo" for role in ("summarizer", "translator") for key in ("backend", "model")
] + [
    # The echo engine "translates" into English: the script and identical checks would flag,
    # and retry, every segment, which is not the pipeline's memory or a rerun's cost.
    'guards.checks=["empty", "length_cap", "repetition", "length_ratio", "summary_length", '
    '"grounding"]'
]

# Started from this (large) process, a child's ru_maxrss would include our own RSS at fork
# time; started from this small wrapper, it counts only the wrapper's few MB.
_PEAK_WRAPPER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{usage.ru_maxrss} {proc.returncode}")
"""


def measure(
    cmd: list[str], env: dict[str, str], stderr_path: Path, *, peak: bool = False
) -> tuple[float, float | None, int]:
    """Run ``cmd``; return (seconds, peak RSS in MB when ``peak``, exit code)."""
    report = stderr_path.with_suffix(".peak")
    if peak:
        cmd = [sys.executable, "-c", _PEAK_WRAPPER, str(report), *cmd]
    with stderr_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
        seconds = time.perf_counter() - started
    if not peak:
        return seconds, None, proc.returncode
    kilobytes, code = report.read_text().split()
    return seconds, int(kilobytes) / 1024, int(code)


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_memory(plan: Any, cache: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Peak RSS of ``python -m summarize run DIR --force`` (echo backend) at two corpus sizes."""
    low, high = plan.rss_words
    articles = write_corpus(
        cache / f"rss-{plan.rss_articles[1]}-{low}-{high}", plan.rss_articles[1], low, high, seed=11
    )
    out: dict[str, Any] = {
        "label": "echo backend (no model): memory of the pipeline itself, --force",
        "words_per_article": [low, high],
        "runs": {},
    }
    for count in plan.rss_articles:
        folder = copy_corpus(articles[:count], work / f"rss{count}")
        settings = [arg for setting in ECHO for arg in ("--set", setting)]
        cmd = [sys.executable, "-m", "summarize", "run", str(folder), "--force", *settings]
        seconds, rss, code = measure(cmd, env, work / f"rss{count}.err", peak=True)
        out["runs"][str(count)] = {
            "peak_rss_mb": round(rss or 0.0, 1),
            "seconds": round(seconds, 2),
            "exit_code": code,
            "summary_line": _last_line(work / f"rss{count}.err"),
        }
        shutil.rmtree(folder)
    small, large = (out["runs"][str(n)]["peak_rss_mb"] for n in plan.rss_articles)
    out["growth_mb"] = round(large - small, 1)
    return out


def run_noop(
    plan: Any, cache: Path, work: Path, dirs: dict[str, Path], env: dict[str, str]
) -> dict[str, Any]:
    """A tree of up-to-date articles, then `python -m summarize run DIR` on it, timed."""
    from summarize import load_config, load_models, run

    count = plan.noop_articles
    tree = cache / f"noop-{count}"
    config_file = cache / "noop.toml"
    # The real configuration (transformers backend, the stand-in models): a no-op rerun must
    # neither load them nor import torch.
    lines = [
        "[summarizer]",
        f"model = {json.dumps(str(dirs['summarizer']))}",
        "[translator]",
        f"model = {json.dumps(str(dirs['translator']))}",
        "[runtime]",
        'device = "cpu"',
        # The made-up articles are short; some are a headline alone, which a run fails.
        "[input]",
        "require_article = false",
    ]
    config_file.write_text("\n".join(lines) + "\n")
    config = load_config(config_file)
    if not (tree / ".written").is_file():
        rng_articles = list(corpus.make_corpus(count, seed=5, min_words=8, max_words=30))
        for i, text in enumerate(rng_articles):
            folder = tree / f"part{i // 1000:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"a{i:05d}.txt").write_text(text, encoding="utf-8")
        (tree / ".written").write_text("")
    # The first run: same settings, outputs made by the echo backend (no model), so that the
    # sidecars carry the signature of the real configuration. A no-op when already done.
    echo = load_models(load_config(None, ECHO))
    started = time.perf_counter()
    first = run(config, [str(tree)], models=echo)
    first_seconds = time.perf_counter() - started
    cmd = [sys.executable, "-m", "summarize", "run", str(tree), "-c", str(config_file)]
    runs = []
    for i in range(plan.noop_runs):
        seconds, _, code = measure(cmd, env, work / f"noop{i}.err")
        runs.append(
            {
                "seconds": round(seconds, 3),
                "exit_code": code,
                "summary_line": _last_line(work / f"noop{i}.err"),
            }
        )
    _, _, code = measure(
        [sys.executable, "-X", "importtime", *cmd[1:]], env, work / "importtime.err"
    )
    imported = set()
    for line in (work / "importtime.err").read_text(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line:
            imported.add(line.rsplit("|", 1)[1].strip())
    heavy = sorted(
        m for m in imported if m.split(".")[0] in {"torch", "transformers", "ctranslate2"}
    )
    return {
        "articles": count,
        "command": " ".join(["python", *cmd[1:]]),
        "first_run": {
            "seconds": round(first_seconds, 2),
            "summary_line": first.summary_line(),
            "note": "in-process, echo engines under the real configuration",
        },
        "runs": runs,
        "seconds": min(r["seconds"] for r in runs),
        "torch_imported": any(m.split(".")[0] == "torch" for m in imported),
        "heavy_modules_imported": heavy[:20],
        "modules_imported": len(imported),
    }


def cpu_busy(seconds: float = 0.5) -> float:
    """Share of all CPUs busy (with anything) over ``seconds``, from /proc/stat; -1 if unknown."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return -1.0
    return round(1 - (idle1 - idle0) / max(total1 - total0, 1), 2)


def machine(device: str) -> dict[str, Any]:
    """The machine and library versions, as recorded in results.json."""
    info: dict[str, Any] = {
        "device": device,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    for name in ("torch", "transformers", "ctranslate2", "summarize"):
        with contextlib.suppress(Exception):
            module = __import__(name)
            info[name] = getattr(module, "__version__", "?")
    with contextlib.suppress(Exception):
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if device == "cuda":
            info["gpu"] = torch.cuda.get_device_name(0)
    return info
