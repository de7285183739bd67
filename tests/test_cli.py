"""The command line: each mode, exit codes, what goes to stdout and what to stderr."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from summarize.cli import main, parse_args
from tests.conftest import ECHO


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_directory_mode_writes_four_outputs_per_article(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(seeds_copy), *ECHO]) == 0
    out, err = capsys.readouterr()
    assert out == ""  # stdout carries only what the user asked for
    assert err.strip().splitlines()[-1] == "1 article done (1 flagged)"
    assert listing(seeds_copy) == [
        "kadhimi-ambassadors.ar.txt",
        "kadhimi-ambassadors.summarize.json",
        "kadhimi-ambassadors.summary.ar.txt",
        "kadhimi-ambassadors.summary.txt",
        "kadhimi-ambassadors.txt",
    ]


def test_second_run_over_a_directory_takes_no_output_as_input(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", str(seeds_copy), *ECHO])
    before = listing(seeds_copy)
    assert main(["run", str(seeds_copy), *ECHO, "--force"]) == 0
    assert listing(seeds_copy) == before  # no x.summary.summary.txt, no x.ar.ar.txt
    assert capsys.readouterr().err.strip().endswith("1 article done (1 flagged)")


def test_rerun_is_up_to_date_and_force_redoes(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", str(seeds_copy), *ECHO])
    capsys.readouterr()
    assert main(["run", str(seeds_copy), *ECHO]) == 0
    assert capsys.readouterr().err.strip() == "0 articles done, 1 up to date"
    assert main(["run", str(seeds_copy), *ECHO, "--force"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == "1 article done (1 flagged)"


def test_single_file_mode(tmp_path: Path) -> None:
    source = tmp_path / "one.txt"
    source.write_text("The vote passed on Tuesday. It was close.\n", encoding="utf-8")
    (tmp_path / "other.txt").write_text("Not asked for.\n", encoding="utf-8")
    assert main(["run", str(source), *ECHO, "-q"]) == 0
    assert (tmp_path / "one.summary.txt").exists()
    assert not (tmp_path / "other.summary.txt").exists()


def run_stdin(
    args: list[str], data: bytes, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "summarize", "run", "-", *ECHO, *args],
        input=data,
        capture_output=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


def test_stdin_mode_prints_sections_and_writes_nothing(tmp_path: Path) -> None:
    done = run_stdin([], b"The vote passed on Tuesday. It was close.\n", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.decode() == (
        "=== summary ===\nThe vote passed on Tuesday. It was close.\n\n"
        "=== summary (Arabic) ===\nThe vote passed on Tuesday. It was close.\n\n"
        "=== article (Arabic) ===\nThe vote passed on Tuesday. It was close.\n\n"
    )
    assert list(tmp_path.iterdir()) == []  # the run's working directory, e.g. no -.summary.txt


def test_stdin_mode_json() -> None:
    done = run_stdin(["--json"], "Café owners met. They agreed.\n".encode())
    assert done.returncode == 0
    payload = json.loads(done.stdout)
    assert payload["summary"] == "Café owners met. They agreed."
    keys = {"status", "reason", "summary", "summary_ar", "article_ar", "warnings", "flags"}
    assert set(payload) == keys
    assert payload["flags"] == []


def test_bad_stdin_is_exit_1_with_the_reason_on_stderr() -> None:
    done = run_stdin([], b"not \xff\xfa text")
    assert done.returncode == 1
    assert done.stdout == b""
    assert "<stdin>: not valid UTF-8 at byte 4" in done.stderr.decode()


def closed_streams(
    arguments: list[str], redirect: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``summarize ARGUMENTS`` run by a shell with ``redirect`` (``<&-``: stdin closed)."""
    command = [sys.executable, "-m", "summarize", *arguments, *ECHO]
    return subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", *command],
        capture_output=True, text=True, timeout=120, cwd=cwd, check=False,
    )  # fmt: skip


