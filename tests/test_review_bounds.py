"""The review reads what anyone may have left in the tree: never waiting, within bounds."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from summarize.cli import main
from tests.conftest import ECHO, ROOT, SEEDS

#: long enough for a review of two articles anywhere; a review that waits for ever runs into it
TIMEOUT = 60
#: a review needs far less; reading a file of many GB into memory does not fit
ADDRESS_SPACE = 2 * 1024**3


@pytest.fixture
def news(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two articles run, with their report in news.jsonl."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "news"
    folder.mkdir()
    text = (SEEDS / "kadhimi-ambassadors.txt").read_bytes()
    for name in ("one.txt", "two.txt"):
        (folder / name).write_bytes(text)
    assert main(["run", "news", *ECHO, "-q", "--report", "news.jsonl"]) == 0
    return folder


def review(*args: str, limit_memory: bool = False) -> subprocess.CompletedProcess[str]:
    """``summarize review`` in a process of its own, killed (failing the test) if it hangs."""
    return cli("review", *args, limit_memory=limit_memory)


def cli(command: str, *args: str, limit_memory: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "summarize", command, *ECHO, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=_limit_memory if limit_memory else None,
    )


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def sparse_file(path: Path, size: int) -> None:
    """A file of ``size`` bytes that takes no disk (all a hole)."""
    path.unlink(missing_ok=True)
    with path.open("wb") as fh:
        fh.truncate(size)


def test_a_page_named_as_a_fifo_is_refused_at_once(news: Path) -> None:
    """The check that -o names a page opened the FIFO to read it, and waited for a writer."""
    os.mkfifo("page.html")
    done = review("news", "-o", "page.html")
    assert done.returncode == 2, done.stderr
    assert "page.html: exists and is not an HTML page (not a regular file but a FIFO)" in (
        done.stderr
    )


def test_a_report_that_is_a_fifo_is_refused_at_once(news: Path) -> None:
    """--report naming a FIFO was read as text, waiting for a writer."""
    os.mkfifo("fifo.jsonl")
    done = review("news", "--report", "fifo.jsonl", "-o", "page.html")
    assert done.returncode == 2, done.stderr
    assert "fifo.jsonl: cannot read the report (not a regular file but a FIFO)" in done.stderr


def test_an_output_far_larger_than_any_output_is_not_read(news: Path) -> None:
    """An output replaced by a symlink to a huge file was read whole: a MemoryError."""
    summary = next(news.glob("*.summary.txt"))
    huge = Path("huge")
    sparse_file(huge, 8 * 1024**3)
    summary.unlink()
    summary.symlink_to(huge.resolve())
    done = review("news", "-o", "page.html", limit_memory=True)
    assert done.returncode == 0, done.stderr
    page = Path("page.html").read_text(encoding="utf-8")
    assert f"{summary.name}: cannot read (8,589,934,592 bytes, more than any output" in page


@pytest.mark.parametrize("line", ["[" * 100_000, '{"a": ' * 5_000 + "1" + "}" * 5_000])
def test_a_report_line_nested_too_deep_is_warned_about_and_left_out(
    news: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    """One such line stopped the review with a RecursionError."""
    Path("news.jsonl").write_text(
        line + "\n" + Path("news.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert main(["review", "news", *ECHO, "--report", "news.jsonl", "-o", "page.html"]) == 0
    err = capsys.readouterr().err
    assert "news.jsonl, line 1: nested deeper than 32 levels, left out" in err
    assert "internal error" not in err
    # The report's other lines still count: its summary line is on the page.
    summary = json.loads(Path("news.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert summary["summary"] in Path("page.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["-o", "news/page.txt"], "news/page.txt"),
        (["-o", "news/sub/page.md"], "news/sub/page.md"),
        (["--split", "-o", "news/pages", "--set", 'input.globs=["*"]'], "news/pages"),
    ],
)
def test_a_page_that_the_next_run_would_take_for_an_article_is_refused(
    news: Path, capsys: pytest.CaptureFixture[str], args: list[str], target: str
) -> None:
    """-o news/page.txt wrote the page among the articles, and the next run summarized it."""
    (news / "sub").mkdir()
    before = sorted(news.rglob("*"))
    assert main(["review", "news", *ECHO, *args]) == 2
    assert f"{target}: inside news, where a run would take the page for an article" in (
        capsys.readouterr().err
    )
    assert sorted(news.rglob("*")) == before


@pytest.mark.parametrize("page", ["news/page.html", "news/.page.txt", "page.txt"])
def test_a_page_no_run_takes_may_be_written_anywhere(news: Path, page: str) -> None:
    assert main(["review", "news", *ECHO, "-o", page]) == 0
    assert main(["run", "news", *ECHO, "-q", "--report", "again.jsonl"]) == 0
    records = [json.loads(line) for line in Path("again.jsonl").read_text("utf-8").splitlines()]
    assert records[-1]["totals"]["up to date"] == 2
    assert {r["status"] for r in records[:-1] if r["reason"] != "up to date"} <= {"skipped"}


def test_an_input_replaced_by_a_huge_one_is_out_of_date_without_being_read(news: Path) -> None:
    """An input of another size than its sidecar records was read whole to hash it, only to
    find it changed: a MemoryError for a file of many GB."""
    sparse_file(news / "one.txt", 8 * 1024**3)
    for command in (["review", "news", "-o", "page.html"], ["run", "news", "--dry-run"]):
        done = cli(*command, limit_memory=True)
        assert "internal error" not in done.stderr
        assert "input changed" in done.stdout + Path("page.html").read_text(encoding="utf-8")
