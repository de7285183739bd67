"""Every number in every section: a bad value is exit 2 naming the key, never a traceback."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from summarize.cli import main
from summarize.config import NUMBER_RANGES
from summarize.settings import Config
from tests.conftest import ECHO


def numeric_keys() -> list[str]:
    keys = []
    for section, cls in typing.get_type_hints(Config).items():
        hints = typing.get_type_hints(cls)
        keys += [
            f"{section}.{f.name}" for f in dataclasses.fields(cls) if hints[f.name] in (int, float)
        ]
    return keys


def bad_values(key: str) -> list[str]:
    low, _ = NUMBER_RANGES[key]
    values = ["inf", "-inf", "nan", "99999999999999999999", "-99999999999999999999", "1e300"]
    return values + (["-1"] if low >= 0 else [])


CASES = [(key, value) for key in numeric_keys() for value in bad_values(key)]


def test_every_numeric_setting_has_a_range() -> None:
    assert sorted(NUMBER_RANGES) == sorted(numeric_keys())


@pytest.mark.parametrize(("key", "value"), CASES)
def test_bad_number_on_the_command_line_is_exit_2_naming_the_key(
    key: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "show", "--set", f"{key}={value}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"summarize: error: --set: {key}")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("value", ["inf", "nan", "1e999", "-0.5"])
def test_bad_number_in_a_config_file_names_the_file_and_the_key(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(f"[translator]\nmax_length_ratio = {value}\n", encoding="utf-8")
    assert main(["config", "show", "-c", str(config)]) == 2
    assert f"{config}: translator.max_length_ratio: must be" in capsys.readouterr().err


@pytest.mark.parametrize(
    "data",
    [
        "\ufeff[runtime]\ndevice = 'cpu'\n".encode("utf-16"),
        b"\xff\xfe[runtime]",
        b"[runtime]\ndevice = 'caf\xe9'\n",
    ],
)
def test_config_file_that_is_not_utf8_is_exit_2_naming_the_file(
    tmp_path: Path, data: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(data)
    assert main(["config", "show", "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"summarize: error: {config}: not valid TOML: not UTF-8 text")


HUGE = 99999999999999999999


def test_huge_max_bytes_with_stdin_is_exit_2_without_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "run", "-", *ECHO, "--set", f"input.max_bytes={HUGE}"],
        input=b"The vote passed. It was close.\n",
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert b"input.max_bytes: must be at least 1 and at most" in done.stderr
    assert b"Traceback" not in done.stderr


def test_the_defaults_are_in_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show"]) == 0


#: integers past any float (10**400) and past what Python reads from text (5000 digits)
GIANTS = {"a float's range": "1" + "0" * 400, "Python's digit limit": "9" * 5000}


@pytest.mark.parametrize("command", ["run", "config"])
@pytest.mark.parametrize("size", sorted(GIANTS))
@pytest.mark.parametrize("key", numeric_keys())
def test_a_giant_integer_is_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, size: str, key: str
) -> None:
    """`--set runtime.wave_size=1` and 400 zeros was 'internal error: OverflowError' (a float
    setting, or the finite check, turned it into a float); 5000 digits a ValueError."""
    setting = ["--set", f"{key}={GIANTS[size]}"]
    argv = ["run", str(tmp_path), *ECHO] if command == "run" else ["config", "show"]
    assert main([*argv, *setting]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"summarize: error: --set: {key}: must be at least")
    assert "digits" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("command", ["run", "config"])
@pytest.mark.parametrize("size", sorted(GIANTS))
def test_a_giant_integer_in_a_config_file_is_exit_2_naming_the_file_and_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, size: str
) -> None:
    config = tmp_path / "giant.toml"
    config.write_text(f"[guards]\nmax_repetition = {GIANTS[size]}\n", encoding="utf-8")
    argv = ["run", str(tmp_path), *ECHO] if command == "run" else ["config", "show"]
    assert main([*argv, "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"summarize: error: {config}: ")
    assert "guards.max_repetition: " in err and "digits" in err
