"""Discovery, output naming, atomic writes and the up-to-date check."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from summarize.config import Config, InputSettings, OutputSettings, load_config
from summarize.errors import UsageError
from summarize.files import (
    Job,
    Outputs,
    find_inputs,
    fingerprint,
    output_paths,
    stale_reason,
    write_atomic,
    write_outputs,
)

IN = InputSettings()
OUT = OutputSettings()
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


def test_output_names_follow_the_templates(tmp_path: Path) -> None:
    outputs = output_paths(tmp_path / "story.v2.txt", OUT)
    assert outputs.summary == tmp_path / "story.v2.summary.txt"
    assert outputs.summary_ar == tmp_path / "story.v2.summary.ar.txt"
    assert outputs.article_ar == tmp_path / "story.v2.ar.txt"
    assert outputs.sidecar == tmp_path / "story.v2.summarize.json"


def test_outputs_not_asked_for_are_none(tmp_path: Path) -> None:
    config = load_config(None, ['output.translate=["article"]', "output.summarize=false"])
    outputs = output_paths(tmp_path / "a.txt", config.output)
    assert outputs.texts() == [tmp_path / "a.ar.txt"]


def test_write_atomic_leaves_only_the_final_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_atomic(target, "نص عربي\n")
    assert target.read_text(encoding="utf-8") == "نص عربي\n"
    assert os.listdir(tmp_path) == ["out.txt"]
    assert target.stat().st_mode & 0o644 == 0o644  # not mkstemp's private 0600


def test_failed_atomic_write_leaves_old_content_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "bad \udcff surrogate")
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def done(tmp_path: Path, signature: str = "sig") -> tuple[Path, Outputs]:
    source = touch(tmp_path / "a.txt", "Some news.")
    outputs = output_paths(source, OUT)
    texts = {p: "x" for p in outputs.texts()}
    write_outputs(outputs, texts, {"signature": signature, "input": fingerprint(source)})
    return source, outputs


def test_up_to_date_after_writing_outputs(tmp_path: Path) -> None:
    source, outputs = done(tmp_path)
    assert stale_reason(source, outputs, "sig") is None


def test_touched_but_identical_input_is_still_up_to_date(tmp_path: Path) -> None:
    source, outputs = done(tmp_path)
    os.utime(source, ns=(1, 1))
    assert stale_reason(source, outputs, "sig") is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s, o: s.write_text("Other news, longer.", encoding="utf-8"), "input changed"),
        (lambda s, o: os.remove(o.article_ar), "outputs missing"),
        (lambda s, o: o.sidecar.write_text("{broken", encoding="utf-8"), "sidecar unreadable"),
        (lambda s, o: o.sidecar.unlink(), "new"),
    ],
)
def test_stale_reasons(
    tmp_path: Path, change: Callable[[Path, Outputs], object], reason: str
) -> None:
    source, outputs = done(tmp_path)
    change(source, outputs)
    assert stale_reason(source, outputs, "sig") == reason


def test_other_settings_make_outputs_stale(tmp_path: Path) -> None:
    source, outputs = done(tmp_path, signature="old")
    assert stale_reason(source, outputs, "new") == "settings changed"


def test_sidecar_is_written_after_the_texts(tmp_path: Path) -> None:
    _, outputs = done(tmp_path)
    sidecar = outputs.sidecar
    newest_text = max(p.stat().st_mtime_ns for p in outputs.texts())
    assert sidecar.stat().st_mtime_ns >= newest_text
    assert json.loads(sidecar.read_text(encoding="utf-8"))["signature"] == "sig"
