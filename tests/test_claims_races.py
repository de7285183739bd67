"""Claims under races, odd lock contents, reused pids, and holders that outlive their timeout."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarize.claims import Claim, Held, claim

HOST = socket.gethostname()
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

RACERS = 4
TRIALS = 300


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    return int(done.stdout)


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _racer(folder: str, ready: Any, done: Any, wins: Any) -> None:
    """Each trial: claim the stale lock together with the others, hold it until all have tried."""
    for trial in range(TRIALS):
        lock = Path(folder) / f".{trial}.lock"
        ready.wait()
        got = claim(lock, stale_after=3600)
        if isinstance(got, Claim):
            with wins.get_lock():
                wins[trial] += 1
        done.wait()
        if isinstance(got, Claim):
            got.release()


def test_racing_runs_never_both_take_over_a_stale_claim(tmp_path: Path) -> None:
    stale = json.dumps({"host": HOST, "pid": dead_pid(), "started": time.time()})
    for trial in range(TRIALS):
        (tmp_path / f".{trial}.lock").write_text(stale, encoding="utf-8")
    ctx = multiprocessing.get_context("fork")
    ready, done = ctx.Barrier(RACERS, timeout=60), ctx.Barrier(RACERS, timeout=60)
    wins = ctx.Array("i", TRIALS)
    racers = [
        ctx.Process(target=_racer, args=(str(tmp_path), ready, done, wins)) for _ in range(RACERS)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=300)
        assert racer.exitcode == 0
    assert [trial for trial in range(TRIALS) if wins[trial] != 1] == []  # one holder, always
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no drafts or claims left


def test_a_claim_whose_holder_dies_is_taken_over_at_once(tmp_path: Path) -> None:
    lock = tmp_path / ".a.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, pathlib; from summarize.claims import claim;"
         "c = claim(pathlib.Path(sys.argv[1]), stale_after=3600); print(type(c).__name__);"
         "sys.stdout.flush(); sys.stdin.read()", str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "Claim"
        age(lock, 7200)  # older than the timeout, but its holder is alive and holds the lock
        assert isinstance(claim(lock, stale_after=3600), Held)
    finally:
        holder.kill()
        holder.wait(timeout=60)
    os.utime(lock)  # just refreshed, yet its holder is gone: the kernel dropped its lock
    assert isinstance(claim(lock, stale_after=3600), Claim)


_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
)
_ODD_CLAIMS = st.one_of(
    st.binary(max_size=300),
    st.fixed_dictionaries(
        {},
        optional={
            "host": st.one_of(st.just(HOST), _ODD_VALUES),
            "pid": _ODD_VALUES,
            "started": _ODD_VALUES,
            "boot": _ODD_VALUES,
        },
    ).map(lambda d: json.dumps(d).encode()),
    st.just(b"\xff\xfe\x00garbage"),
    st.just(b'{"pid": 99999999999999999999, "host": "' + HOST.encode() + b'", "started": 1}'),
    st.just(b"[" * 5000),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=_ODD_CLAIMS)
def test_any_lock_content_is_judged_never_a_crash(tmp_path: Path, content: bytes) -> None:
    lock = tmp_path / ".a.lock"
    lock.write_bytes(content)
    got = claim(lock, stale_after=3600)  # whatever it says: an answer, not an exception
    if isinstance(got, Claim):
        got.release()
        assert not lock.exists()
        return
    age(lock, 3700)  # unrefreshed for longer than the timeout: stale, whatever it says
    taken = claim(lock, stale_after=3600)
    assert isinstance(taken, Claim)
    taken.release()
    assert not lock.exists()


@pytest.mark.parametrize(
    "info",
    [
        {"host": HOST, "pid": 1, "started": 1000},  # pid reused by a live, unrelated process
        {"host": HOST, "pid": 0, "started": 1000},
        {"host": HOST, "pid": -1, "started": 1000},
        {"host": HOST, "pid": 1, "started": math.inf},
        {"host": HOST, "pid": 1, "started": math.nan},
    ],
)
def test_claim_timeout_applies_whatever_pid_a_claim_names(
    tmp_path: Path, info: dict[str, Any]
) -> None:
    lock = tmp_path / ".a.lock"
    lock.write_text(json.dumps(info), encoding="utf-8")
    age(lock, 7200)
    assert isinstance(claim(lock, stale_after=3600), Claim)


@pytest.mark.skipif(not BOOT_ID.exists(), reason="no boot id on this system")
def test_a_claim_made_under_this_kernel_without_a_holder_is_taken_at_once(tmp_path: Path) -> None:
    lock = tmp_path / ".a.lock"
    boot = BOOT_ID.read_text(encoding="ascii").strip()
    # pid 1 is alive, but no process holds the claim's file lock: its maker is gone.
    lock.write_text(json.dumps({"host": HOST, "boot": boot, "pid": 1, "started": time.time()}))
    assert isinstance(claim(lock, stale_after=3600), Claim)


def test_release_leaves_a_claim_another_run_has_taken_over(tmp_path: Path) -> None:
    lock = tmp_path / ".a.lock"
    mine = claim(lock, stale_after=60)
    assert isinstance(mine, Claim)
    theirs = tmp_path / "theirs"
    theirs.write_text(json.dumps({"host": "elsewhere", "pid": 7, "started": time.time()}))
    os.replace(theirs, lock)  # another host judged ours stale and took it over
    assert not mine.refresh()
    mine.release()
    assert json.loads(lock.read_text(encoding="utf-8"))["host"] == "elsewhere"


def test_refresh_keeps_a_long_held_claim_from_timing_out(tmp_path: Path) -> None:
    lock = tmp_path / ".a.lock"
    mine = claim(lock, stale_after=60)
    assert isinstance(mine, Claim)
    age(lock, 120)  # a wave longer than the timeout...
    aged = lock.stat().st_mtime_ns
    assert mine.refresh()  # ...refreshed between stages
    assert lock.stat().st_mtime_ns > aged
    mine.release()
    assert not lock.exists()


def test_a_lock_path_that_is_not_a_file_is_an_error_naming_it(tmp_path: Path) -> None:
    lock = tmp_path / ".a.lock"
    os.mkfifo(lock)  # reading it would wait for a writer for ever: checked in a child, timed
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys, pathlib; from summarize.claims import claim\n"
         "try: claim(pathlib.Path(sys.argv[1]), stale_after=0)\n"
         "except OSError as exc: print(exc.filename, exc.strerror)", str(lock)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == f"{lock} exists and is not a regular file; remove it"


@pytest.mark.slow
def test_concurrent_runs_over_stale_claims_do_each_article_once(tmp_path: Path) -> None:
    folder, articles, runs = tmp_path / "news", 60, 6
    folder.mkdir()
    stale = json.dumps({"host": HOST, "pid": dead_pid(), "started": time.time()})
    for i in range(articles):
        (folder / f"s{i:02}.txt").write_text(f"Story {i} says something.", encoding="utf-8")
        (folder / f".s{i:02}.summarize.json.lock").write_text(stale, encoding="utf-8")
    echo = ["--set", "summarizer.backend=echo", "--set", "summarizer.model=echo",
            "--set", "translator.backend=echo", "--set", "translator.model=echo"]  # fmt: skip
    command = [sys.executable, "-m", "summarize", "run", str(folder), "-q", *echo]
    processes = [
        subprocess.Popen([*command, "--report", str(tmp_path / f"{n}.jsonl")]) for n in range(runs)
    ]
    assert [p.wait(timeout=120) for p in processes] == [0] * runs
    done = [
        record["path"]
        for n in range(runs)
        for line in (tmp_path / f"{n}.jsonl").read_text(encoding="utf-8").splitlines()
        if (record := json.loads(line)).get("status") in {"done", "flagged"}
    ]
    assert sorted(done) == sorted(str(p) for p in folder.glob("s*.txt") if p.suffixes == [".txt"])
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_a_claim_whose_name_just_fits_can_be_made(tmp_path: Path) -> None:
    lock = tmp_path / f".{'x' * 240}.summarize.json.lock"[:255]
    assert len(lock.name) == 255
    mine = claim(lock, stale_after=60)
    assert isinstance(mine, Claim)
    assert [p.name for p in tmp_path.iterdir()] == [lock.name]  # no draft left
    mine.release()


def test_a_claim_name_too_long_is_an_error_naming_the_claim(tmp_path: Path) -> None:
    lock = tmp_path / f".{'x' * 300}.lock"
    with pytest.raises(OSError) as caught:
        claim(lock, stale_after=60)
    assert caught.value.filename == str(lock)
    assert list(tmp_path.iterdir()) == []


# A process with ``free`` descriptors left claims ``lock`` and releases what it got: the error
# comes wherever the descriptors run out (the draft, an old claim, listing the folder).
_FEW_DESCRIPTORS = """
import os, resource, sys
from pathlib import Path
from summarize.claims import Claim, claim

