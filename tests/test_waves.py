"""The wave loop: --fail-fast inside a wave, claims kept fresh between stages, lost claims."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from summarize import run
from summarize.config import load_config
from summarize.report import Report, Status
from summarize.settings import Config

ECHO = [
    "summarizer.backend=echo",
    "summarizer.model=echo",
    "translator.backend=echo",
    "translator.model=echo",
    "input.language_check=off",
]
GOOD = 6


def echo_config(*overrides: str) -> Config:
    return load_config(None, [*ECHO, *overrides])


def make_articles(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(GOOD):
        (folder / f"story{i}.txt").write_text(f"Story {i} says something.", encoding="utf-8")


def locks(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.lock"))


class AtStage:
    """A progress display that does something to the run's files when a stage starts."""

    def __init__(self, actions: dict[str, Callable[[], None]]) -> None:
        self.actions = actions

    def start(self, total: int) -> None:
        pass

    def stage(self, name: str) -> None:
        if name in self.actions:
            self.actions[name]()

    def advance(self, count: int = 1) -> None:
        pass


def statuses(report: Report) -> dict[str, Status]:
    return {Path(r.name).name: r.status for r in report.results}


def test_fail_fast_starts_no_article_after_a_failure_in_the_same_wave(tmp_path: Path) -> None:
    make_articles(tmp_path)
    (tmp_path / "a.txt").write_bytes(b"")  # fails on reading, first of its wave
    report = run(echo_config(), [str(tmp_path)], fail_fast=True)
    assert statuses(report) == {
        "a.txt": Status.FAILED,
        **{f"story{i}.txt": Status.NOT_DONE for i in range(GOOD)},
    }
    assert report.exit_code == 1
    assert list(tmp_path.glob("*.summarize.json")) == []
    assert locks(tmp_path) == []


def test_without_fail_fast_the_rest_of_the_wave_is_done(tmp_path: Path) -> None:
    make_articles(tmp_path)
    (tmp_path / "a.txt").write_bytes(b"")
    report = run(echo_config(), [str(tmp_path)])
    assert report.count(Status.FAILED) == 1
    assert report.count(Status.DONE) + report.count(Status.FLAGGED) == GOOD


def test_claims_are_refreshed_between_stages(tmp_path: Path) -> None:
    make_articles(tmp_path)
    ages: list[float] = []

    def stall() -> None:  # as if summarizing took longer than runtime.claim_timeout
        past = time.time() - 7200
        for lock in locks(tmp_path):
            os.utime(lock, (past, past))

    def look() -> None:
        ages.extend(time.time() - lock.stat().st_mtime for lock in locks(tmp_path))

    progress = AtStage({"summarize": stall, "write": look})
    report = run(echo_config("runtime.claim_timeout=3600"), [str(tmp_path)], progress=progress)
    assert report.exit_code == 0
    assert len(ages) == GOOD
    assert max(ages) < 3600  # no other run could take them over while this one writes


def test_an_article_whose_claim_another_run_took_over_is_left_to_it(tmp_path: Path) -> None:
    make_articles(tmp_path)
    lock = tmp_path / ".story1.summarize.json.lock"
    theirs = {"host": "elsewhere", "pid": 7, "started": time.time()}

    def take_over() -> None:
        other = tmp_path / "other-claim"
        other.write_text(json.dumps(theirs), encoding="utf-8")
        os.replace(other, lock)

    report = run(echo_config(), [str(tmp_path)], progress=AtStage({"summarize": take_over}))
    result = next(r for r in report.results if r.name.endswith("story1.txt"))
    assert result.status is Status.HELD
    assert result.reason == "taken over by another run while being done"
    assert json.loads(lock.read_text(encoding="utf-8")) == theirs  # its claim is left alone
    assert not (tmp_path / "story1.summarize.json").exists()
    assert report.count(Status.DONE) + report.count(Status.FLAGGED) == GOOD - 1
    assert locks(tmp_path) == [lock]


def test_a_lock_path_that_is_not_a_file_fails_its_article_naming_it(tmp_path: Path) -> None:
    make_articles(tmp_path)
    blocker = tmp_path / ".story1.summarize.json.lock"
    blocker.mkdir()
    report = run(echo_config(), [str(tmp_path)])
    result = next(r for r in report.results if r.name.endswith("story1.txt"))
    assert result.status is Status.FAILED
    assert str(blocker) in result.reason
    assert "not a regular file" in result.reason
    assert "--output-dir" not in result.reason  # the folder is writable: that advice misleads
    assert report.count(Status.DONE) + report.count(Status.FLAGGED) == GOOD - 1
