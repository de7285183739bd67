"""The warm server against one batch call: N single-file calls, 8 concurrent calls, client start-up.

Every figure is the wall time of real `summarize` processes, as a shell or make runs them:

- batch N: one `summarize run DIR` over N articles (start-up and model load included);
- local N: N `summarize run FILE` calls one after another, each loading the engines;
- served N: N `summarize run --server FILE` calls one after another, to a warm server;
- concurrent 8: eight `summarize run --server FILE` calls started at once (as `make -j8`);
- the server's own start-up (loading the engines) once, reported apart;
- the client's start-up: `import summarize.cli`, and a whole `run --server` call on an up-to-date
  article (planning only), with torch, transformers and ctranslate2 never imported;
- a profile of batch N against served N: the engine batches each made (their count and size,
  from the `-vv` log) and the seconds spent in them against everything else, which says where
  the difference between the two comes from.

Models: the stand-ins of the default architectures (standins.py) through CTranslate2, with the
throughput benchmark's fixed output lengths; `--echo` uses the model-free echo engine instead
(the figures then measure the tool's own overhead only, and are labelled so).

    .venv/bin/python benchmarks/server.py            # about 5 minutes on the 2-core CPU
    .venv/bin/python benchmarks/server.py --echo     # seconds
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from paths import CACHE_DIR  # noqa: E402

ECHO = [
    "summarizer.backend=echo",
    "summarizer.model=echo",
    "translator.backend=echo",
    "translator.model=echo",
]
TARGETS = {"served": 1.5, "concurrent": 1.0, "client": 0.3}


def settings(echo: bool, cache: Path, threads: int) -> list[str]:
    if echo:
        return ECHO
    import standins
    from contenders import tool_overrides

    dirs = {
        "summarizer": standins.ensure(standins.SUMMARIZER, cache),
        "translator": standins.ensure(standins.TRANSLATOR, cache),
    }
    return tool_overrides(dirs, "cpu", "ctranslate2", threads)


def make_articles(folder: Path, count: int) -> list[Path]:
    from tests.serving import articles  # the tests' articles: the seed, each made distinct

    folder.mkdir(parents=True)
    return articles(folder, count)


def command(flags: list[str], *args: str) -> list[str]:
    sets = [x for item in flags for x in ("--set", item)]
    return [sys.executable, "-m", "summarize", *args[:1], *sets, *args[1:]]


def timed(
    commands: list[list[str]], cwd: Path, env: dict[str, str], log: list[str] | None = None
) -> float:
    """Wall seconds for ``commands`` started together, to the last one's end; their stderr
    lines are added to ``log``."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(c, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for c in commands
    ]
    for process in processes:
        _, err = process.communicate(timeout=1800)
        if process.returncode != 0:
            raise SystemExit(f"failed ({process.returncode}): {err.decode()}")
        if log is not None:
            log.extend(err.decode(errors="replace").splitlines())
    return time.perf_counter() - started


# A batch run alone, or a wave's batches run together (sizes "3, 1, 1").
_BATCH = re.compile(
    r"(summarize|translate|guard): (?:a batch|\d+ batches) of ([\d, ]+) inputs "
    r"(?:together )?in ([\d.]+) s"
)


