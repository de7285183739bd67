"""The README's Makefile under serial ``make`` and ``make -j4``, against one batch call.

Every figure is the wall time of real processes over the same articles, each time from
nothing done (a fresh copy), with the default ``runtime.threads = 0``: each process takes its
share of the cores (summarize.cores), so four make jobs do not fight over them.

- make: the README's recipe, one `summarize run FILE` per article, one after another;
- make -j4: the same, four at a time;
- batch: one `summarize run DIR` over all of them.

Models: the stand-ins of the default models (standins.py) through CTranslate2, with the
throughput benchmark's fixed output lengths, over short made-up articles (corpus.py). Their
conversion is made once before the timings, by a run over one article that is not timed.

    .venv/bin/python benchmarks/parallel_make.py     # a few minutes on the 2-core CPU
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from paths import CACHE_DIR  # noqa: E402


def readme_makefile() -> str:
    """The README's Makefile, as a user copies it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```make\n(.*?)```", readme, re.DOTALL)
    if found is None:
        raise SystemExit("README.md: no ```make block")
    return found.group(1)


def project(work: Path, name: str, sources: list[Path]) -> Path:
    """A fresh folder with the README's Makefile and a copy of ``sources`` in articles/."""
    folder = work / name
    (folder / "articles").mkdir(parents=True)
    (folder / "Makefile").write_text(readme_makefile(), encoding="utf-8")
    for path in sources:
        shutil.copy2(path, folder / "articles" / path.name)
    return folder


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of ``command``; SystemExit with its stderr if it fails."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed ({done.returncode}):\n{done.stderr!r}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=8, help="articles (default 8)")
    parser.add_argument("-j", "--jobs", type=int, default=4, help="make's jobs (default 4)")
    parser.add_argument("--threads", type=int, default=0, help="runtime.threads (default 0)")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="stand-ins (reused)")
    args = parser.parse_args()
    import standins
    from contenders import tool_overrides
    from harness import write_corpus

    cache = args.cache_dir.expanduser().resolve()
    dirs = {
        "summarizer": standins.ensure(standins.SUMMARIZER, cache),
        "translator": standins.ensure(standins.TRANSLATOR, cache),
    }
    flags = [
        x
        for item in tool_overrides(dirs, "cpu", "ctranslate2", args.threads)
        for x in ("--set", item)
    ]
    before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="pmake", dir="/tmp"))
    env = {
        **os.environ,
        "SUMMARIZE_CACHE": os.environ.get("SUMMARIZE_CACHE", str(cache / "summarize-cache")),
        "HF_HUB_OFFLINE": "1",
        "SUMMARIZE_SERVER_DIR": str(work / "s"),
        "PYTHONPATH": str(ROOT),
    }
    for name in ("SUMMARIZE_SERVER", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    tool = [sys.executable, "-m", "summarize"]
    make = ["make", f"SUMMARIZE={shlex.join(tool)}", f"SUMMARIZE_FLAGS={shlex.join(flags)}"]
    try:
        sources = [a.path for a in write_corpus(work / "corpus", args.n + 1, 80, 160, seed=0)]
        warm = project(work, "warm-up", sources[-1:])  # converts the models, untimed
        timed([*tool, "run", *flags, "articles"], warm, env)
        sources = sources[: args.n]
        rows = [
            ("make", timed(make, project(work, "serial", sources), env)),
            (
                f"make -j{args.jobs}",
                timed([*make, f"-j{args.jobs}"], project(work, "parallel", sources), env),
            ),
            (
                "one `summarize run DIR`",
                timed([*tool, "run", *flags, "articles"], project(work, "batch", sources), env),
            ),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{args.n} articles of 80-160 words; stand-ins of the default models, CTranslate2 int8, "
        f"fixed output lengths; runtime.threads = {args.threads}; {cores} cores; "
        f"load average {_load(before)} before, {_load(os.getloadavg())} after\n"
    )
    batch = rows[-1][1]
    print("| run | seconds | / batch |")
    print("|---|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.1f} | {seconds / batch:.2f} |")
    return 0


def _load(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in averages)


if __name__ == "__main__":
    raise SystemExit(main())
