"""The warm server, as real processes: the same results as a local run, shared waves, failures."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarize.config import load_config
from summarize.identity import settings_identity
from summarize.protocol import VERSION, receive
from tests.conftest import ECHO, ECHO_SETTINGS
from tests.serving import (
    TIMEOUT,
    Server,
    articles,
    environment,
    socket_folder,
    start_caller,
    summarize,
    timeless,
)

SLOW = [*ECHO[:3], "summarizer.model=echo:delay=1.5", *ECHO[4:]]
#: a wave per article, so a run has waves not yet started (every caller names the same settings)
SLOW_WAVES = [*SLOW, "--set", "runtime.wave_size=1"]
OUTPUTS = (".summary.txt", ".summary.ar.txt", ".ar.txt", ".summarize.json")
# What differs between any two runs: when, how long, and the input's own mtime.
VOLATILE = {"created", "seconds", "mtime_ns", "seal"}  # the seal sums up the others


@pytest.fixture
def sockets() -> Iterator[Path]:
    with socket_folder() as folder:
        yield folder


@pytest.fixture
def server(sockets: Path, tmp_path: Path) -> Iterator[Server]:
    running = Server(sockets, tmp_path / "server.log")
    yield running
    running.stop()


def stable(value: object) -> object:
    """A sidecar or report line without what differs between any two runs."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def snapshot(folder: Path) -> dict[str, object]:
    """Every file under ``folder``: text outputs byte for byte, JSON without volatile fields."""
    seen: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            name = str(path.relative_to(folder))
            if path.suffix == ".json":
                seen[name] = stable(json.loads(data))
            elif path.suffix == ".jsonl":
                seen[name] = [stable(json.loads(line)) for line in data.splitlines()]
            else:
                seen[name] = data
    return seen


def test_a_run_through_the_server_is_the_same_as_a_local_run(
    server: Server, sockets: Path, tmp_path: Path
) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    for root in (here, there):
        articles(root / "news", 3)
        (root / "news" / "story0.summary.txt").write_text("stale\n", encoding="utf-8")
        (root / "news" / "notes.TXT").write_text("left out\n", encoding="utf-8")
    for call in (
        ["run", "--report", "r.jsonl", "news"],
        ["run", "--report", "r.jsonl", "news"],  # all up to date: done here, no engine
        ["run", "--dry-run", "news"],
        ["run", "--force", "--fail-fast", "news/story1.txt"],
        ["run", "-o", "out", "news/story2.txt"],
        ["run", "--force", "--report", "shard.jsonl", "--shard", "1/3", "news"],
        ["run", "--force", "--strict", "news/story0.txt"],
    ):
        local = summarize(here, sockets, *call)
        remote = summarize(there, sockets, call[0], "--server", *call[1:])
        assert remote.returncode == local.returncode, remote.stderr
        assert remote.stdout == local.stdout
        assert timeless(remote.stderr) == timeless(local.stderr)
        assert snapshot(there) == snapshot(here)
    assert server.engine_calls() > 0  # the articles were done there, not by the client


def test_flags_reach_the_caller_as_in_a_local_run(sockets: Path, tmp_path: Path) -> None:
    # Every guard check on: echo's "Arabic" is its English, so each text is flagged.
    every_check = [item for setting in ECHO_SETTINGS[:4] for item in ("--set", setting)]
    served = Server(sockets, tmp_path / "server.log", settings=every_check)
    try:
        here, there = tmp_path / "here", tmp_path / "there"
        text = b"The minister spoke on Friday. He said the talks would go on next week.\n"
        for root in (here, there):
            articles(root / "news", 2)
        for call, stdin in (
            (["run", "-v", "--report", "r.jsonl", "news"], b""),
            (["run", "--json", "-"], text),
            # a new article to do, and two flagged by the run before: all fail
            (["run", "--strict", "--report", "strict.jsonl", "news", "more"], b""),
        ):
            if "more" in call:
                articles(here / "more", 1)
                articles(there / "more", 1)
            local = summarize(here, sockets, *call, settings=every_check, stdin=stdin)
            remote = summarize(
                there, sockets, call[0], "--server", *call[1:], settings=every_check, stdin=stdin
            )
            assert remote.returncode == local.returncode, remote.stderr
            assert remote.stdout == local.stdout
            assert timeless(remote.stderr) == timeless(local.stderr)
            assert snapshot(there) == snapshot(here)
            if "--json" in call:
                assert b'"check": "script"' in remote.stdout
        assert remote.returncode == 1
        assert b"flagged when it was done, failed by --strict" in remote.stderr
        report = snapshot(there)["r.jsonl"]
        assert isinstance(report, list) and all(line["flags"] for line in report[:-1])
    finally:
        served.stop()