def test_closed_standard_input_is_an_empty_article_not_an_internal_error(tmp_path: Path) -> None:
    done = closed_streams(["run", "-"], "<&-", tmp_path)
    assert done.returncode == 1
    assert "internal error" not in done.stderr
    assert "failed: <stdin>: empty" in done.stderr


def test_closed_standard_output_or_error_does_not_stop_a_run(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text("The vote passed on Tuesday. It was close.\n")
    quiet_err = closed_streams(["run", str(tmp_path / "story.txt")], "2>&-", tmp_path)
    assert quiet_err.returncode == 0, quiet_err.stdout
    assert (tmp_path / "story.summarize.json").exists()
    no_out = closed_streams(["run", "-"], ">&- < story.txt", tmp_path)
    assert no_out.returncode == 0, no_out.stderr
    assert "internal error" not in no_out.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_standard_output_that_cannot_be_written_is_exit_1_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text("The vote passed on Tuesday. It was close.\n")
    done = closed_streams(["run", "-", "--report", "r.jsonl"], "> /dev/full < story.txt", tmp_path)
    assert done.returncode == 1  # the article was done; its results could not be delivered
    totals = json.loads((tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert totals["exit_code"] == 1
    assert "standard output could not be written (No space left on device)" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_one_bad_file_among_good_ones_exits_1_and_writes_the_good_ones(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (seeds_copy / "broken.txt").write_bytes(b"\x00\x01\x02binary")
    assert main(["run", str(seeds_copy), *ECHO]) == 1
    err = capsys.readouterr().err
    assert f"failed: {seeds_copy / 'broken.txt'}: binary data" in err
    assert err.strip().splitlines()[-1] == "1 article done (1 flagged), 1 failed"
    assert (seeds_copy / "kadhimi-ambassadors.summary.txt").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "runtime.device=gpu"], "runtime.device: 'gpu' is not valid"),
        (["--set", "summarizer.beams=2"], "unknown key summarizer.beams"),
        (["-c", "missing.toml"], "missing.toml: config file not found"),
        (["--set", "translator.model=./no/such/dir", "--set", "translator.backend=transformers"],
         "translator.model: ./no/such/dir: no such directory"),
    ],
)  # fmt: skip
def test_config_and_model_errors_exit_2_before_touching_articles(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["run", str(seeds_copy), *ECHO, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("summarize: error: ")
    assert message in err
    assert listing(seeds_copy) == ["kadhimi-ambassadors.txt"]


def test_missing_input_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.txt"), *ECHO]) == 2
    assert "nope.txt: no such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run"], ["run", "x", "--json"], [], ["frobnicate"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2


def test_quiet_prints_nothing_on_success(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(seeds_copy), *ECHO, "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", str(seeds_copy), *ECHO])
    assert "article/s" not in capsys.readouterr().err


def test_python_dash_m_and_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "--version"], capture_output=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.decode().startswith("summarize ")


def test_help_names_the_run_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["run", "--help"])
    assert "--set KEY=VALUE" in capsys.readouterr().out


