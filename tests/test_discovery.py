"""Discovery: directories searched with the globs, the tool's own files never inputs, symlinks."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarize.discovery import Job, find_inputs
from summarize.errors import UsageError
from summarize.settings import Config, InputSettings

IN = InputSettings()
RESERVED = Config().reserved_names


def touch(path: Path, text: str = "Some news.") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def names(jobs: list[Job], root: Path) -> list[str]:
    return [j.path.relative_to(root).as_posix() if j.path else "-" for j in jobs]


def test_directory_is_searched_recursively_with_the_globs(tmp_path: Path) -> None:
    for name in ["b.txt", "a.md", "sub/c.txt", "notes.rst", "sub/deeper/d.txt"]:
        touch(tmp_path / name)
    jobs = find_inputs([str(tmp_path)], IN, RESERVED)
    assert names(jobs, tmp_path) == ["a.md", "b.txt", "sub/c.txt", "sub/deeper/d.txt"]


def test_own_outputs_hidden_files_and_excludes_are_never_inputs(tmp_path: Path) -> None:
    for name in [
        "a.txt",
        "a.summary.txt",
        "a.summary.ar.txt",
        "a.ar.txt",
        "a.ref.summary.txt",
        "a.ref.ar.txt",
        ".a.txt.1234.tmp",
        ".hidden.txt",
        ".git/x.txt",
        "drafts/skip.txt",
    ]:
        touch(tmp_path / name)
    settings = InputSettings(exclude=["drafts/*"])
    assert names(find_inputs([str(tmp_path)], settings, RESERVED), tmp_path) == ["a.txt"]


def test_a_file_named_like_an_output_is_refused_when_named_explicitly(tmp_path: Path) -> None:
    path = touch(tmp_path / "a.summary.txt")
    with pytest.raises(UsageError, match=r"a\.summary\.txt: named like the tool's own files"):
        find_inputs([str(path)], IN, RESERVED)


def test_explicit_files_need_not_match_the_globs_and_appear_once(tmp_path: Path) -> None:
    rst = touch(tmp_path / "story.rst")
    txt = touch(tmp_path / "story.txt")
    jobs = find_inputs([str(rst), str(txt), str(tmp_path), "-"], IN, RESERVED)
    assert [j.name for j in jobs] == [str(rst), str(txt), "<stdin>"]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope\.txt: no such file or directory"):
        find_inputs([str(tmp_path / "nope.txt")], IN, RESERVED)


def test_stdin_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="more than once"):
        find_inputs(["-", "-"], IN, RESERVED)


def test_symlinks_pointing_outside_the_tree_are_not_followed(tmp_path: Path) -> None:
    outside = touch(tmp_path / "outside" / "secret.txt")
    root = tmp_path / "root"
    touch(root / "inside.txt")
    (root / "link.txt").symlink_to(outside)
    (root / "loop").symlink_to(root, target_is_directory=True)
    assert names(find_inputs([str(root)], IN, RESERVED), root) == ["inside.txt"]
