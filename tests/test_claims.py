"""Per-article claims: exclusive, released, and taken over only when stale."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from summarize.claims import Claim, Held, claim


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def test_claim_is_exclusive_and_records_who_holds_it(tmp_path: Path) -> None:
    lock = tmp_path / ".a.lock"
    first = claim(lock, stale_after=3600)
    assert isinstance(first, Claim)
    info = json.loads(lock.read_text(encoding="utf-8"))
    assert info["pid"] == os.getpid()
    assert info["host"] == socket.gethostname()
    second = claim(lock, stale_after=3600)  # this process is alive: the claim is not stale
    assert isinstance(second, Held)
    assert f"pid {os.getpid()}" in second.holder
    first.release()
    assert not lock.exists()
    assert isinstance(claim(lock, stale_after=3600), Claim)


def test_claim_of_a_dead_process_on_this_host_is_taken_over(tmp_path: Path) -> None:
    lock = tmp_path / ".a.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid(),
                                "started": time.time()}), encoding="utf-8")  # fmt: skip
    taken = claim(lock, stale_after=3600)
    assert isinstance(taken, Claim)
    assert json.loads(lock.read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert [p.name for p in tmp_path.iterdir()] == [".a.lock"]  # nothing left aside


def test_claim_of_another_host_is_respected_until_it_times_out(tmp_path: Path) -> None:
    lock = tmp_path / ".a.lock"
    lock.write_text(json.dumps({"host": "elsewhere", "pid": 1, "started": 1000}), "utf-8")
    assert isinstance(claim(lock, stale_after=60), Held)  # refreshed just now (its mtime)
    past = time.time() - 120
    os.utime(lock, (past, past))  # not refreshed for longer than the timeout
    assert isinstance(claim(lock, stale_after=60), Claim)


def test_empty_claim_is_respected_until_it_times_out(tmp_path: Path) -> None:
    lock = tmp_path / ".a.lock"
    lock.touch()  # not a claim this version writes: judged by its age alone
    assert isinstance(claim(lock, stale_after=3600), Held)
    past = time.time() - 3700
    os.utime(lock, (past, past))
    assert isinstance(claim(lock, stale_after=3600), Claim)