@dataclass
class Profile:
    """The engine batches of a run, read from its -vv log, against its wall time."""

    wall: float
    batches: dict[str, list[int]] = field(default_factory=dict)
    engine: float = 0.0

    @classmethod
    def read(cls, wall: float, lines: list[str]) -> Profile:
        profile = cls(wall)
        for line in lines:
            found = _BATCH.search(line)
            if found:
                stage, sizes, seconds = found.groups()
                profile.batches.setdefault(stage, []).extend(map(int, sizes.split(",")))
                profile.engine += float(seconds)
        return profile

    def shape(self, stage: str) -> str:
        sizes = self.batches.get(stage, [])
        if not sizes:
            return "none"
        return f"{len(sizes)} of {sum(sizes) / len(sizes):.1f} inputs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echo", action="store_true", help="the echo engine, not the models")
    parser.add_argument("-n", type=int, default=4, help="articles of the sequential comparison")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="stand-ins (reused)")
    args = parser.parse_args()
    cache = args.cache_dir.expanduser().resolve()
    os.environ.setdefault("SUMMARIZE_CACHE", str(cache / "summarize-cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    flags = settings(args.echo, cache, args.threads)
    work = Path(tempfile.mkdtemp(prefix="srv", dir="/tmp"))
    env = {**os.environ, "SUMMARIZE_SERVER_DIR": str(work / "s"), "PYTHONPATH": str(ROOT)}
    env.pop("SUMMARIZE_SERVER", None)
    rows: list[tuple[str, float]] = []
    profiles: dict[str, Profile] = {}
    try:
        for n in (args.n, 8):
            make_articles(work / f"batch{n}", n)
            lines: list[str] = []
            seconds = timed([command(flags, "run", "-vv", f"batch{n}")], work, env, lines)
            rows.append((f"batch {n}: one `run DIR` call", seconds))
            profiles.setdefault("batch", Profile.read(seconds, lines))
        alone = make_articles(work / "alone", args.n)
        seconds = sum(timed([command(flags, "run", str(p))], work, env) for p in alone)
        rows.append((f"local {args.n}: {args.n} `run FILE` calls in turn, no server", seconds))
        started = time.perf_counter()
        server_log = work / "server.log"
        log = open(server_log, "wb")  # noqa: SIM115 -- open for the server's life
        server = subprocess.Popen(command(flags, "serve", "-vv"), env=env, stderr=log, stdout=log)
        while b"serving on" not in server_log.read_bytes():
            if server.poll() is not None:
                raise SystemExit(server_log.read_text())
            time.sleep(0.05)
        load = time.perf_counter() - started
        try:
            served = make_articles(work / "served", args.n)
            before = len(server_log.read_bytes())
            seconds = sum(
                timed([command(flags, "run", "--server", str(p))], work, env) for p in served
            )
            rows.append((f"served {args.n}: {args.n} `run --server FILE` calls in turn", seconds))
            text = server_log.read_bytes()[before:].decode(errors="replace")
            profiles["served"] = Profile.read(seconds, text.splitlines())
            together = make_articles(work / "together", 8)
            calls = [command(flags, "run", "--server", str(p)) for p in together]
            rows.append(
                ("concurrent 8: 8 `run --server FILE` calls at once", timed(calls, work, env))
            )
            again = timed([command(flags, "run", "--server", str(together[0]))], work, env)
        finally:
            server.terminate()
            server.wait(timeout=120)
            log.close()
        probe = (
            "import sys, summarize.cli; "
            "assert not {'torch', 'transformers', 'ctranslate2'} & set(sys.modules)"
        )
        bare = timed([[sys.executable, "-c", "pass"]], work, env)
        imported = min(timed([[sys.executable, "-c", probe]], work, env) for _ in range(3))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    engine = (
        "echo engine (no model: the tool's own overhead only)"
        if args.echo
        else ("stand-ins of the default models, CTranslate2 int8, fixed output lengths")
    )
    print(f"engines: {engine}; {args.threads} threads; {os.cpu_count()} CPUs")
    print(f"server start-up (engines loaded once): {load:.1f} s\n")
    print("| calls | seconds | / batch |")
    print("|---|---|---|")
    batch = {args.n: rows[0][1], 8: rows[1][1]}
    for label, value in rows:
        n = args.n if not label.startswith(("concurrent", "batch 8")) else 8
        print(f"| {label} | {value:.1f} | {value / batch[n]:.2f} |")
    print_profile(profiles["batch"], profiles["served"], args.n)
    print(
        f"\nclient start-up, `import summarize.cli` (no torch): {imported:.2f} s "
        f"(bare python {bare:.2f} s, so {imported - bare:.2f} s of the tool's own)"
    )
    print(f"a `run --server` call on an up-to-date article: {again:.2f} s")
    print(
        f"targets: served <= {TARGETS['served']}x batch, concurrent <= "
        f"{TARGETS['concurrent']}x batch, client start-up < {TARGETS['client']} s"
    )


def print_profile(batch: Profile, served: Profile, n: int) -> None:
    """Where batch N and served N spend their time: engine batches against the rest."""
    print(f"\nprofile of {n} articles | one `run DIR` call | {n} served calls in turn |")
    print("|---|---|---|")
    for stage in ("summarize", "translate", "guard"):
        if stage in batch.batches or stage in served.batches:
            print(f"| {stage} batches | {batch.shape(stage)} | {served.shape(stage)} |")
    print(f"| seconds in engine batches | {batch.engine:.1f} | {served.engine:.1f} |")
    print(
        "| seconds in everything else (start-up, load, planning, I/O, waiting) | "
        f"{batch.wall - batch.engine:.1f} | {served.wall - served.engine:.1f} |"
    )
    print(f"| wall seconds | {batch.wall:.1f} | {served.wall:.1f} |")


if __name__ == "__main__":
    main()
