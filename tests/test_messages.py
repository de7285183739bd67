"""Messages that say what is wrong and what was meant: the version, a mistyped command or
option, a shard out of range, an option that does not apply, and the library's path arguments."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from summarize import load_config, run
from summarize.cli import main
from summarize.report import Status
from tests.conftest import ECHO, ECHO_SETTINGS, SEEDS

ARTICLE = "The council met on Monday. It agreed on a budget for the year.\n"


def _summarize(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "summarize", *argv],
        input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_dash_capital_v_prints_the_version() -> None:
    done = _summarize("-V")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("summarize ")


@pytest.mark.parametrize(
    ("argv", "usage", "meant"),
    [
        (["run", "d1/", "--dryrun"], "usage: summarize run ", "did you mean --dry-run?"),
        (["run", "d1/", "--forse"], "usage: summarize run ", "did you mean --force?"),
        (["review", "d1/", "--splt"], "usage: summarize review ", "did you mean --split?"),
        (["rnu", "d1/"], "usage: summarize ", "did you mean run?"),
        (["config", "shwo"], "usage: summarize config ", "did you mean show?"),
        (["run", "d1/", "-V"], "usage: summarize run ", "the version is `summarize -V`"),
    ],
)
def test_a_mistyped_option_or_command_is_named_with_what_was_meant(
    argv: list[str], usage: str, meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage), err  # the command's own usage, not the top level's
    assert err.rstrip().endswith(meant), err


@pytest.mark.parametrize(
    ("shard", "why"),
    [
        ("1/0", "'1/0': N, the number of shards, must be 1 or more"),
        ("0/0", "'0/0': N, the number of shards, must be 1 or more"),
        ("3/2", "'3/2': K must be less than N: 0 to 1 for 2 shard(s)"),
        ("1/1", "'1/1': K must be less than N: 0 for 1 shard(s)"),
    ],
)
def test_a_shard_out_of_range_names_the_range_that_would_do(
    shard: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["run", str(SEEDS), "--shard", shard])
    assert capsys.readouterr().err.rstrip().endswith(f"argument --shard: {why}")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["run", "-", "-o", "out"], "standard input's results go to standard output: drop -o"),
        (["run", "a.txt", "-o", "-"], "names a folder, not standard output; to print the texts"),
        (["review", "a.txt", "--output-dir", "-"], "--output-dir names a folder"),
    ],
)
def test_output_dir_that_cannot_apply_is_refused_not_ignored(
    argv: list[str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main([*argv, *ECHO])
    assert info.value.code == 2
    assert said in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no folder named '-'


def test_standard_input_failed_by_strict_is_not_sent_to_a_sidecar() -> None:
    # The echo engine's "Arabic" is English: the default checks flag it.
    settings = [s for s in ECHO_SETTINGS if not s.startswith("guards.")]
    argv = [item for setting in settings for item in ("--set", setting)]
    done = _summarize("run", "-", "--strict", *argv, stdin=ARTICLE)
    assert done.returncode == 1
    (failed,) = [line for line in done.stderr.splitlines() if line.startswith("failed: ")]
    assert "failed by --strict" in failed
    assert "sidecar" not in failed.replace("--json", "")
    assert failed.endswith("see its warnings, or --json's flags)")


def test_the_library_takes_paths_as_strings_or_path_objects(tmp_path: Path) -> None:
    (tmp_path / "echo.toml").write_text(
        "".join(f"{line}\n" for line in ["[output]", "summarize = true"]), encoding="utf-8"
    )
    article = tmp_path / "in" / "a.txt"
    article.parent.mkdir()
    article.write_text(ARTICLE, encoding="utf-8")
    for path in (str(tmp_path / "echo.toml"), tmp_path / "echo.toml"):
        assert load_config(path, ECHO_SETTINGS).output.summarize
    config = load_config(str(tmp_path / "echo.toml"), ECHO_SETTINGS)
    report = run(config, str(article), output_dir=str(tmp_path / "out"))  # one path, a str
    assert [r.status for r in report.results] == [Status.DONE]
    assert (tmp_path / "out" / "a.summary.txt").is_file()
    report = run(config, [article], output_dir=tmp_path / "out2")
    assert (tmp_path / "out2" / "a.summary.txt").is_file()


def _stderr_on_a_terminal(*argv: str, cwd: Path) -> str:
    """What ``summarize ARGV`` writes to stderr when stderr is a terminal."""
    leader, follower = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-m", "summarize", *argv],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower,
            cwd=cwd, timeout=120, check=False,
        )  # fmt: skip
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is closed: all was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(leader)


@pytest.mark.parametrize(("quiet", "said"), [([], True), (["-q"], False)])
def test_a_terminal_is_told_while_the_models_load(
    quiet: list[str], said: bool, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    err = _stderr_on_a_terminal("run", "a.txt", *ECHO, *quiet, cwd=tmp_path)
    assert ("summarize: INFO: loading models" in err) is said, err
    assert ("summarize: INFO: models loaded in " in err) is said, err
    assert (tmp_path / "a.summary.txt").is_file()


#: one wave of three articles, in several batches
SMALL_WAVE = ["--set", "runtime.wave_size=3", "--set", "runtime.batch_tokens=64"]


def test_a_log_file_hears_of_each_batch_not_only_of_each_wave_written(tmp_path: Path) -> None:
    for n in range(3):
        (tmp_path / f"a{n}.txt").write_text(ARTICLE * 3, encoding="utf-8")
    log = tmp_path.parent / f"{tmp_path.name}.log"
    with log.open("w") as err:
        subprocess.run(
            [sys.executable, "-m", "summarize", "run", str(tmp_path), *ECHO, *SMALL_WAVE],
            stderr=err, timeout=120, check=True,
        )  # fmt: skip
    lines = log.read_text(encoding="utf-8").splitlines()
    first_article = next(i for i, line in enumerate(lines) if "a0.txt (" in line)
    batches = [line for line in lines[:first_article] if " batch " in line]
    for stage in ("summarize", "translate"):  # each batch said as it ends
        assert f"summarize: INFO: {stage}: batch 1 of " in "\n".join(batches), lines
    assert len(batches) > 2, lines


def test_dry_run_says_it_writes_no_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    report = tmp_path.parent / f"{tmp_path.name}.jsonl"
    assert main(["run", str(tmp_path), *ECHO, "--dry-run", "--report", str(report)]) == 0
    assert "--dry-run writes no report" in capsys.readouterr().err
    assert not report.exists()