def test_standard_input_through_the_server(server: Server, sockets: Path, tmp_path: Path) -> None:
    text = b"The minister spoke on Friday. He said the talks would go on.\n"
    for extra in ([], ["--json"]):
        local = summarize(tmp_path, sockets, "run", *extra, "-", stdin=text)
        remote = summarize(tmp_path, sockets, "run", "--server", *extra, "-", stdin=text)
        assert (remote.returncode, remote.stdout) == (local.returncode, local.stdout), remote.stderr
        assert b"minister" in remote.stdout
    assert server.engine_calls() > 0


def test_concurrent_callers_share_the_engine_calls_of_one_batch(
    sockets: Path, tmp_path: Path
) -> None:
    stories = articles(tmp_path / "batch", 4)
    alone = summarize(tmp_path, sockets, "run", "-vv", "batch/story0.txt")
    one_article = alone.stderr.decode().count("echo generate:")
    together = summarize(tmp_path, sockets, "run", "-vv", "batch")
    batch = together.stderr.decode().count("echo generate:")
    assert batch < 4 * one_article
    for story in stories:  # the same articles again, now one caller each
        for suffix in OUTPUTS:
            Path(f"{story.with_suffix('')}{suffix}").unlink()
    served = Server(sockets, tmp_path / "server.log", "--gather", "8")
    try:
        callers = [start_caller(tmp_path, sockets, str(story), settings=ECHO) for story in stories]
        assert [c.wait(timeout=TIMEOUT) for c in callers] == [0, 0, 0, 0]
        assert served.engine_calls() == batch
    finally:
        served.stop()
    assert all(Path(f"{s.with_suffix('')}{x}").exists() for s in stories for x in OUTPUTS)


def test_callers_arriving_one_after_another_keep_the_gathering_wait_open(
    sockets: Path, tmp_path: Path
) -> None:
    # Requests sent 2 s apart (raw, so no caller's start-up shifts them): the third comes 4 s
    # after the first, past a single wait of 3 s, but within 3 s of the second.
    served = Server(sockets, tmp_path / "server.log", "--gather", "3")
    key = settings_identity(load_config(None, ECHO[1::2])).server
    stories = articles(tmp_path / "news", 3)
    connections = []
    try:
        for story in stories:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(TIMEOUT)
            conn.connect(served.socket)
            conn.sendall(framed({"type": "run", "version": VERSION, "settings": key,
                                 "cwd": str(tmp_path), "paths": [str(story)],
                                 "umask": 0o022}))  # fmt: skip
            connections.append(conn)
            time.sleep(2)
        for conn in connections:
            kinds = []
            while not kinds or kinds[-1] != "end":
                message = receive(conn)
                assert message is not None
                kinds.append(message["type"])
            assert "result" in kinds
        assert "serving 3 request(s) together" in served.text()
    finally:
        for conn in connections:
            conn.close()
        served.stop()


def test_calls_that_queue_while_the_engines_are_busy_share_the_next_waves(
    sockets: Path, tmp_path: Path
) -> None:
    slow = Server(sockets, tmp_path / "server.log", "--gather", "0", settings=SLOW)
    try:
        stories = articles(tmp_path / "news", 3)
        first = start_caller(tmp_path, sockets, str(stories[0]), settings=SLOW)
        slow.wait_for("echo generate:")  # busy for three engine calls of 1.5 s
        later = [start_caller(tmp_path, sockets, str(s), settings=SLOW) for s in stories[1:]]
        for caller in (first, *later):
            assert caller.wait(timeout=TIMEOUT) == 0
        assert "serving 2 request(s) together" in slow.text()
    finally:
        slow.stop()


def test_a_killed_servers_socket_is_replaced(sockets: Path, tmp_path: Path) -> None:
    (story,) = articles(tmp_path, 1)
    first = Server(sockets, tmp_path / "first.log")
    first.process.kill()
    first.process.wait(timeout=TIMEOUT)
    assert Path(first.socket).exists()  # left behind, refusing connections
    refused = summarize(tmp_path, sockets, "run", "--server", story.name)
    assert refused.returncode == 2
    assert b"no server runs with these settings" in refused.stderr
    second = Server(sockets, tmp_path / "second.log")
    try:
        assert second.socket == first.socket
        assert summarize(tmp_path, sockets, "run", "--server", story.name).returncode == 0
        assert second.engine_calls() > 0
    finally:
        assert second.stop() == 128 + signal.SIGTERM
    assert not Path(second.socket).exists()


