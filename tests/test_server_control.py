"""Starting, listing and stopping servers, as real processes, and what each says it did."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ECHO
from tests.serving import TIMEOUT, Server, articles, environment, socket_folder, summarize


@pytest.fixture
def sockets() -> Iterator[Path]:
    with socket_folder() as folder:
        yield folder


def test_callers_started_together_start_one_server_and_log_no_error(
    sockets: Path, tmp_path: Path
) -> None:
    """`SUMMARIZE_SERVER=auto make -j4` started a server per caller; all but one ended with
    'error: a server ... is already running' in the shared log."""
    stories = articles(tmp_path, 4)
    callers = [
        subprocess.Popen(
            [sys.executable, "-m", "summarize", "run", "--auto-server", *ECHO, story.name],
            cwd=tmp_path,
            env=environment(sockets),
            stderr=subprocess.PIPE,
        )
        for story in stories
    ]
    try:
        for caller in callers:
            _, err = caller.communicate(timeout=TIMEOUT)
            assert caller.returncode == 0, err.decode()
        (log,) = sockets.glob("*.log")
        text = log.read_text(encoding="utf-8")
        assert "error" not in text.lower(), text
        assert text.count("serving on") == 1, text
    finally:
        summarize(tmp_path, sockets, "serve", "--stop", "--all")


def test_a_local_run_instead_of_the_server_says_why(sockets: Path, tmp_path: Path) -> None:
    """--server-or-local with no server ran here without a word."""
    (story,) = articles(tmp_path, 1)
    done = summarize(tmp_path, sockets, "run", "--server-or-local", story.name)
    assert done.returncode == 0, done.stderr
    said = b"no server runs with these settings: doing the articles here"
    assert done.stderr.count(said) == 1


def test_the_server_says_why_it_stops(sockets: Path, tmp_path: Path) -> None:
    """It ended without a word when idle or asked to stop."""
    idle = Server(sockets, tmp_path / "idle.log", "--idle-timeout", "0.5")
    assert idle.process.wait(timeout=TIMEOUT) == 0
    assert "stopped: idle for 0.5 s" in idle.text()
    asked = Server(sockets, tmp_path / "asked.log")
    stop = summarize(tmp_path, sockets, "serve", "--stop")
    assert stop.returncode == 0, stop.stderr
    assert f"(pid {asked.process.pid})".encode() in stop.stderr
    assert asked.process.wait(timeout=TIMEOUT) == 0
    assert "stopped: asked to stop" in asked.text()


def test_every_server_is_listed_and_stopped_at_once(sockets: Path, tmp_path: Path) -> None:
    """There was no way to list or stop every running server, whatever its settings."""
    other = [*ECHO, "--set", "output.translate=[]"]
    first = Server(sockets, tmp_path / "first.log")
    second = Server(sockets, tmp_path / "second.log", settings=other)
    try:
        listed = summarize(tmp_path, sockets, "serve", "--list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.decode().splitlines()
        assert len(lines) == 2
        for server in (first, second):
            (line,) = [line for line in lines if server.socket in line]
            assert f"pid {server.process.pid}, up " in line
            assert "echo + echo" in line
        stop = summarize(tmp_path, sockets, "serve", "--stop", "--all")
        assert stop.returncode == 0, stop.stderr
        assert stop.stderr.count(b"summarize: stopped ") == 2
        assert first.process.wait(timeout=TIMEOUT) == 0
        assert second.process.wait(timeout=TIMEOUT) == 0
        again = summarize(tmp_path, sockets, "serve", "--list")
        assert again.returncode == 0 and again.stdout == b""
        none = summarize(tmp_path, sockets, "serve", "--stop", "--all")
        assert none.returncode == 0 and b"no server runs" in none.stderr
    finally:
        first.stop()
        second.stop()


def test_all_and_list_go_with_what_they_mean(sockets: Path, tmp_path: Path) -> None:
    for args in (["--all"], ["--list", "--stop"]):
        done = summarize(tmp_path, sockets, "serve", *args)
        assert done.returncode == 2
        assert b"--all goes with --stop, and --list alone" in done.stderr
