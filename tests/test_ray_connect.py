"""Joining a Ray cluster: an address where none answers fails in bounded time, said plainly,
without Ray's own lines; Ray's settings for it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarize.config import load_config
from summarize.errors import ConfigError
from tests.conftest import ECHO, SEEDS
from tests.test_runner_ray import _ray_env

pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]'")

#: far past the bound the test sets: a run still going then is the hang of old
HUNG_SECONDS = 90


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that takes connections and never answers, as a cluster's port would
    that hangs (or another service, not Ray's)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield int(server.getsockname()[1])


def _join(address: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    root = tmp_path / "news"
    root.mkdir()
    (root / "a.txt").write_bytes((SEEDS / "kadhimi-ambassadors.txt").read_bytes())
    argv = ["run", str(root), *ECHO, "--runner", "ray", "--ray-address", address, *extra]
    try:
        return subprocess.run(
            [sys.executable, "-m", "summarize", *argv],
            env=_ray_env(), capture_output=True, text=True, timeout=HUNG_SECONDS,
        )  # fmt: skip
    finally:
        assert sorted(p.name for p in root.iterdir()) == ["a.txt"]  # nothing written


def test_an_address_where_nothing_listens_fails_at_once_naming_it(
    closed_port: int, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{closed_port}"
    done = _join(address, tmp_path, "-q")
    assert done.returncode == 2
    assert done.stderr == (
        f"summarize: error: --ray-address {address}: no Ray cluster there (Connection refused); "
        "check the address (`ray start --head` prints it), or raise ray.connect_timeout for a "
        "slow one\n"
    )


@pytest.mark.parametrize("loudness", ["-q", "", "-v"])
def test_a_cluster_that_never_answers_fails_within_ray_connect_timeout(
    loudness: str, silent_port: int, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{silent_port}"
    flags = [loudness] if loudness else []
    done = _join(address, tmp_path, *flags, "--set", "ray.connect_timeout=2")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[-1].startswith(
        f"summarize: error: --ray-address {address}: no Ray cluster there (none answered "
        "within 2 s: "
    )
    joining = f"summarize: INFO: joining the Ray cluster at {address} (ray.connect_timeout = 2 s)"
    # Ray's own lines ("Failed to connect to GCS") only at -v, in the tool's log
    ray_lines = [line for line in lines if line.startswith("summarize: INFO: ray: ")]
    assert all(line.startswith("summarize: ") for line in lines), done.stderr
    assert (lines[0] == joining) is (loudness != "-q"), done.stderr
    assert bool(ray_lines) is (loudness == "-v"), done.stderr
    assert len(lines) == {"-q": 1, "": 2}.get(loudness, len(lines)), done.stderr


def test_ray_connect_timeout_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"ray\.connect_timeout"):
        load_config(None, ["ray.connect_timeout=0"])
    assert load_config(None, ["ray.connect_timeout=5"]).ray.connect_timeout == 5