def test_one_server_per_settings(server: Server, sockets: Path, tmp_path: Path) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "summarize", "serve", *ECHO],
        capture_output=True,
        env=environment(sockets),
        timeout=TIMEOUT,
        check=False,
    )
    assert second.returncode == 2
    assert b"already running" in second.stderr
    (story,) = articles(tmp_path, 1)
    for other in ("output.translate=[]", "output.summary={stem}.short.txt", "runtime.threads=1"):
        settings = [*ECHO, "--set", other]
        missed = summarize(tmp_path, sockets, "run", "--server", story.name, settings=settings)
        assert missed.returncode == 2, other  # other settings never reach this server
        assert b"no server runs with these settings" in missed.stderr


def complete_or_absent(folder: Path) -> dict[str, bool]:
    """Each article: True with all its outputs, False with none; anything between fails."""
    found = {}
    for story in sorted(folder.glob("story*.txt")):
        if story.name.count(".") > 1:
            continue
        there = [Path(f"{story.with_suffix('')}{s}").exists() for s in OUTPUTS]
        assert all(there) or not any(there), (story, there)
        found[story.name] = all(there)
    assert not list(folder.glob(".*.tmp")), "a temporary file was left"
    return found


def test_an_interrupted_caller_cancels_only_its_articles_not_yet_started(
    sockets: Path, tmp_path: Path
) -> None:
    slow = Server(sockets, tmp_path / "server.log", "--gather", "0", settings=SLOW_WAVES)
    try:
        articles(tmp_path / "mine", 3)
        caller = start_caller(tmp_path, sockets, "-q", "mine", settings=SLOW_WAVES)
        slow.wait_for("echo generate:")  # the engine is on the first wave
        caller.send_signal(signal.SIGINT)
        _, err = caller.communicate(timeout=TIMEOUT)
        assert caller.returncode == 128 + signal.SIGINT
        assert b"interrupted" in err
        (other,) = articles(tmp_path / "theirs", 1)
        after = summarize(tmp_path, sockets, "run", "--server", str(other), settings=SLOW_WAVES)
        assert after.returncode == 0  # the server goes on serving others
        done = complete_or_absent(tmp_path / "mine")
        assert list(done.values()).count(True) <= 1  # at most the wave under way at Ctrl-C
        assert complete_or_absent(tmp_path / "theirs") == {"story0.txt": True}
    finally:
        slow.stop()


@pytest.mark.parametrize(
    ("end", "said"),
    [
        ("kill", b"lost the server (it closed the connection)"),
        # stopped, it ends between two steps: lost all the same, not the caller's interruption
        ("stop", b"lost the server (the server was stopped by signal 15)"),
    ],
)
def test_a_server_that_ends_mid_run(sockets: Path, tmp_path: Path, end: str, said: bytes) -> None:
    """Its callers fail the articles it did not finish, and say why."""
    slow = Server(sockets, tmp_path / "server.log", settings=SLOW_WAVES)
    articles(tmp_path / "news", 3)
    caller = start_caller(tmp_path, sockets, "news", settings=SLOW_WAVES)
    slow.wait_for("echo generate:")
    if end == "kill":
        slow.process.kill()
        slow.process.wait(timeout=TIMEOUT)
    else:
        assert slow.stop() == 128 + signal.SIGTERM
        assert not Path(slow.socket).exists()
    _, err = caller.communicate(timeout=TIMEOUT)
    assert caller.returncode == 1, err.decode()
    assert said in err
    assert b"failed: news/story2.txt: not done: the server stopped before it was done" in err
    assert b"interrupted" not in err
    done = complete_or_absent(tmp_path / "news")
    assert list(done.values()).count(False) >= 2  # the waves not started


