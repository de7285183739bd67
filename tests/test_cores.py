"""runtime.threads = 0: each process's fair share of the cores, from make's jobs and the
live summarize processes that run engines on this machine."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarize.cores import available_cores, live_engines, make_jobs, share
from tests.conftest import ECHO, ECHO_SETTINGS, ROOT
from tests.serving import environment, socket_folder

#: a process that registers (as an engine's load does), says so, and waits to be killed
HOLDER = (
    "import sys; from summarize.cores import engine_threads; engine_threads(0); "
    "print('held', flush=True); sys.stdin.read()"
)
ARTICLE = "The council met on Monday. It approved the new budget after a long debate.\n"
#: prints the share this process takes and how many it counted
SHARE = "from summarize.cores import engine_threads; print(engine_threads(0))"


@pytest.mark.parametrize(
    ("makeflags", "jobs"),
    [
        (" -j4 --jobserver-auth=3,4", 4),  # GNU make 4.3
        ("-j --jobserver-auth=fifo:/tmp/GMfifo1", 8),  # 4.4, no limit: as many as cores
        ("k -j2", 2),  # single-letter flags come first, without their dash
        ("", 1),  # not under make -j
        ("k", 1),
        ("--jobserver-fds=3,4 -j", 8),  # make 4.0/4.1 pass no number
        ("--jobs=3", 3),
        ("-j3 -- CC=-j9", 3),  # after --: variables, not flags
    ],
)
def test_make_jobs_from_makeflags(makeflags: str, jobs: int) -> None:
    assert make_jobs(makeflags, cores=8) == jobs


@pytest.mark.parametrize(
    ("cores", "processes", "threads"), [(8, 1, 8), (8, 4, 2), (8, 3, 2), (2, 4, 1), (1, 1, 1)]
)
def test_share_is_at_least_one_thread(cores: int, processes: int, threads: int) -> None:
    assert share(cores, processes) == threads


@pytest.fixture
def sockets() -> Iterator[Path]:
    with socket_folder() as folder:
        yield folder


def holder(env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "held\n"
    return process


def child_env(sockets: Path) -> dict[str, str]:
    return environment(sockets, PYTHONPATH=str(ROOT), MAKEFLAGS="")


def test_two_live_processes_count_two_and_a_dead_one_none(sockets: Path) -> None:
    env = child_env(sockets)
    first, second = holder(env), holder(env)
    try:
        assert live_engines(sockets / "engines") == 2
        second.send_signal(signal.SIGKILL)  # no exit handler runs: its file stays, unlocked
        second.wait(timeout=60)
        assert len(list((sockets / "engines").glob("*.lock"))) == 2
        assert live_engines(sockets / "engines") == 1
        assert len(list((sockets / "engines").glob("*.lock"))) == 1  # the stale one removed
    finally:
        for process in (first, second):
            process.kill()
            process.wait(timeout=60)


def test_a_run_beside_another_takes_half_the_cores(sockets: Path) -> None:
    cores = available_cores()
    env = child_env(sockets)
    other = holder(env)
    try:
        beside = subprocess.run(
            [sys.executable, "-c", SHARE], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        other.stdin.close()  # type: ignore[union-attr]
        other.wait(timeout=60)
    assert beside.returncode == 0, beside.stderr
    assert int(beside.stdout) == max(1, cores // 2)
    assert not list((sockets / "engines").glob("*.lock"))  # both removed their entries at exit


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
@pytest.mark.skipif(available_cores() < 2, reason="one core: the share is all of it")
def test_make_j2_runs_take_a_share_of_the_cores(
    tmp_path: Path, sockets: Path, tiny_models: dict[str, Path]
) -> None:
    """The README's recipe under make -j2: each run logs the share it took, below all cores
    (a model's engine takes one; the model-free echo engine uses no threads, and takes none)."""
    from tests.test_makefile import readme_makefile

    (tmp_path / "Makefile").write_text(readme_makefile(), encoding="utf-8")
    (tmp_path / "articles").mkdir()
    for name in ("a", "b"):
        (tmp_path / "articles" / f"{name}.txt").write_text(ARTICLE, encoding="utf-8")
    command = f"{shlex.quote(sys.executable)} -m summarize"
    model = ["--set", f"translator.model={tiny_models['translator']}"]
    flags = [*ECHO, *model, "--set", "translator.backend=transformers", "-v"]
    result = subprocess.run(
        ["make", "-j2", f"SUMMARIZE={command}", f"SUMMARIZE_FLAGS={shlex.join(flags)}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={k: v for k, v in child_env(sockets).items() if k not in ("MAKEFLAGS", "MFLAGS")},
    )
    assert result.returncode == 0, result.stderr
    shares = re.findall(
        r"using (\d+) of (\d+) cores \((\d+) summarize processes here\)", result.stderr
    )
    assert shares, result.stderr
    for used, cores, processes in shares:
        assert int(processes) >= 2
        assert int(used) < int(cores) == available_cores()
    assert os.listdir(sockets / "engines") == []


def test_a_model_free_engine_takes_no_share_and_is_not_counted(sockets: Path) -> None:
    """The echo engine uses no threads: a run of it beside a real one takes none of the cores
    (the real one keeps them all) and logs no share, which would only be noise."""
    env = child_env(sockets)
    code = (
        "from summarize import load_config; from summarize.engines import load_spec; "
        f"c = load_config(None, {ECHO_SETTINGS!r}); "
        "print([load_spec(r, c).threads for r in ('summarizer', 'translator')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 0]"
    assert not (sockets / "engines").exists() or not os.listdir(sockets / "engines")
