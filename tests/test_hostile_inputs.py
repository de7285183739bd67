"""Hostile inputs: odd names, files swapped after discovery, FIFOs; every path gets an answer."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from summarize import run
from summarize.cli import main
from summarize.config import load_config
from summarize.discovery import display_name
from summarize.pipeline import plan
from summarize.report import Report, Status
from tests.conftest import ECHO, SEEDS

GOOD = (SEEDS / "kadhimi-ambassadors.txt").read_bytes()
SECRET = b"The launch codes are kept in the second drawer of the old desk."
CONFIG = load_config(None, [s for s in ECHO if s != "--set"])
# A hang must fail the test, not stall the suite.
TIMEOUT = 60


def report_of(folder: Path, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    """Run the CLI over ``folder`` with a JSONL report beside it; the exit code and records."""
    path = folder.parent / f"{folder.name}-report.jsonl"
    code = main(["run", str(folder), *ECHO, "-q", "--report", str(path), *args])
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert "totals" in lines[-1]
    return code, {Path(r["path"]).name: r for r in lines[:-1]}


class BeforeRead:
    """A progress sink that runs ``action`` when the run starts: after discovery and planning,
    before any file is read, which is where another process could swap an input."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action

    def start(self, total: int) -> None:
        self.action()

    def stage(self, name: str) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


def done(report: Report) -> int:
    return report.count(Status.DONE) + report.count(Status.FLAGGED)


def written_bytes(folder: Path) -> bytes:
    """What the files under ``folder`` hold, not counting symlinks to elsewhere."""
    files = (p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink())
    return b"".join(p.read_bytes() for p in files)


# --- 9.6: an input swapped for a symlink after discovery ----------------------------------


@pytest.mark.parametrize(
    ("via_link", "why"),
    [
        (False, "it became a symlink after the run started; not followed"),
        (True, "is a symlink, not followed (a loop, or replaced since the run started)"),
    ],
    ids=["file", "target-of-a-link"],
)
def test_file_swapped_for_a_symlink_after_discovery_is_not_followed(
    tmp_path: Path, via_link: bool, why: str
) -> None:
    outside = tmp_path / "outside" / "secret.txt"
    outside.parent.mkdir()
    outside.write_bytes(SECRET)
    tree = tmp_path / "tree"
    (tree / "store").mkdir(parents=True)
    (tree / "b.txt").write_bytes(GOOD)
    # A link's target need not match the globs: it is read only through the link.
    victim = tree / "store" / "story.rst" if via_link else tree / "a.txt"
    victim.write_bytes(GOOD)
    if via_link:
        (tree / "a.txt").symlink_to(victim)

    def swap() -> None:
        victim.unlink()
        victim.symlink_to(outside)

    report = run(CONFIG, [str(tree)], progress=BeforeRead(swap))
    (failed,) = report.failures
    assert failed.name == str(tree / "a.txt")
    assert why in failed.reason
    assert done(report) == 1
    assert not (tree / "a.ar.txt").exists()
    assert b"launch codes" not in written_bytes(tree)


def test_symlink_inside_the_tree_accepted_at_discovery_is_still_read(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "store").mkdir(parents=True)
    (tree / "store" / "story.rst").write_bytes(GOOD)
    (tree / "link.txt").symlink_to(Path("store") / "story.rst")
    report = run(CONFIG, [str(tree)])
    assert report.failures == []
    assert done(report) == 1
    assert (tree / "link.ar.txt").exists()


