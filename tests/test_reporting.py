"""What the user is told: statuses, warnings, counts and the --report file agree everywhere."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from summarize import run
from summarize.cli import main
from summarize.config import load_config
from summarize.outputs import output_paths
from summarize.report import ArticleResult, Report, Status, group_warnings
from tests.conftest import ECHO, SEEDS
from tests.test_cli import run_stdin

GOOD = (SEEDS / "kadhimi-ambassadors.txt").read_bytes()
FRENCH = (
    "Le conseil municipal s'est réuni mardi soir pour discuter du budget de l'année prochaine. "
    "Les élus ont longuement débattu de la construction du nouveau pont sur la rivière, "
    "dont le coût a presque doublé depuis le début du projet. Le maire a promis une décision "
    "avant la fin du mois, après une consultation des habitants du quartier concerné.\n"
).encode()
SHORT = b"The vote passed on Tuesday. It was close.\n"
# Every translated segment stops at its length limit with the echo engine.
CUT = [
    "translator.max_length_ratio=0.01",
    "translator.max_length_extra=0",
    "translator.max_input_tokens=16",
]


def echo_config(*overrides: str) -> Any:
    return load_config(None, [*(s for s in ECHO if s != "--set"), *overrides])


# --- 8.14: standard input is flagged like a file ---------------------------------------


def test_stdin_article_gets_the_status_and_warnings_of_the_same_file(tmp_path: Path) -> None:
    source = tmp_path / "french.txt"
    source.write_bytes(FRENCH)
    (as_file,) = run(echo_config(), [str(source)]).results
    (as_stdin,) = run(echo_config(), ["-"], stdin=io.BytesIO(FRENCH)).results
    assert as_file.status is Status.FLAGGED
    assert as_stdin.status is Status.FLAGGED
    assert as_stdin.warnings == as_file.warnings
    assert any("mostly not English" in w for w in as_stdin.warnings)


def test_stdin_plain_output_prints_its_warnings_on_stderr(tmp_path: Path) -> None:
    done = run_stdin([], FRENCH, cwd=tmp_path)
    assert done.returncode == 0
    err = done.stderr.decode()
    assert "summarize: warning: <stdin>: mostly not English" in err
    assert err.strip().splitlines()[-1] == "1 article done (1 flagged)"
    assert b"mostly not English" not in done.stdout  # stdout holds only the texts


def test_stdin_warnings_are_logged_with_verbose(tmp_path: Path) -> None:
    done = run_stdin(["-v"], FRENCH, cwd=tmp_path)
    assert done.returncode == 0
    assert b"summarize: INFO: <stdin>: mostly not English" in done.stderr


def test_stdin_json_carries_status_and_warnings(tmp_path: Path) -> None:
    done = run_stdin(["--json"], FRENCH, cwd=tmp_path)
    payload = json.loads(done.stdout)
    assert payload["status"] == "flagged"
    assert any("mostly not English" in w for w in payload["warnings"])


# --- 9.19: --json answers every outcome ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        (SHORT, "done", ""),
        (b"", "failed", "<stdin>: empty"),
        (b"not \xff\xfa text", "failed", "<stdin>: not valid UTF-8 at byte 4"),
    ],
)
def test_stdin_json_prints_one_object_with_the_same_keys_for_every_outcome(
    tmp_path: Path, data: bytes, status: str, reason: str
) -> None:
    done = run_stdin(["--json"], data, cwd=tmp_path)
    payload = json.loads(done.stdout)
    assert set(payload) == {
        "status", "reason", "summary", "summary_ar", "article_ar", "warnings", "flags"
    }  # fmt: skip
    assert payload["status"] == status
    assert payload["reason"].startswith(reason)
    assert done.returncode == (0 if status == "done" else 1)
    if status == "failed":
        assert payload["summary"] is None
    assert list(tmp_path.iterdir()) == []


# --- 8.15: one definition of each count ---------------------------------------------------


def test_totals_line_and_summary_line_agree_for_a_mixed_run(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("done", "current"):
        (folder / f"{name}.txt").write_bytes(SHORT)
    (folder / "french.txt").write_bytes(FRENCH)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "held.txt").write_bytes(SHORT)
    assert main(["run", str(folder / "current.txt"), *ECHO, "-q"]) == 0
    config = echo_config()
    lock = output_paths(folder / "held.txt", config.output, None, folder).claim
    lock.write_text(json.dumps({"host": "elsewhere", "pid": 1, "started": 4e9}), "utf-8")
    report = tmp_path / "report.jsonl"
    assert main(["run", str(folder), *ECHO, "-q", "--report", str(report)]) == 1
    lines = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    # An article another run holds has its own status in the report: "held" (once "skipped").
    (held,) = [r for r in lines[:-1] if r["path"].endswith("held.txt")]
    assert held["status"] == "held"
    assert held["reason"].startswith("being processed by another run (")
    last = lines[-1]
    assert last["totals"] == {
        "articles": 5,
        "done": 2,
        "flagged": 1,
        "up to date": 1,
        "left out": 0,
        "left to another run": 1,
        "skipped": 0,
        "failed": 1,
        "not done": 0,
    }
    assert last["summary"] == (
        "2 articles done (1 flagged), 1 up to date, 1 left to another run, 1 failed"
    )


def test_summary_line_is_built_from_the_totals() -> None:
    report = Report()
    for status, reason in [
        (Status.DONE, ""),
        (Status.FLAGGED, ""),
        (Status.FLAGGED, ""),
        (Status.SKIPPED, "up to date"),
        (Status.HELD, "being processed by another run (host h, pid 1)"),
        (Status.NOT_DONE, "not done: the run was interrupted"),
    ]:
        report.add(ArticleResult("a", status, reason))
    totals = report.totals()
    assert totals["done"] == 3 and totals["flagged"] == 2
    assert totals["articles"] == sum(
        v for k, v in totals.items() if k not in {"articles", "flagged"}
    )
    assert report.summary_line() == (
        "3 articles done (2 flagged), 1 up to date, 1 left to another run, 1 not done"
    )


# --- 8.16: repeated warnings are grouped ----------------------------------------------------


def test_group_warnings_counts_repeats_and_names_where() -> None:
    cut = "a segment stopped at its length limit"
    warnings = [
        *[f"article translation, paragraph 2: {cut}"] * 3,
        f"article translation, paragraph 3: {cut}",
        f"article translation, paragraph 5: {cut}",
        "mostly not English",
        f"summary translation, paragraph 1: {cut}",
        "mostly not English",
    ]
    assert group_warnings(warnings) == [
        f"article translation, paragraphs 2-3, 5 (5 times): {cut}",
        "mostly not English (2 times)",
        f"summary translation, paragraph 1: {cut}",
    ]


def test_group_warnings_keeps_distinct_warnings_apart() -> None:
    warnings = ["summary round 1: 2 of 3 stopped", "summary round 2: 1 of 1 stopped"]
    assert group_warnings(warnings) == warnings


def test_a_cut_article_gets_its_cut_segments_flagged_in_sidecar_report_and_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(GOOD)
    caplog.set_level(logging.INFO, logger="summarize")
    (result,) = run(echo_config(*CUT), [str(source)]).results
    sidecar = json.loads((tmp_path / "a.summarize.json").read_text(encoding="utf-8"))
    assert result.status is Status.FLAGGED
    assert list(result.warnings) == sidecar["warnings"]
    assert [f.as_dict() for f in result.flags] == sidecar["flags"]
    # Nearly every segment of the article was cut at its length limit; retries under the
    # same limit cannot help, so each is kept as it is and flagged.
    cut = [f for f in result.flags if f.check == "length_cap" and f.output == "article_ar"]
    segments = sidecar["counts"]["article_segments"]
    assert len(cut) > segments * 0.8
    assert {f.segment for f in cut} <= set(range(segments))
    assert not any(f.repaired for f in cut)
    assert all(f.attempts >= 2 for f in cut)
    # The summary's cut is a warning, grouped and logged once.
    summary = [w for w in result.warnings if "stopped at their length limit" in w]
    logged = [
        r.getMessage() for r in caplog.records if "stopped at their length limit" in r.getMessage()
    ]
    assert logged == [f"{source}: {w}" for w in summary]


# --- 9.4: the --report file -----------------------------------------------------------------


def test_report_on_a_full_disk_warns_once_and_every_article_is_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.txt").write_bytes(SHORT)
    code = main(["run", str(tmp_path), *ECHO, "--report", "/dev/full"])
    err = capsys.readouterr().err
    assert code == 1
    assert len(list(tmp_path.glob("*.summarize.json"))) == 3
    assert err.count("No space left on device") == 1
    assert "--report /dev/full: cannot write" in err
    assert "None" not in err
    assert err.strip().splitlines()[-1] == "3 articles done"


def test_report_on_a_small_full_tmpfs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (mount / "filler").write_bytes(b"x" * 4096)
        folder = tmp_path / "in"
        folder.mkdir()
        for index in range(3):
            (folder / f"a{index}.txt").write_bytes(SHORT)
        code = main(["run", str(folder), *ECHO, "--report", str(mount / "r.jsonl")])
        err = capsys.readouterr().err
    finally:
        subprocess.run(["umount", str(mount)], check=False, timeout=30)
    assert code == 1
    assert len(list(folder.glob("*.summarize.json"))) == 3
    assert "No space left on device" in err and "None" not in err


@pytest.mark.parametrize("where", ["missing/report.jsonl", "a-file/report.jsonl", "."])
def test_report_that_cannot_be_created_is_a_usage_error_before_any_article(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    article = tmp_path / "in" / "a.txt"
    article.parent.mkdir()
    article.write_bytes(SHORT)
    target = tmp_path / where
    assert main(["run", str(article.parent), *ECHO, "--report", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"summarize: error: --report {target}: cannot write it" in err
    assert list(article.parent.glob("*.summarize.json")) == []


# --- 9.22: a log line per article when stderr is a log file ---------------------------------


def test_log_file_gets_a_line_per_article(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_bytes(SHORT)
    (tmp_path / "bad.txt").write_bytes(b"")
    log_file = tmp_path.parent / f"{tmp_path.name}.log"
    with log_file.open("w") as err:
        subprocess.run(
            [sys.executable, "-m", "summarize", "run", str(tmp_path), *ECHO],
            stderr=err,
            check=False,
            timeout=120,
            env={**os.environ, "TERM": "dumb"},
        )
    lines = log_file.read_text(encoding="utf-8").splitlines()
    for status, name in (("done", "a.txt"), ("done", "b.txt"), ("failed", "bad.txt")):
        assert any(
            line.startswith(f"summarize: INFO: {status} {tmp_path / name} (")
            and line.endswith(" s)")
            for line in lines
        ), lines


def test_quiet_log_file_gets_no_article_lines(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(SHORT)
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(tmp_path), *ECHO, "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0
    assert done.stderr == ""
