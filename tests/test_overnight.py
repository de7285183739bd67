"""Real subprocesses killed, interrupted and run side by side over one directory."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from summarize.claims import Claim, claim

pytestmark = pytest.mark.slow

ARTICLES = 6
DONE = {"done", "flagged"}


def engine(delay: float) -> list[str]:
    model = f"echo:delay={delay}" if delay else "echo"
    return [
        "--set", "summarizer.backend=echo", "--set", f"summarizer.model={model}",
        "--set", "translator.backend=echo", "--set", f"translator.model={model}",
        "--set", "runtime.wave_size=1", "--set", "input.language_check=off",
    ]  # fmt: skip


def make_articles(folder: Path) -> None:
    folder.mkdir(parents=True)
    for i in range(ARTICLES):
        paragraphs = [
            f"Story {i} paragraph {p} says something. It adds a detail." for p in range(4)
        ]
        (folder / f"story{i}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


def start(folder: Path, report: Path, delay: float = 0.3) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "summarize", "run", str(folder), "-q", *engine(delay)]
    return subprocess.Popen(
        [*command, "--report", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def sidecars(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.summarize.json"))


def texts(folder: Path) -> dict[str, str]:
    """Every visible output text, by name (sidecars hold timings, so they are left out)."""
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(folder.iterdir())
        if not p.name.startswith(".") and p.name.endswith(".txt")
    }


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def records(report: Path) -> list[dict[str, object]]:
    lines = report.read_text(encoding="utf-8").splitlines() if report.exists() else []
    return [json.loads(line) for line in lines if not line.startswith('{"totals"')]


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What a complete, uninterrupted run writes."""
    folder = tmp_path_factory.mktemp("reference") / "news"
    make_articles(folder)
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(folder), "-q", *engine(0)],
        check=True,
        timeout=120,
    )
    assert done.returncode == 0
    return texts(folder)


@pytest.mark.parametrize("after_sidecars,extra_delay", [(0, 0.0), (1, 0.15), (3, 0.45)])
def test_kill_9_leaves_no_partial_file_and_a_rerun_finishes_the_rest(
    tmp_path: Path, expected: dict[str, str], after_sidecars: int, extra_delay: float
) -> None:
    folder = tmp_path / "news"
    make_articles(folder)
    inputs = {p.name: p.read_bytes() for p in folder.iterdir()}
    process = start(folder, tmp_path / "first.jsonl")
    if after_sidecars:
        wait_for(lambda: len(sidecars(folder)) >= after_sidecars)
    else:
        wait_for(lambda: any(p.name.endswith(".lock") for p in folder.iterdir()))
    time.sleep(extra_delay)
    process.kill()
    process.wait(timeout=30)

    # Whatever exists is complete: every visible output equals the uninterrupted run's.
    for name, text in texts(folder).items():
        assert text == expected[name], name
    finished = {p.name.replace(".summarize.json", ".txt") for p in sidecars(folder)}
    assert len(finished) < ARTICLES

    second = tmp_path / "second.jsonl"
    rerun = start(folder, second)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read() if rerun.stderr else ""
    statuses = {Path(str(r["path"])).name: r["status"] for r in records(second)}
    assert {n for n, s in statuses.items() if s == "skipped"} == finished
    assert {n for n, s in statuses.items() if s in {"done", "flagged"}} == set(inputs) - finished
    assert texts(folder) == expected
    assert leftovers(folder) == []  # no temporary files, no claims
    assert {p.name: p.read_bytes() for p in folder.glob("story?.txt")} == inputs


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_promptly_and_reports_what_was_not_done(
    tmp_path: Path, expected: dict[str, str], signum: int
) -> None:
    folder = tmp_path / "news"
    make_articles(folder)
    report = tmp_path / "report.jsonl"
    process = start(folder, report)
    wait_for(lambda: len(sidecars(folder)) >= 1)
    process.send_signal(signum)
    code = process.wait(timeout=30)  # a hang fails here; "promptly" is the not-done count below
    assert code == 128 + signum
    assert process.stderr is not None
    assert f"interrupted by signal {signum}" in process.stderr.read()
    lines = report.read_text(encoding="utf-8").splitlines()
    totals = json.loads(lines[-1])
    assert totals["exit_code"] == 128 + signum
    assert totals["totals"]["not done"] >= 1
    assert totals["totals"]["articles"] == ARTICLES
    for name, text in texts(folder).items():
        assert text == expected[name], name
    assert leftovers(folder) == []


def test_two_runs_over_one_directory_share_the_work(
    tmp_path: Path, expected: dict[str, str]
) -> None:
    folder = tmp_path / "news"
    make_articles(folder)
    reports = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    processes = [start(folder, report) for report in reports]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    by_run = [
        Counter(Path(str(r["path"])).name for r in records(report) if r["status"] in DONE)
        for report in reports
    ]
    assert all(by_run), by_run  # both runs did some of the work...
    assert sum(by_run, Counter()) == Counter({f"story{i}.txt": 1 for i in range(ARTICLES)})
    for report in reports:  # ...and left every other article to the other run
        assert {r["status"] for r in records(report)} <= {*DONE, "skipped", "held"}
    assert texts(folder) == expected
    for i in range(ARTICLES):  # each article's record names its input and all its outputs
        input_name = f"story{i}.txt"
        sidecar = json.loads((folder / f"story{i}.summarize.json").read_text(encoding="utf-8"))
        source = (folder / input_name).read_bytes()
        assert sidecar["input"]["path"] == str(folder / input_name)
        assert sidecar["input"]["sha256"] == hashlib.sha256(source).hexdigest()
        assert sorted(sidecar["outputs"].values()) == sorted(
            name for name in expected if name.startswith(f"story{i}.") and name != input_name
        )
    assert leftovers(folder) == []


def test_a_claim_left_by_a_run_killed_after_the_sidecar_is_removed_by_the_rerun(
    tmp_path: Path, expected: dict[str, str]
) -> None:
    """kill -9 between an article's sidecar and its claim's release: the article is up to
    date, so no rerun claims it again, and the rerun must still remove the dead run's claim;
    a live run's claim on an up-to-date article stays."""
    folder = tmp_path / "news"
    make_articles(folder)
    assert start(folder, tmp_path / "first.jsonl", delay=0).wait(timeout=120) == 0
    dead, live = folder / ".story0.summarize.json.lock", folder / ".story1.summarize.json.lock"
    killed = subprocess.run(
        [sys.executable, "-c", _CLAIM_AND_DIE, str(dead)], timeout=60, capture_output=True
    )
    assert killed.returncode == 9, killed.stderr
    assert dead.exists()
    held = claim(live, stale_after=3600)
    assert isinstance(held, Claim)
    try:
        rerun = start(folder, tmp_path / "rerun.jsonl", delay=0)
        assert rerun.wait(timeout=120) == 0, rerun.stderr.read() if rerun.stderr else ""
        assert leftovers(folder) == [live.name]
        assert {r["status"] for r in records(tmp_path / "rerun.jsonl")} == {"skipped"}
    finally:
        held.release()
    assert texts(folder) == expected


# A run's claim as it stands when the run is killed: created, locked, never released.
_CLAIM_AND_DIE = """
import os, sys
from pathlib import Path
from summarize.claims import claim
claim(Path(sys.argv[1]), stale_after=3600)
os._exit(9)
"""
