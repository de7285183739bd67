"""The client's side: which mode is asked for, and what a run does with no server to reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from summarize.arguments import parse_args
from summarize.client import server_mode
from summarize.errors import UsageError
from tests.serving import articles, socket_folder, summarize


@pytest.fixture
def sockets() -> Iterator[Path]:
    with socket_folder() as folder:
        yield folder


def test_the_mode_comes_from_the_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SUMMARIZE_SERVER", raising=False)
    assert server_mode(None) is None
    assert server_mode("auto") == "auto"
    for value, mode in (("1", "use"), ("auto", "auto"), ("Fallback", "fallback"), ("0", None)):
        monkeypatch.setenv("SUMMARIZE_SERVER", value)
        assert server_mode(None) == mode
    monkeypatch.setenv("SUMMARIZE_SERVER", "sometimes")
    with pytest.raises(UsageError, match="SUMMARIZE_SERVER"):
        server_mode(None)


@pytest.mark.parametrize(
    ("spelled", "mode"),
    [
        ("--server", "use"),
        ("--server=1", "use"),
        ("--server=auto", "auto"),
        ("--auto-server", "auto"),
        ("--server=fallback", "fallback"),
        ("--server=Local", "fallback"),
        ("--server-or-local", "fallback"),
    ],
)
def test_server_modes_as_flags_or_with_a_value(spelled: str, mode: str) -> None:
    # The PATH after the option stays a PATH, standard input included.
    args = parse_args(["run", spelled, "-"])
    assert (args.server, args.paths) == (mode, ["-"])


def test_a_server_value_that_is_no_mode_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["run", "--server=sometimes", "story.txt"])
    assert exit_info.value.code == 2
    assert "--server=sometimes: choose" in capsys.readouterr().err
    # after --, it is a file name
    assert parse_args(["run", "--", "--server=auto"]).paths == ["--server=auto"]


def test_no_server_is_an_error_or_a_local_run_when_asked(sockets: Path, tmp_path: Path) -> None:
    (story,) = articles(tmp_path, 1)
    refused = summarize(tmp_path, sockets, "run", "--server", story.name)
    assert refused.returncode == 2
    assert b"no server runs with these settings" in refused.stderr
    assert not Path(f"{story.with_suffix('')}.summarize.json").exists()
    local = summarize(tmp_path, sockets, "run", "--server-or-local", story.name)
    assert local.returncode == 0, local.stderr
    assert Path(f"{story.with_suffix('')}.summarize.json").exists()


def test_a_usage_error_is_found_before_any_server_is_sought(sockets: Path, tmp_path: Path) -> None:
    missing = summarize(tmp_path, sockets, "run", "--server", "missing.txt")
    assert missing.returncode == 2
    assert b"missing.txt" in missing.stderr
    assert b"no server" not in missing.stderr


def test_nothing_to_do_needs_no_server(sockets: Path, tmp_path: Path) -> None:
    (story,) = articles(tmp_path, 1)
    assert summarize(tmp_path, sockets, "run", story.name).returncode == 0
    again = summarize(tmp_path, sockets, "run", "--server", story.name)
    assert again.returncode == 0, again.stderr  # up to date: no engine, so no server needed
