"""The warm server's bounds, as real processes: what a server or a client refuses, how long a
client waits, and what it does with a server that froze, stopped or sent what no server does."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarize.protocol import receive
from summarize.report import Status
from tests.conftest import ECHO
from tests.serving import (
    TIMEOUT,
    FakeServer,
    Server,
    articles,
    socket_folder,
    start_caller,
    summarize,
)

SLOW = [*ECHO[:3], "summarizer.model=echo:delay=1.5", *ECHO[4:], "--set", "runtime.wave_size=1"]
#: what a client waits in these tests before it takes a silent server for lost
SILENCE = "1"


@pytest.fixture
def sockets() -> Iterator[Path]:
    with socket_folder() as folder:
        yield folder


def sidecar(story: Path) -> Path:
    return story.with_name(f"{story.stem}.summarize.json")


def test_a_request_nested_too_deep_is_refused_and_closed(sockets: Path, tmp_path: Path) -> None:
    """100,000 '[' killed the connection's thread with a RecursionError: no answer, and the
    connection stayed open."""
    server = Server(sockets, tmp_path / "server.log")
    try:
        data = b"[" * 100_000
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(TIMEOUT / 4)  # no answer fails here, not by the suite's timeout
            conn.connect(server.socket)
            conn.sendall(struct.pack(">I", len(data)) + data)
            answer = receive(conn)
            assert answer is not None and answer["type"] == "error"
            assert "nested deeper than" in str(answer["message"])
            assert receive(conn) is None  # and closed
        assert "RecursionError" not in server.text()
        (story,) = articles(tmp_path, 1)
        assert summarize(tmp_path, sockets, "run", "--server", story.name).returncode == 0
    finally:
        server.stop()


@contextlib.contextmanager
def frozen(server: Server) -> Iterator[None]:
    server.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        server.process.send_signal(signal.SIGCONT)
        server.stop()


def test_a_frozen_server_is_lost_after_its_silence(sockets: Path, tmp_path: Path) -> None:
    """A stopped (SIGSTOP) server hung its callers for good, --server-or-local ones too."""
    (story,) = articles(tmp_path, 1)
    with frozen(Server(sockets, tmp_path / "server.log")):
        for mode, code in (("--server", 1), ("--server-or-local", 0)):
            done = summarize(
                tmp_path, sockets, "run", mode, story.name, SUMMARIZE_SERVER_TIMEOUT=SILENCE
            )
            err = done.stderr.decode()
            assert done.returncode == code, err
            assert f"lost the server (no word from the server for {SILENCE} s" in err
            assert sidecar(story).exists() == (mode == "--server-or-local")
        stop = summarize(tmp_path, sockets, "serve", "--stop", SUMMARIZE_SERVER_TIMEOUT=SILENCE)
        assert stop.returncode == 2
        assert b"the server did not stop: no word from the server" in stop.stderr


def test_a_server_at_work_longer_than_the_silence_is_not_lost(
    sockets: Path, tmp_path: Path
) -> None:
    """The limit is on silence, not on the run: a batch longer than it is no lost server."""
    server = Server(sockets, tmp_path / "server.log", settings=SLOW)
    try:
        (story,) = articles(tmp_path, 1)
        done = summarize(tmp_path, sockets, "run", "--server", story.name, settings=SLOW,
                    SUMMARIZE_SERVER_TIMEOUT="0.5")  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        assert server.engine_calls() > 0
    finally:
        server.stop()


def test_a_timeout_that_is_no_number_of_seconds_is_a_usage_error(
    sockets: Path, tmp_path: Path
) -> None:
    (story,) = articles(tmp_path, 1)
    for variable in ("SUMMARIZE_SERVER_TIMEOUT", "SUMMARIZE_SERVER_START_TIMEOUT"):
        done = summarize(tmp_path, sockets, "run", "--server", story.name, **{variable: "soon"})
        assert done.returncode == 2
        assert f"{variable}='soon': not a number of seconds".encode() in done.stderr


def test_a_server_stopped_mid_run_is_lost_and_its_articles_done_here(
    sockets: Path, tmp_path: Path
) -> None:
    """SIGTERM to the server made its callers report 'interrupted by signal 15', and a
    --server-or-local caller did not do the rest itself as it does after a kill."""
    server = Server(sockets, tmp_path / "server.log", settings=SLOW)
    stories = articles(tmp_path / "news", 2)
    caller = start_caller(tmp_path, sockets, "news", settings=SLOW, mode="--server-or-local")
    server.wait_for("echo generate:")
    assert server.stop() == 128 + signal.SIGTERM
    _, err = caller.communicate(timeout=TIMEOUT)
    assert caller.returncode == 0, err.decode()
    assert b"lost the server (the server was stopped by signal 15): doing the" in err
    assert b"interrupted" not in err
    assert all(sidecar(story).exists() for story in stories)


def result(name: str, **changed: object) -> dict[str, object]:
    return {
        "type": "result", "name": name, "status": Status.DONE.value, "reason": "up to date",
        "outputs": [], "seconds": {}, "warnings": [], "texts": None, "flags": [], **changed,
    }  # fmt: skip


START = {"type": "start", "count": 1}
END = {"type": "end"}
ODD_REPLIES = {
    "an end with no result": [START, END],
    "a result for another article": [START, result("other.txt"), END],
    "a status that is none": [START, result("story0.txt", status="bogus"), END],
    "seconds that are no number": [START, result("story0.txt", seconds={"read": "x"}), END],
    "a flag that is none": [START, result("story0.txt", flags=[[1]]), END],
    "texts that are no text": [START, result("story0.txt", texts={"summary": 5}), END],
    "a count that is none": [{"type": "start", "count": None}, END],
    "a log level that is none": [
        {"type": "log", "logger": "summarize", "level": "x", "message": "hi"},
        END,
    ],
    "a log line for another logger": [
        {"type": "log", "logger": "os", "level": 40, "message": "hi"},
        END,
    ],
    "an end that says interrupted": [START, {"type": "end", "interrupted": 127}],
    "a reply of no known type": [{"type": "exec"}, END],
    "nesting too deep": [b"[" * 100_000],
    "not JSON": [b"{nope"],
    "no reply at all": [None],
}


@pytest.mark.parametrize("replies", ODD_REPLIES.values(), ids=ODD_REPLIES.keys())
def test_a_server_that_sends_what_no_server_does_is_lost(
    sockets: Path, tmp_path: Path, replies: list[dict[str, object] | bytes | None]
) -> None:
    """The client trusted the server: an end with no result, or a result for another article,
    gave exit 0 and '0/1 articles done' with nothing written; other odd replies an internal
    error or exit 255. Each is now a lost server: the articles done here where asked."""
    (story,) = articles(tmp_path, 1)
    fake = FakeServer(sockets, replies)
    try:
        for mode, code in (("--server", 1), ("--server-or-local", 0)):
            done = summarize(
                tmp_path, sockets, "run", mode, story.name, SUMMARIZE_SERVER_TIMEOUT=SILENCE
            )
            err = done.stderr.decode()
            assert done.returncode == code, err
            assert "lost the server (" in err
            assert "internal error" not in err and "Traceback" not in err
            assert sidecar(story).exists() == (mode == "--server-or-local")
            if mode == "--server":
                assert "failed: story0.txt: not done: the server stopped" in err
    finally:
        fake.close()


def test_a_result_sent_twice_is_taken_once(sockets: Path, tmp_path: Path) -> None:
    """A second result for an article counted it twice ('2 articles done' of one); the first
    stands, and the run is whole."""
    (story,) = articles(tmp_path, 1)
    fake = FakeServer(sockets, [START, result("story0.txt"), result("story0.txt"), END])
    try:
        done = summarize(tmp_path, sockets, "run", "--server", story.name)
        err = done.stderr.decode()
        assert done.returncode == 0, err
        assert "lost the server (it sent a result for story0.txt, not asked for or sent" in err
        assert "once every article had its result" in err
        assert "1 article done" in err
    finally:
        fake.close()


def test_an_idle_server_is_in_no_callers_folder(sockets: Path, tmp_path: Path) -> None:
    """The server kept the last caller's folder as its working directory, so that file system
    could not be unmounted until it ended."""
    if not os.path.isdir("/proc/self/cwd"):
        pytest.skip("needs /proc")
    server = Server(sockets, tmp_path / "server.log")
    try:
        where = Path(f"/proc/{server.process.pid}/cwd")
        assert os.readlink(where) == "/"
        (story,) = articles(tmp_path / "caller", 1)
        done = summarize(story.parent, sockets, "run", "--server", story.name)
        assert done.returncode == 0, done.stderr
        assert sidecar(story).exists()  # relative paths are still the caller's
        assert os.readlink(where) == "/"
    finally:
        server.stop()