def test_dry_run_lists_what_would_be_done_and_why_without_writing(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (seeds_copy / "second.txt").write_text("Another story. It is short.\n", encoding="utf-8")
    main(["run", str(seeds_copy / "second.txt"), *ECHO, "-q"])
    (seeds_copy / "third.txt").write_text("A third story.\n", encoding="utf-8")
    main(["run", str(seeds_copy / "third.txt"), *ECHO, "-q"])
    (seeds_copy / "third.txt").write_text("A third story, edited.\n", encoding="utf-8")
    capsys.readouterr()
    before = listing(seeds_copy)
    # No engine is loaded: a model that does not exist would otherwise fail the run.
    no_model = ["--set", "summarizer.backend=transformers", "--set", "summarizer.model=./none"]
    assert main(["run", str(seeds_copy), *ECHO, "--dry-run"]) == 0
    out, err = capsys.readouterr()
    rows = sorted(
        (Path(name).name, why) for why, name in (re.split(r"\s{2,}", x) for x in out.splitlines())
    )
    assert rows == [
        ("kadhimi-ambassadors.txt", "new"),
        ("second.txt", "up to date"),
        ("third.txt", "input changed"),
    ]
    assert err.strip() == "2 to do, 1 up to date"
    assert main(["run", str(seeds_copy), *ECHO, *no_model, "--dry-run", "-q"]) == 0
    assert "settings changed" in capsys.readouterr().out
    assert listing(seeds_copy) == before


def test_config_show_prints_values_and_their_origins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mine.toml"
    config.write_text("[runtime]\ndevice = 'cpu'\n", encoding="utf-8")
    argv = ["config", "show", "-c", str(config), "--set", "summarizer.num_beams=2"]
    assert main(argv) == 0
    sections = {}
    for block in capsys.readouterr().out.split("\n\n"):
        header, *rows = block.strip().splitlines()
        sections[header] = {row.split(" = ")[0]: row for row in rows}
    device = sections["[runtime]"]["device"]
    assert device.startswith('device = "cpu"') and device.endswith(f"# {config}")
    beams = sections["[summarizer]"]["num_beams"]
    assert beams.startswith("num_beams = 2") and beams.endswith("# --set")
    assert sections["[translator]"]["num_beams"].endswith("# default")


def test_config_show_output_is_a_loadable_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from summarize.config import load_config

    assert main(["config", "show", "--set", "translator.num_beams=3"]) == 0
    shown = tmp_path / "shown.toml"
    shown.write_text(capsys.readouterr().out, encoding="utf-8")
    assert load_config(shown) == load_config(None, ["translator.num_beams=3"])


def test_eval_prints_a_table_and_writes_json(
    seeds_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", str(seeds_copy), *ECHO, "-q"])
    stem = seeds_copy / "kadhimi-ambassadors"
    summary = Path(f"{stem}.summary.txt").read_text(encoding="utf-8")
    Path(f"{stem}.ref.summary.txt").write_text(summary, encoding="utf-8")  # a perfect summary
    capsys.readouterr()
    scores = tmp_path / "scores.json"
    assert main(["eval", str(seeds_copy), "--json", str(scores)]) == 0
    out = capsys.readouterr().out
    assert "kadhimi-ambassadors.txt" in out and "TOTAL" in out
    data = json.loads(scores.read_text(encoding="utf-8"))
    assert data["totals"]["rouge1"] == pytest.approx(100.0)
    assert any("summarizer.model=echo" in s for s in data["settings_signatures"])
    # The reference is never taken as an article by a later run.
    assert main(["run", str(seeds_copy), *ECHO, "-q", "--dry-run"]) == 0
    assert "ref.summary" not in capsys.readouterr().out


# --- output guards: repaired, flagged, --strict, -v and the --report file ----------------------

LOOPING = ["--set", "translator.model=echo:loop=1"]
NO_REPAIR = ["--set", "guards.repair_rounds=0"]


def looping_article(tmp_path: Path) -> Path:
    source = tmp_path / "vote.txt"
    source.write_text("The vote passed on Tuesday after a long debate. It was close.\n")
    return source


def flags_of(source: Path) -> list[dict[str, object]]:
    sidecar = source.with_name(f"{source.stem}.summarize.json")
    flags: list[dict[str, object]] = json.loads(sidecar.read_text(encoding="utf-8"))["flags"]
    return flags


def test_a_looping_translation_is_repaired_and_the_article_is_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = looping_article(tmp_path)
    assert main(["run", str(source), *ECHO, *LOOPING, "--strict"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == "1 article done"
    flags = flags_of(source)
    assert {f["check"] for f in flags} >= {"repetition", "length_cap"}
    assert {f["output"] for f in flags} == {"summary_ar", "article_ar"}
    assert all(f["repaired"] and f["attempts"] == 2 for f in flags)
    ar = tmp_path / "vote.ar.txt"
    assert ar.read_text(encoding="utf-8").strip() == source.read_text().strip()


def test_a_flagged_article_is_counted_apart_and_fails_only_under_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, report = looping_article(tmp_path), tmp_path / "report.jsonl"
    args = ["run", str(source), *ECHO, *LOOPING, *NO_REPAIR, "--report", str(report)]
    assert main(args) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == "1 article done (1 flagged)"
    line, totals = (json.loads(x) for x in report.read_text(encoding="utf-8").splitlines())
    assert line["status"] == "flagged"
    assert line["flags"] == flags_of(source)
    assert not any(f["repaired"] for f in line["flags"])
    assert (totals["totals"]["flagged"], totals["totals"]["failed"]) == (1, 0)

    assert main([*args, "--force", "--strict"]) == 1
    err = capsys.readouterr().err
    assert f"failed: {source}: flagged, failed by --strict (" in err
    assert "article_ar length_cap, article_ar repetition" in err
    assert err.strip().splitlines()[-1] == "0 articles done, 1 failed"
    line, totals = (json.loads(x) for x in report.read_text(encoding="utf-8").splitlines())
    assert line["status"] == "failed" and line["flags"]
    assert (totals["totals"]["flagged"], totals["totals"]["failed"]) == (0, 1)
    assert totals["exit_code"] == 1
    # A rerun finds it up to date, and still does not pass it.
    assert main([*args, "--strict"]) == 1
    assert "flagged when it was done, failed by --strict" in capsys.readouterr().err
    assert main(args) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == "0 articles done, 1 up to date"


def test_verbose_prints_each_flagged_article_with_its_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = looping_article(tmp_path)
    assert main(["run", str(source), *ECHO, *LOOPING, *NO_REPAIR, "-v"]) == 0
    err = capsys.readouterr().err
    block = err[err.index(f"flagged: {source}") :].splitlines()
    checks = [line for line in block[1:] if line.startswith("  ")]
    assert any(
        re.fullmatch(r"  article_ar segment 0 \(characters 0-\d+\): repetition [\d.]+ "
                     r"\(threshold 0.4\), 1 attempt, kept as is", line)
        for line in checks
    )  # fmt: skip
    assert any("length_cap" in line for line in checks)
    assert main(["run", str(source), *ECHO, *LOOPING, *NO_REPAIR, "--force"]) == 0
    assert "flagged: " not in capsys.readouterr().err  # without -v, only the counts


def test_stdin_json_carries_the_flags_and_strict_fails_it() -> None:
    data = b"The vote passed on Tuesday after a long debate. It was close.\n"
    done = run_stdin(["--json", *LOOPING, *NO_REPAIR], data)
    payload = json.loads(done.stdout)
    assert done.returncode == 0 and payload["status"] == "flagged"
    assert {f["check"] for f in payload["flags"]} >= {"repetition", "length_cap"}
    strict = run_stdin(["--json", "--strict", *LOOPING, *NO_REPAIR], data)
    assert strict.returncode == 1
    assert json.loads(strict.stdout)["status"] == "failed"


def test_a_flagged_stdin_article_says_on_stderr_which_checks_flagged_it() -> None:
    """Standard input has no sidecar: without these lines ``1 article done (1 flagged)`` was
    all a caller learnt, when only checks (no warnings) flagged it."""
    data = b"The vote passed on Tuesday after a long debate. It was close.\n"
    done = run_stdin([*LOOPING, *NO_REPAIR], data)
    assert done.returncode == 0
    err = done.stderr.decode()
    assert "1 article done (1 flagged)" in err
    assert re.search(r"warning: <stdin>: \w+: failed the repetition check in", err), err
    assert "=== summary ===" in done.stdout.decode()  # the results stay on stdout alone


def test_a_mistake_in_the_tool_is_one_line_and_exit_1_with_the_traceback_at_vv(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import summarize.cli

    def broken(args: object) -> int:
        raise TypeError("'NoneType' object is not iterable")

    monkeypatch.setattr(summarize.cli, "_command", broken)
    assert main(["config", "show"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "summarize: internal error: TypeError: 'NoneType' object is not iterable "
        "(a bug in summarize; -vv shows where)\n"
    )
    assert main(["config", "show", "-vv"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "raise TypeError(\"'NoneType' object is not iterable\")" in err