def test_a_caller_that_may_run_locally_finishes_what_a_killed_server_left(
    sockets: Path, tmp_path: Path
) -> None:
    slow = Server(sockets, tmp_path / "server.log", settings=SLOW_WAVES)
    articles(tmp_path / "news", 3)
    articles(tmp_path / "local" / "news", 3)
    local = summarize(tmp_path / "local", sockets, "run", "news", settings=SLOW_WAVES)
    assert local.returncode == 0
    caller = start_caller(
        tmp_path, sockets, "news", "--report", "news.jsonl", settings=SLOW_WAVES,
        mode="--server-or-local",
    )  # fmt: skip
    slow.wait_for("echo generate:")
    slow.process.kill()
    slow.process.wait(timeout=TIMEOUT)
    _, err = caller.communicate(timeout=TIMEOUT)
    assert caller.returncode == 0, err.decode()
    assert b"lost the server (it closed the connection): doing the" in err
    assert b"3 articles done" in err
    assert snapshot(tmp_path / "news") == snapshot(tmp_path / "local" / "news")
    lines = [json.loads(line) for line in (tmp_path / "news.jsonl").read_text().splitlines()]
    reported = [line["path"] for line in lines if "path" in line]
    assert sorted(reported) == [f"news/story{i}.txt" for i in range(3)]  # each once
    assert lines[-1]["exit_code"] == 0
    assert lines[-1]["summary"].startswith("3 articles done")