# --- 9.5: FIFOs never hang the run ---------------------------------------------------------


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (inheriting PYTHONPATH) that must not hang."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_input_swapped_for_a_fifo_after_discovery_fails_alone_without_hanging(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_bytes(GOOD)
    (tree / "b.txt").write_bytes(GOOD)
    result = run_python(
        f"""
        import os
        from pathlib import Path
        from summarize.config import load_config
        from summarize import run
        from tests.test_hostile_inputs import BeforeRead, CONFIG

        victim = Path({str(tree / "a.txt")!r})

        def swap():
            victim.unlink()
            os.mkfifo(victim)

        report = run(CONFIG, [str(victim.parent)], progress=BeforeRead(swap))
        for r in report.results:
            print(r.status.value, r.reason)
        """,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert "failed" in result.stdout
    assert "not a regular file but a FIFO" in result.stdout
    assert (tree / "b.ar.txt").exists()


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_input_replaced_by_a_fifo_after_it_was_done_never_hangs(
    tmp_path: Path, dry_run: bool
) -> None:
    """The up-to-date check hashes an input whose size or mtime changed: a FIFO must not block."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_bytes(GOOD)
    assert main(["run", str(tree), *ECHO, "-q"]) == 0
    result = run_python(
        f"""
        import os
        from pathlib import Path
        from summarize.outputs import output_paths
        from summarize.identity import settings_identity
        from summarize.state import stale_reason
        from tests.test_hostile_inputs import CONFIG

        source = Path({str(tree / "a.txt")!r})
        source.unlink()
        os.mkfifo(source)  # found by the search before this moment
        outputs = output_paths(source, CONFIG.output)
        print(stale_reason(source, outputs, settings_identity(CONFIG).outputs))
        """,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "input unreadable"
    # And the CLI over the tree answers too (the FIFO is left out at discovery).
    args = ["--dry-run"] if dry_run else []
    cli = subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(tree), *ECHO, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "not a regular file" in cli.stdout + cli.stderr


# --- 8.5: the fingerprint describes exactly the bytes that were read -------------------------


class EditDuringRead:
    """Appends to ``path`` each time the run looks at it after reading it (``times`` at most).

    The look after the read is a stat of the file once it has been read: an fstat of a
    descriptor whose offset has moved, or a second os.stat of the path.
    """

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch, times: int) -> None:
        self.path, self.left = path, times
        self.inode = path.stat().st_ino
        self.path_stats = 0
        self.real_stat, self.real_fstat = os.stat, os.fstat
        monkeypatch.setattr(os, "stat", self.stat)
        monkeypatch.setattr(os, "fstat", self.fstat)

    def edit(self) -> None:
        if self.left > 0:
            self.left -= 1
            with open(self.path, "ab") as fh:
                fh.write(b"\n\nA paragraph added while the file was being read.\n")
            os.utime(self.path, ns=(1, 1_000_000_000 * (10 + self.left)))

    def stat(self, path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if isinstance(path, (str, os.PathLike)) and os.fspath(path) == str(self.path):
            self.path_stats += 1
            if self.path_stats == 2:
                self.edit()
        return self.real_stat(path, *args, **kwargs)

    def fstat(self, fd: int) -> os.stat_result:
        result = self.real_fstat(fd)
        if result.st_ino == self.inode and os.lseek(fd, 0, os.SEEK_CUR) > 0:
            self.edit()
            result = self.real_fstat(fd)
        return result


def run_edited(folder: Path, monkeypatch: pytest.MonkeyPatch, times: int) -> Report:
    """Run over ``folder`` holding ``a.txt``, which is edited while read (``times`` at most)."""
    source = folder / "a.txt"
    source.write_bytes(GOOD)
    EditDuringRead(source, monkeypatch, times)
    report = run(CONFIG, [str(folder)])
    monkeypatch.undo()
    return report


def test_edit_during_the_read_is_never_recorded_with_the_old_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "a.txt"
    assert run_edited(tmp_path, monkeypatch, times=1).failures == []
    recorded = json.loads((tmp_path / "a.summarize.json").read_text(encoding="utf-8"))["input"]
    now = source.read_bytes()
    # The record must describe one state of the file: either the next run sees the change,
    # or the outputs come from the bytes the record names (here: the file as edited).
    assert recorded["sha256"] == hashlib.sha256(now).hexdigest()
    assert recorded["size"] == len(now)
    assert "A paragraph added" in (tmp_path / "a.ar.txt").read_text(encoding="utf-8")
    assert plan(CONFIG, [str(tmp_path)])[0].reason is None


def test_file_that_keeps_changing_while_read_fails_with_that_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (failed,) = run_edited(tmp_path, monkeypatch, times=10).failures
    assert failed.reason == f"{tmp_path / 'a.txt'}: cannot read (changed while being read)"
    assert not (tmp_path / "a.summarize.json").exists()


# --- 9.1: names that are not UTF-8 ----------------------------------------------------------


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses file names that are not UTF-8")
def test_name_with_bytes_that_are_not_utf8_is_processed_and_reported(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    odd = os.fsdecode(b"caf\xe9.txt")
    (folder / odd).write_bytes(GOOD)
    (folder / "zebra.txt").write_bytes(GOOD)
    code, records = report_of(folder, "-v")
    assert code == 0
    assert set(records) == {"caf\\xe9.txt", "zebra.txt"}
    assert records["caf\\xe9.txt"]["status"] in {"done", "flagged"}
    assert (folder / os.fsdecode(b"caf\xe9.ar.txt")).exists()
    sidecar = json.loads(
        (folder / os.fsdecode(b"caf\xe9.summarize.json")).read_text(encoding="utf-8")
    )
    assert sidecar["input"]["path"] == str(folder / "caf\\xe9.txt")
    code, records = report_of(folder)
    assert code == 0
    assert records["caf\\xe9.txt"]["reason"] == "up to date"


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses file names that are not UTF-8")
def test_dry_run_lists_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_bytes(GOOD)
    cli = subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(tmp_path), *ECHO, "--dry-run"],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert cli.returncode == 0, cli.stderr
    assert b"new  " + os.fsencode(tmp_path) + b"/caf\\xe9.txt" in cli.stdout


# --- 9.3 and 9.20: names too long for the outputs -------------------------------------------


def test_name_too_long_for_its_outputs_fails_only_that_article(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    long_name = "x" * 247 + ".txt"
    (folder / long_name).write_bytes(GOOD)
    (folder / "short.txt").write_bytes(GOOD)
    code, records = report_of(folder)
    assert code == 1
    assert records["short.txt"]["status"] in {"done", "flagged"}
    failed = records[long_name]
    assert failed["status"] == "failed"
    assert "file name too long for its outputs" in failed["reason"]
    assert "--output-dir" not in failed["reason"]


@pytest.mark.parametrize("length", [236, 240, 245])
def test_name_too_long_for_the_lock_or_temporary_file_fails_with_that_reason(
    tmp_path: Path, length: int
) -> None:
    """The sidecar's name fits, but its lock or temporary file's would not."""
    folder = tmp_path / "in"
    folder.mkdir()
    name = "y" * length + ".txt"
    (folder / name).write_bytes(GOOD)
    code, records = report_of(folder)
    assert code == 1
    assert "file name too long for its outputs" in records[name]["reason"]
    assert not list(folder.glob(".*"))


def test_name_that_just_fits_is_done(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = "z" * (255 - 14 - len(".summary.ar.txt")) + ".txt"
    (folder / name).write_bytes(GOOD)
    code, records = report_of(folder)
    assert code == 0
    assert records[name]["status"] in {"done", "flagged"}


# --- 9.16: every path left out is reported --------------------------------------------------


def left_out(folder: Path, make: Callable[[Path], None]) -> dict[str, dict[str, Any]]:
    make(folder)
    code, records = report_of(folder)
    assert code == 0
    return {n: r for n, r in records.items() if r["reason"].startswith("left out")}


def outside_link(folder: Path) -> None:
    secret = folder.parent / "secret.txt"
    secret.write_bytes(SECRET)
    (folder / "link.txt").symlink_to(secret)


@pytest.mark.parametrize(
    ("name", "make", "fragment"),
    [
        ("x.ar.txt", lambda f: (f / "x.ar.txt").write_bytes(GOOD), "named like the tool's own"),
        (".txt", lambda f: (f / ".txt").write_bytes(GOOD), "hidden file"),
        ("UP.TXT", lambda f: (f / "UP.TXT").write_bytes(GOOD), "globs are case-sensitive"),
        ("link.txt", outside_link, "symlink to a file outside"),
        ("pipe.txt", lambda f: os.mkfifo(f / "pipe.txt"), "not a regular file"),
    ],
)
def test_each_path_left_out_is_reported_with_its_reason(
    tmp_path: Path,
    name: str,
    make: Callable[[Path], None],
    fragment: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_bytes(GOOD)
    skipped = left_out(folder, make)
    assert set(skipped) == {name}
    assert skipped[name]["status"] == "skipped"
    assert fragment in skipped[name]["reason"]
    capsys.readouterr()
    assert main(["run", str(folder), *ECHO, "--dry-run"]) == 0
    out, err = capsys.readouterr()
    (line,) = [x for x in out.splitlines() if x.endswith(f"/{name}")]
    assert line.startswith("left out: ") and fragment in line
    assert "1 left out" in err
    assert main(["run", str(folder), *ECHO, "-v"]) == 0
    assert f"{name}: skipped: " in capsys.readouterr().err
    # and a warning without -v, as docs/running.md promises for each of them
    assert main(["run", str(folder), *ECHO]) == 0
    (warning,) = [x for x in capsys.readouterr().err.splitlines() if "WARNING" in x]
    assert f"/{name}: skipped: " in warning and fragment in warning


def test_a_symlink_to_a_folder_named_like_an_article_is_not_one(tmp_path: Path) -> None:
    """``latest.txt -> 2025/``: a folder, like one really named ``x.txt`` (searched as itself),
    not an article that fails with 'Is a directory' (and that --dry-run listed as new)."""
    folder = tmp_path / "in"
    (folder / "2025").mkdir(parents=True)
    (folder / "2025" / "a.txt").write_bytes(GOOD)
    (folder / "latest.txt").symlink_to("2025")
    code, records = report_of(folder)
    assert code == 0
    assert set(records) == {"a.txt"}


def test_outputs_of_an_input_beside_them_are_left_out_silently(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_bytes(GOOD)
    assert main(["run", str(folder), *ECHO, "-q"]) == 0
    (folder / "good.ref.ar.txt").write_text("مرجع", encoding="utf-8")
    assert left_out(folder, lambda f: None) == {}


def test_a_file_is_done_under_its_own_name_not_through_a_symlink_to_it(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_bytes(GOOD)
    (folder / "0alias.txt").symlink_to("a.txt")  # sorted first
    code, records = report_of(folder)
    assert code == 0
    assert records["a.txt"]["status"] in {"done", "flagged"}
    assert (folder / "a.ar.txt").exists()
    assert not (folder / "0alias.ar.txt").exists()
    assert records["0alias.txt"]["status"] == "skipped"
    assert "the same file as" in records["0alias.txt"]["reason"]


# --- 9.17 and 9.20: paths named on the command line -----------------------------------------


def usage_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["run", *args, *ECHO]) == 2
    return capsys.readouterr().err


def test_an_empty_path_is_a_usage_error_not_the_current_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here.txt").write_bytes(GOOD)
    monkeypatch.chdir(tmp_path)  # what "$UNSET_DIR" would have done over
    err = usage_error([""], capsys)
    assert "an empty path ('') names nothing" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here.txt"]


def test_naming_a_reserved_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.ar.txt"
    path.write_bytes(GOOD)
    err = usage_error([str(path)], capsys)
    assert f"{path}: named like the tool's own files ({{stem}}.ar.txt)" in err


def test_top_level_symlink_loop_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    assert f"{loop}: symlink loop: cannot resolve it" in usage_error([str(loop)], capsys)


def test_top_level_dangling_symlink_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "gone.txt")
    assert f"{link}: dangling symlink" in usage_error([str(link)], capsys)


def test_output_dir_that_is_a_regular_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_bytes(GOOD)
    target = tmp_path / "out.txt"
    target.write_text("not a folder", encoding="utf-8")
    err = usage_error([str(tmp_path / "a.txt"), "-o", str(target)], capsys)
    assert f"{target}: --output-dir is not a directory" in err


@pytest.mark.parametrize("folder_name", [b"in", b"caf\xe9"], ids=["utf8", "not-utf8"])
def test_output_replaced_by_a_directory_is_not_up_to_date_and_named_when_forced(
    tmp_path: Path, folder_name: bytes
) -> None:
    folder = tmp_path / os.fsdecode(folder_name)
    folder.mkdir()
    (folder / "a.txt").write_bytes(GOOD)
    assert main(["run", str(folder), *ECHO, "-q"]) == 0
    summary = folder / "a.summary.txt"
    summary.unlink()
    summary.mkdir()
    assert plan(CONFIG, [str(folder)])[0].reason == "outputs missing"
    code, records = report_of(folder, "--force")
    assert code == 1
    reason = records["a.txt"]["reason"]
    assert reason.endswith(f"{display_name(summary)})")
    assert ".tmp" not in reason


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses file names that are not UTF-8")
def test_folder_that_cannot_be_made_fails_its_article_without_read_only_advice(
    tmp_path: Path,
) -> None:
    """The advice to use --output-dir is for permission errors only; the folder is named
    printably even when its name is not UTF-8."""
    folder = tmp_path / "in"
    sub = os.fsdecode(b"caf\xe9")
    (folder / sub).mkdir(parents=True)
    (folder / sub / "a.txt").write_bytes(GOOD)
    (folder / "b.txt").write_bytes(GOOD)
    out = tmp_path / "out"
    out.mkdir()
    (out / sub).write_text("a file where the folder would go", encoding="utf-8")
    code, records = report_of(folder, "-o", str(out))
    assert code == 1
    assert records["b.txt"]["status"] in {"done", "flagged"}
    reason = records["a.txt"]["reason"]
    assert f"cannot write in {out}/caf\\xe9 (" in reason
    assert "--output-dir" not in reason


# --- 9.18: the run's own report is never an input -------------------------------------------


def test_report_inside_the_input_tree_is_not_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "rp"
    folder.mkdir()
    (folder / "a.txt").write_bytes(GOOD)
    report = folder / "zreport.txt"
    assert main(["run", str(folder), *ECHO, "-q", "--report", str(report)]) == 0
    records = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines()]
    assert [Path(r["path"]).name for r in records[:-1]] == ["a.txt"]
    assert not (folder / "zreport.summary.txt").exists()
    capsys.readouterr()
    assert main(["run", str(folder), *ECHO, "--dry-run", "--report", str(report)]) == 0
    assert "zreport" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("report", "fragment"),
    [
        ("a.txt", "it is an article of this run"),
        ("sub/b.txt", "it is an article of this run"),
        ("a.summary.txt", "named like the tool's own files ({stem}.summary.txt)"),
        ("c.summarize.json", "named like the tool's own files ({stem}.summarize.json)"),
    ],
)
def test_a_report_that_would_overwrite_an_article_or_an_output_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report: str, fragment: str
) -> None:
    """``--report a.txt`` emptied the article a.txt before the search left it out as the
    run's own file: an input destroyed, which docs/running.md promises never happens."""
    folder = tmp_path / "rp"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(GOOD)
    (folder / "sub" / "b.txt").write_bytes(GOOD)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    err = usage_error([str(folder), "-q", "--report", str(folder / report)], capsys)
    assert f"--report {folder / report}: {fragment}" in err
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    named = usage_error([str(folder / "a.txt"), "--report", str(folder / "a.txt")], capsys)
    assert "it is an article of this run" in named
    assert (folder / "a.txt").read_bytes() == GOOD


def test_output_dir_inside_the_input_tree_is_not_searched(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_bytes(GOOD)
    out = folder / "out"
    assert report_of(folder, "-o", str(out))[0] == 0
    code, records = report_of(folder, "-o", str(out))
    assert code == 0
    assert {name: r["reason"] for name, r in records.items()} == {"a.txt": "up to date"}


def test_summary_line_counts_paths_left_out_apart_from_other_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_bytes(GOOD)
    (tmp_path / "UP.TXT").write_bytes(GOOD)
    capsys.readouterr()
    assert main(["run", str(tmp_path), *ECHO]) == 0
    assert capsys.readouterr().err.rstrip().endswith("1 article done (1 flagged), 1 left out")
