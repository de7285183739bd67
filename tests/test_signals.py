"""Real runs stopped by signals at awkward moments: exit code, complete report, no claim left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from summarize.errors import Interrupted
from summarize.interrupts import STOP_SIGNALS, held, stop_on_signals
from tests.test_overnight import ARTICLES, engine, leftovers, make_articles, sidecars, wait_for

pytestmark = pytest.mark.slow


def start(folder: Path, report: Path, *options: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "summarize", "run", str(folder), "-q", *engine(0.3)]
    return subprocess.Popen(
        [*command, *options, "--report", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=60)
    return process.returncode, err


def check_report(report: Path, exit_code: int, articles: int = ARTICLES) -> dict[str, int]:
    """Every article has a line, and the last line holds the totals and the exit code."""
    lines = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert "totals" in lines[-1], lines[-1]
    assert lines[-1]["exit_code"] == exit_code
    assert len({line["path"] for line in lines[:-1]}) == len(lines) - 1 == articles
    totals: dict[str, int] = lines[-1]["totals"]
    assert totals["articles"] == articles
    # Every count but "flagged" (a part of "done") is disjoint: together they are all articles.
    assert sum(n for key, n in totals.items() if key not in ("articles", "flagged")) == articles
    return totals


def test_sighup_stops_the_run_like_sigterm(tmp_path: Path) -> None:
    folder, report = tmp_path / "news", tmp_path / "report.jsonl"
    make_articles(folder)
    process = start(folder, report)
    wait_for(lambda: len(sidecars(folder)) >= 1)
    process.send_signal(signal.SIGHUP)
    code, err = finish(process)
    assert code == 128 + signal.SIGHUP
    assert f"interrupted by signal {signal.SIGHUP}" in err
    assert check_report(report, code)["not done"] >= 1
    assert leftovers(folder) == []


@pytest.mark.parametrize(
    "first,second",
    [
        (signal.SIGINT, signal.SIGINT),  # Ctrl-C pressed twice
        (signal.SIGTERM, signal.SIGINT),
        (signal.SIGHUP, signal.SIGTERM),
    ],
)
def test_a_second_signal_still_leaves_a_complete_report_and_no_claim(
    tmp_path: Path, first: int, second: int
) -> None:
    folder, report = tmp_path / "news", tmp_path / "report.jsonl"
    make_articles(folder)
    process = start(folder, report)
    wait_for(lambda: len(sidecars(folder)) >= 1)
    process.send_signal(first)
    while process.poll() is None:  # more signals all through the cleanup, as from a keen user
        process.send_signal(second)
        time.sleep(0.002)
    code, err = finish(process)
    assert code in {128 + first, 128 + second}  # both pending at once: either may act first
    assert "Traceback" not in err
    check_report(report, code)
    assert leftovers(folder) == []


def test_an_interrupt_while_claiming_leaves_no_claim(tmp_path: Path) -> None:
    folder, report = tmp_path / "news", tmp_path / "report.jsonl"
    folder.mkdir()
    many = 400
    for i in range(many):
        (folder / f"s{i:03}.txt").write_text(f"Story {i} says something.", encoding="utf-8")
    process = start(folder, report, "--set", f"runtime.wave_size={many}")
    wait_for(lambda: any(p.name.endswith(".lock") for p in folder.iterdir()))
    process.send_signal(signal.SIGINT)  # the run is claiming its (one) wave of 400
    code, err = finish(process)
    assert code == 128 + signal.SIGINT, err
    check_report(report, code, articles=many)
    assert leftovers(folder) == []


def sleeping(pid: int) -> bool:
    """Whether the process sleeps in time.sleep (here: the echo engine's slow loading)."""
    try:
        return "nanosleep" in Path(f"/proc/{pid}/wchan").read_text(encoding="ascii")
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc")
def test_an_interrupt_while_loading_the_model_reports_every_article_not_done(
    tmp_path: Path,
) -> None:
    folder, report = tmp_path / "news", tmp_path / "report.jsonl"
    make_articles(folder)
    slow_load = "summarizer.model=echo:load_delay=60"
    process = start(folder, report, "--set", slow_load)
    wait_for(lambda: sleeping(process.pid))
    process.send_signal(signal.SIGINT)
    code, err = finish(process)
    assert code == 128 + signal.SIGINT
    assert "Traceback" not in err
    assert check_report(report, code)["not done"] == ARTICLES
    assert leftovers(folder) == []


def test_a_signal_during_a_held_step_is_raised_when_the_step_ends() -> None:
    saved = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    steps: list[str] = []
    try:
        with pytest.raises(Interrupted) as caught, stop_on_signals():
            with held():
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):  # the handler has every chance to run in here
                    time.sleep(0)
                steps.append("held step finished")
            steps.append("went on after the signal")
        assert caught.value.signum == signal.SIGTERM
        assert steps == ["held step finished"]
        os.kill(os.getpid(), signal.SIGINT)  # stopping: ignored, not a second interrupt
        time.sleep(0)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
