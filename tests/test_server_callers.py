"""What travels with a caller's run to the server: its umask, and standard input of any size
the run takes; the files and answers are those of a local run."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ECHO
from tests.serving import (
    TIMEOUT,
    Server,
    articles,
    socket_folder,
    start_caller,
    summarize,
    timeless,
)


@pytest.fixture
def sockets() -> Iterator[Path]:
    with socket_folder() as folder:
        yield folder


def modes(folder: Path) -> dict[str, int]:
    """The permission bits of every file and folder under ``folder``, by relative path."""
    return {
        str(path.relative_to(folder)): stat.S_IMODE(path.lstat().st_mode)
        for path in sorted(folder.rglob("*"))
    }


def test_outputs_get_each_callers_umask_as_in_a_local_run(sockets: Path, tmp_path: Path) -> None:
    """The server's own umask (002 here) gave every caller group-writable files; a caller with
    umask 077 must get 0600 files and 0700 folders, as its local run does, while a caller with
    umask 022 served at the same time gets 0644."""
    calls = {0o077: ["-o", "out/deep", "a"], 0o022: ["b"]}
    here, there = tmp_path / "here", tmp_path / "there"
    for root in (here, there):
        articles(root / "a", 2)
        articles(root / "b", 2)
    for umask, call in calls.items():
        local = summarize(here, sockets, "run", *call, umask=umask)
        assert local.returncode == 0, local.stderr
    server = Server(sockets, tmp_path / "server.log", "--gather", "1", umask=0o002)
    try:
        callers = [start_caller(there, sockets, *c, umask=u) for u, c in calls.items()]
        for caller in callers:
            _, err = caller.communicate(timeout=TIMEOUT)
            assert caller.returncode == 0, err.decode()
        assert server.engine_calls() > 0
    finally:
        server.stop()
    assert modes(there) == modes(here)
    assert modes(there / "out")["deep"] == 0o700
    assert modes(there / "out")["deep/story0.summary.ar.txt"] == 0o600
    assert modes(there / "out")["deep/story0.summarize.json"] == 0o600
    assert modes(there / "b")["story1.ar.txt"] == 0o644


#: standard input may be up to 60 MB, over the 64 MiB of a message once in base64
LARGE = [*ECHO, "--set", "input.max_bytes=60000000"]


def test_standard_input_larger_than_a_message_is_the_servers_to_do(
    sockets: Path, tmp_path: Path
) -> None:
    """Standard input within input.max_bytes, but over 64 MiB once in base64, ended with 'lost
    the server ... see its log' though the server was alive and never saw it. It travels as
    bytes now: the answers are a local run's, the article too large one included."""
    spaces = b" " * (65 * 2**20)  # within input.max_bytes: empty once cleaned, quick to do
    server = Server(sockets, tmp_path / "server.log", settings=LARGE)
    try:
        for data, mode, why in (
            (spaces[:59_000_000], "--server", b"empty: the file holds no text"),
            (spaces[:59_000_000], "--server-or-local", b"empty: the file holds no text"),
            (spaces, "--server", b"more than input.max_bytes (60000000)"),
        ):
            local = summarize(tmp_path, sockets, "run", "-", settings=LARGE, stdin=data)
            remote = summarize(tmp_path, sockets, "run", mode, "-", settings=LARGE, stdin=data)
            assert why in local.stderr
            assert remote.returncode == local.returncode == 1, remote.stderr
            assert remote.stdout == local.stdout
            assert b"loading models" not in remote.stderr  # done there, not here
            assert timeless(remote.stderr) == timeless(local.stderr)
    finally:
        server.stop()
