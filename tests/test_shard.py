"""--shard K/N: N runs share a tree's articles, each exactly once, whatever order or state."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarize.cli import main
from summarize.discovery import Job
from summarize.planning import Shard
from tests.conftest import ECHO

ARTICLE = "The council met on {n} March. It voted to repair the old bridge over the river.\n"

names = st.lists(
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]), min_size=1),
    min_size=1,
    max_size=40,
    unique=True,
)


@given(names=names, count=st.integers(min_value=1, max_value=9), seed=st.integers())
def test_shards_are_disjoint_cover_everything_and_ignore_order(
    names: list[str], count: int, seed: int
) -> None:
    root = Path("/news")
    jobs = [Job(root / "2024" / name, root) for name in names]
    shards = [Shard(k, count) for k in range(count)]
    owners = {job: [s for s in shards if s.holds(job)] for job in jobs}
    assert all(len(owner) == 1 for owner in owners.values())
    shuffled = jobs[:]
    random.Random(seed).shuffle(shuffled)
    assert {job: [s for s in shards if s.holds(job)] for job in shuffled} == owners


def test_the_shard_of_an_article_depends_on_its_path_below_the_root_only() -> None:
    here = Job(Path("/mnt/a/news/2024/x.txt"), Path("/mnt/a/news"))
    there = Job(Path("/scratch/copy/2024/x.txt"), Path("/scratch/copy"))
    elsewhere = Job(Path("/scratch/copy/2025/x.txt"), Path("/scratch/copy"))
    holders = [[k for k in range(16) if Shard(k, 16).holds(job)] for job in (here, there)]
    assert holders[0] == holders[1]
    # and the hash does look at the folders below the root, not only the file name
    assert any(
        Shard(k, n).holds(here) != Shard(k, n).holds(elsewhere)
        for n in range(2, 40)
        for k in range(n)
    )


@pytest.mark.parametrize(
    ("text", "expected"), [("0/1", Shard(0, 1)), ("2/8", Shard(2, 8)), (" 7/8 ", Shard(7, 8))]
)
def test_shard_specs_parse(text: str, expected: Shard) -> None:
    assert Shard.parse(text) == expected
    assert str(expected) == text.strip()


@pytest.mark.parametrize("text", ["8/8", "1/0", "0/0", "-1/4", "1", "a/b", "1/2/3", ""])
def test_a_bad_shard_is_a_usage_error(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text(ARTICLE.format(n=1))
    with pytest.raises(SystemExit) as stopped:
        main(["run", str(tmp_path), *ECHO, "--shard", text])
    assert stopped.value.code == 2
    assert "--shard" in capsys.readouterr().err
    assert not (tmp_path / "a.summary.txt").exists()


def _tree(root: Path, count: int) -> list[Path]:
    paths = []
    for n in range(count):
        path = root / f"part{n % 3}" / f"article-{n}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ARTICLE.format(n=n + 1))
        paths.append(path)
    return paths


def test_n_shard_runs_do_every_article_exactly_once(tmp_path: Path) -> None:
    articles = _tree(tmp_path / "news", 17)
    done: list[str] = []
    for k in range(4):
        report = tmp_path / f"report-{k}.jsonl"
        code = main(["run", str(tmp_path / "news"), *ECHO, "-q", "--shard", f"{k}/4",
                     "--report", str(report)])  # fmt: skip
        assert code == 0
        lines = [json.loads(line) for line in report.read_text().splitlines()]
        assert lines[-1]["shard"] == f"{k}/4"
        assert lines[-1]["summary"].endswith(f"(shard {k}/4)")
        done += [line["path"] for line in lines[:-1] if line["status"] == "done"]
    assert sorted(done) == sorted(str(path) for path in articles)
    assert all(path.with_suffix(".summary.txt").exists() for path in articles)


def test_a_shard_is_the_same_whatever_is_already_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    news = tmp_path / "news"
    articles = _tree(news, 12)

    def planned() -> set[str]:
        capsys.readouterr()
        assert main(["run", str(news), *ECHO, "--dry-run", "--shard", "1/3"]) == 0
        return {line.split()[-1] for line in capsys.readouterr().out.splitlines()}

    before = planned()
    assert main(["run", str(news), *ECHO, "-q", "--shard", "0/3"]) == 0
    articles[0].unlink()  # and the tree changes under the other shards
    assert planned() == before - {str(articles[0])}
    assert before and before < {str(path) for path in articles}


def test_standard_input_cannot_be_sharded(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-", *ECHO, "--shard", "0/2"]) == 2
    assert "standard input" in capsys.readouterr().err
