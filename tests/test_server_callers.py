"""What travels with a caller's run to the server: standard input of any size the run takes;
the answers are those of a local run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ECHO
from tests.serving import (
    Server,
    socket_folder,
    summarize,
    timeless,
)


@pytest.fixture
def sockets() -> Iterator[Path]:
    with socket_folder() as folder:
        yield folder


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