def test_standard_input_is_done_here_when_the_server_is_killed_with_it(
    sockets: Path, tmp_path: Path
) -> None:
    slow = Server(sockets, tmp_path / "server.log", settings=SLOW_WAVES)
    text = b"The minister spoke on Friday. He said the talks would go on.\n"
    local = summarize(tmp_path, sockets, "run", "-", settings=SLOW_WAVES, stdin=text)
    (tmp_path / "input").write_bytes(text)
    with open(tmp_path / "input", "rb") as given:
        caller = subprocess.Popen(
            [sys.executable, "-m", "summarize", "run", "--server-or-local", *SLOW_WAVES, "-"],
            cwd=tmp_path, env=environment(sockets), stdin=given, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
    slow.wait_for("echo generate:")
    slow.process.kill()
    slow.process.wait(timeout=TIMEOUT)
    out, err = caller.communicate(timeout=TIMEOUT)
    assert caller.returncode == local.returncode == 0, err.decode()
    assert b"doing the 1 article(s) it did not finish here" in err
    assert out == local.stdout
    assert b"minister" in out


def raw_exchange(path: str, payload: bytes) -> dict[str, object] | None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(TIMEOUT)
        conn.connect(path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(payload)  # a refusing server closes without reading
        return receive(conn)


def framed(message: dict[str, object]) -> bytes:
    data = json.dumps(message).encode()
    return struct.pack(">I", len(data)) + data


def test_malformed_and_oversized_requests_are_refused_and_the_server_goes_on(
    server: Server, sockets: Path, tmp_path: Path
) -> None:
    good = {
        "type": "run", "version": VERSION, "settings": settings_identity(load_config(None, [
            o for o in ECHO if o != "--set"])).server, "cwd": str(tmp_path), "paths": ["a.txt"],
        "umask": 0o022,
    }  # fmt: skip
    for payload, why in (
        (struct.pack(">I", 2**31 - 1), "over the limit"),
        (struct.pack(">I", 5) + b"{nope", "not a JSON message"),
        (framed({**good, "paths": ["a\0b"]}), "without NUL"),
        (framed({**good, "template": "{stem}"}), "unknown fields"),
        (framed({**good, "settings": "other"}), "not this server's"),
        (framed({**good, "cwd": "relative"}), "not an absolute path"),
        (framed({**good, "type": "exec"}), "unknown request type"),
    ):
        answer = raw_exchange(server.socket, payload)
        assert answer is not None and answer["type"] == "error", payload
        assert why in str(answer["message"])
    (story,) = articles(tmp_path, 1)
    assert summarize(tmp_path, sockets, "run", "--server", story.name).returncode == 0


def test_the_server_stops_when_idle_or_asked(sockets: Path, tmp_path: Path) -> None:
    idle = Server(sockets, tmp_path / "idle.log", "--idle-timeout", "0.5")
    assert idle.process.wait(timeout=TIMEOUT) == 0
    assert not Path(idle.socket).exists()
    asked = Server(sockets, tmp_path / "asked.log")
    stop = subprocess.run(
        [sys.executable, "-m", "summarize", "serve", *ECHO, "--stop"],
        capture_output=True,
        env=environment(sockets),
        timeout=TIMEOUT,
        check=False,
    )
    assert stop.returncode == 0, stop.stderr
    assert asked.process.wait(timeout=TIMEOUT) == 0
    assert not Path(asked.socket).exists()


def test_the_socket_is_private(server: Server) -> None:
    folder = Path(server.socket).parent
    assert folder.stat().st_mode & 0o777 == 0o700
    assert Path(server.socket).stat().st_mode & 0o077 == 0


def test_the_client_does_not_import_the_engines(tmp_path: Path) -> None:
    code = (
        "import sys, summarize.cli, summarize.client; "
        "print(sorted(m for m in ('torch', 'transformers', 'ctranslate2') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_auto_starts_a_server_in_the_background_that_later_calls_reuse(
    sockets: Path, tmp_path: Path
) -> None:
    (story,) = articles(tmp_path, 1)
    first = summarize(tmp_path, sockets, "run", "--auto-server", story.name)
    assert first.returncode == 0, first.stderr
    assert any(sockets.glob("*.sock"))
    again = summarize(tmp_path, sockets, "run", "--server", "--force", story.name)
    assert again.returncode == 0, again.stderr
    stop = summarize(tmp_path, sockets, "serve", "--stop")
    assert stop.returncode == 0
    deadline = time.monotonic() + TIMEOUT
    while any(sockets.glob("*.sock")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(sockets.glob("*.sock"))


def test_auto_says_why_the_server_it_started_ended(sockets: Path, tmp_path: Path) -> None:
    """A model that cannot be loaded is exit 2 with its reason in a local run; through
    --auto-server it was "no server runs ... or use --auto-server", the reason only in a log."""
    (story,) = articles(tmp_path, 1)
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}", encoding="utf-8")
    model = ["summarizer.backend=transformers", f"summarizer.model={broken}"]
    settings = ["--set", model[0], "--set", model[1], *ECHO[4:]]
    done = summarize(tmp_path, sockets, "run", "--auto-server", story.name, settings=settings)
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert "the server started for this run ended" in err
    assert f"summarizer.model: {broken}: not a model folder" in err
    assert "no server runs" not in err
    assert not (tmp_path / f"{story.stem}.summarize.json").exists()


def test_a_caller_of_another_user_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The listening side of the peer check, in process: a fake peer uid stands for another
    user, whom the tests cannot be."""
    from summarize import server as served
    from summarize.engines import Models

    monkeypatch.setattr(served, "peer_uid", lambda conn: os.getuid() + 1)
    with socket_folder() as folder:
        folder.mkdir(mode=0o700)
        path = folder / "x.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(1)
        config = load_config(None, [o for o in ECHO if o != "--set"])
        server = served._Server(config, Models(None, None), listener, path, 0.0)
        thread = threading.Thread(target=server.accept, daemon=True)
        thread.start()
        try:
            answer = raw_exchange(str(path), b"")
            assert answer is not None and "is not the user who started" in str(answer["message"])
            assert server.queue.empty()
        finally:
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            thread.join(timeout=TIMEOUT)


def test_the_client_reads_a_refusal_sent_before_its_request_was_read(tmp_path: Path) -> None:
    """A refusing server answers and closes without reading: a request larger than the
    socket's buffer then fails to send, and the caller must still show the server's reason."""
    from summarize import client
    from summarize.errors import UsageError
    from summarize.progress import NoProgress
    from summarize.protocol import send
    from summarize.report import Report
    from summarize.servers import Limits

    server_side, client_side = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    client_side.settimeout(TIMEOUT)
    send(server_side, {"type": "error", "message": "refused: user 1 is not the user who started"})
    server_side.close()
    request = {"type": "run", "stdin": "x" * 4_000_000}
    with pytest.raises(UsageError, match="is not the user who started"):
        asked = client._Asked(frozenset({"a.txt"}), ["a.txt"])
        client._exchange(client_side, request, Report(), NoProgress(), asked, Limits())


def test_a_server_folder_too_long_for_a_socket_address_still_serves(tmp_path: Path) -> None:
    """A socket address holds about 107 bytes; a deep $XDG_RUNTIME_DIR or temporary folder
    (a CI job's, a test's) passes that, and the server must still be found there."""
    deep = tmp_path / ("d" * 120)
    assert len(os.fsencode(deep / "0123456789abcdef.sock")) > 108
    (story,) = articles(tmp_path / "news", 1)
    running = Server(deep, tmp_path / "server.log")
    try:
        served = summarize(story.parent, deep, "run", "--server", story.name)
        assert served.returncode == 0, served.stderr
        assert running.engine_calls() > 0
        assert (story.parent / "story0.summary.ar.txt").exists()
        stop = summarize(story.parent, deep, "serve", "--stop")
        assert stop.returncode == 0, stop.stderr
        assert running.process.wait(timeout=TIMEOUT) == 0
        assert not any(deep.glob("*.sock"))
    finally:
        running.stop()