lock, free = Path(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
taken = []
try:
    while True:
        taken.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
for fd in taken[len(taken) - free:]:
    os.close(fd)
try:
    got = claim(lock, stale_after=3600)
except OSError as exc:
    print("error", exc.errno)
else:
    print(type(got).__name__)
    if isinstance(got, Claim):
        got.release()
"""


@pytest.mark.parametrize("stale", [False, True], ids=["new", "stale"])
@pytest.mark.parametrize("free", [1, 2, 3])
def test_running_out_of_descriptors_while_claiming_leaves_no_claim(
    tmp_path: Path, free: int, stale: bool
) -> None:
    """A claim linked into place, then an error (here EMFILE listing the folder for drafts of
    killed runs): the caller must get the claim or an error, never lose a claim left behind
    that runs on other hosts wait runtime.claim_timeout for."""
    lock = tmp_path / ".a.summarize.json.lock"
    old = json.dumps({"host": HOST, "pid": dead_pid(), "started": time.time()})
    if stale:
        lock.write_text(old, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _FEW_DESCRIPTORS, str(lock), str(free)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome = done.stdout.split()[0]
    assert outcome in {"Claim", "error"}, done.stdout
    left = sorted(p.name for p in tmp_path.iterdir())
    if stale and outcome == "error":  # not taken over: the dead run's claim, as it was
        assert left == [lock.name]
        assert lock.read_text(encoding="utf-8") == old
    else:
        assert left == []
