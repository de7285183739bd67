"""Bad inputs and bad surroundings: a clear answer per article, and the others still done."""

from __future__ import annotations

import codecs
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from summarize import Models, run
from summarize.backends import GenerateOptions, Generation
from summarize.backends.echo import EchoBackend
from summarize.cli import main
from summarize.config import load_config
from summarize.discovery import display_name
from summarize.report import Status
from tests.conftest import ECHO, SEEDS

GOOD = (SEEDS / "kadhimi-ambassadors.txt").read_bytes()
FRENCH = (
    "Le conseil municipal s'est réuni mardi soir pour discuter du budget de l'année prochaine. "
    "Les élus ont longuement débattu de la construction du nouveau pont sur la rivière, "
    "dont le coût a presque doublé depuis le début du projet. Le maire a promis une décision "
    "avant la fin du mois, après une consultation des habitants du quartier concerné."
)


def run_dir(folder: Path, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    """Run the CLI over ``folder`` with a JSONL report; return the exit code and the records."""
    report = folder.parent / f"{folder.name}-report.jsonl"
    code = main(["run", str(folder), *ECHO, "-q", "--report", str(report), *args])
    lines = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert "totals" in lines[-1]
    return code, {Path(r["path"]).name: r for r in lines[:-1]}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty: the file holds no text"),
        (b"  \n\t\n   \n", "empty: the file holds no text"),
        (b"Advertisement\nShare this article\nRead more\n", "site boilerplate"),
        (b"abc\x00\x00def", "binary data (NUL byte at offset 3)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document, not a text article"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image, not a text article"),
        (b"Caf\xe9 society.", "not valid UTF-8 at byte 3"),
    ],
)
def test_bad_file_fails_with_its_reason_and_the_good_one_is_done(
    tmp_path: Path, data: bytes, fragment: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_bytes(GOOD)
    (folder / "bad.txt").write_bytes(data)
    code, records = run_dir(folder)
    assert code == 1
    assert records["bad.txt"]["status"] == "failed"
    assert fragment in records["bad.txt"]["reason"]
    assert records["bad.txt"]["reason"].startswith(str(folder / "bad.txt"))
    assert records["good.txt"]["status"] in {"done", "flagged"}
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("bad")) == ["bad.txt"]


def test_utf16_with_bom_is_decoded(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "wide.txt").write_bytes(codecs.BOM_UTF16_LE + GOOD.decode().encode("utf-16-le"))
    code, _ = run_dir(folder)
    assert code == 0
    assert "Al-Kadhimi" in (folder / "wide.ar.txt").read_text(encoding="utf-8")


def test_file_over_max_bytes_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "big.txt").write_bytes(GOOD)
    code, records = run_dir(folder, "--set", "input.max_bytes=1000")
    assert code == 1
    assert "2313 bytes is more than input.max_bytes (1000)" in records["big.txt"]["reason"]


def test_one_enormous_line_without_punctuation_is_translated_whole(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    words = " ".join(f"w{i}" for i in range(30_000))
    (folder / "line.txt").write_text(words, encoding="utf-8")
    code, _ = run_dir(folder, "--set", "input.language_check=off")
    assert code == 0
    assert (folder / "line.ar.txt").read_text(encoding="utf-8").split() == words.split()
    sidecar = json.loads((folder / "line.summarize.json").read_text(encoding="utf-8"))
    assert sidecar["counts"]["article_split_sentences"] > 100
    assert sidecar["map_reduce"] is True


def test_mostly_foreign_text_is_flagged_or_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "fr.txt").write_text(FRENCH, encoding="utf-8")
    code, records = run_dir(folder)
    assert code == 0
    assert records["fr.txt"]["status"] == "flagged"
    assert any("mostly not English (detected 'fr'" in w for w in records["fr.txt"]["warnings"])
    code, records = run_dir(folder, "--force", "--set", "input.language_check=refuse")
    assert code == 1
    assert "set input.language_check = 'warn'" in records["fr.txt"]["reason"]


class VanishingProgress:
    """Deletes a file when the run starts, i.e. after discovery and before reading."""

    def __init__(self, victim: Path) -> None:
        self.victim = victim

    def start(self, total: int) -> None:
        self.victim.unlink()

    def stage(self, name: str) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


def test_file_vanishing_after_discovery_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "stays.txt").write_bytes(GOOD)
    (tmp_path / "goes.txt").write_bytes(GOOD)
    config = load_config(None, [s for s in ECHO if s != "--set"])
    report = run(config, [str(tmp_path)], progress=VanishingProgress(tmp_path / "goes.txt"))
    (failed,) = report.failures
    assert failed.reason == f"{tmp_path / 'goes.txt'}: cannot read (No such file or directory)"
    assert report.count(Status.FLAGGED) + report.count(Status.DONE) == 1


class DirectorySwap(VanishingProgress):
    """Replaces a file by a directory after discovery: unreadable, even for root."""

    def start(self, total: int) -> None:
        super().start(total)
        self.victim.mkdir()


def test_unreadable_file_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_bytes(GOOD)
    (tmp_path / "secret.txt").write_bytes(GOOD)
    config = load_config(None, [s for s in ECHO if s != "--set"])
    report = run(config, [str(tmp_path)], progress=DirectorySwap(tmp_path / "secret.txt"))
    (failed,) = report.failures
    assert failed.name == str(tmp_path / "secret.txt")
    assert failed.reason.startswith(f"{tmp_path / 'secret.txt'}: ")
    assert report.count(Status.FLAGGED) + report.count(Status.DONE) == 1
    assert report.exit_code == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission_fails_alone(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_bytes(GOOD)
    secret = folder / "secret.txt"
    secret.write_bytes(GOOD)
    secret.chmod(0)
    code, records = run_dir(folder)
    assert code == 1
    assert "Permission denied" in records["secret.txt"]["reason"]


def test_fifo_is_not_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_bytes(GOOD)
    os.mkfifo(folder / "pipe.txt")  # reading it would block forever
    code, records = run_dir(folder)
    assert code == 0
    assert set(records) == {"good.txt", "pipe.txt"}
    assert records["pipe.txt"]["status"] == "skipped"


def test_output_that_cannot_be_written_fails_that_article(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_bytes(GOOD)
    (folder / "blocked.txt").write_bytes(GOOD)
    (folder / "blocked.ar.txt").mkdir()  # the output's name is taken by a directory
    code, records = run_dir(folder)
    assert code == 1
    assert "cannot write outputs" in records["blocked.txt"]["reason"]
    assert records["good.txt"]["status"] in {"done", "flagged"}
    assert not (folder / "blocked.summarize.json").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_output_dir_mirrors_the_input_tree_and_leaves_inputs_alone(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    (inputs / "world" / "iraq").mkdir(parents=True)
    (inputs / "world" / "iraq" / "story.txt").write_bytes(GOOD)
    (inputs / "top.txt").write_bytes(GOOD)
    before = sorted(p.relative_to(inputs) for p in inputs.rglob("*"))
    out = tmp_path / "out"
    code, _ = run_dir(inputs, "--output-dir", str(out))
    assert code == 0
    assert sorted(p.relative_to(inputs) for p in inputs.rglob("*")) == before
    assert (out / "world" / "iraq" / "story.summary.ar.txt").exists()
    assert (out / "top.summarize.json").exists()
    code, records = run_dir(inputs, "--output-dir", str(out))
    assert {r["status"] for r in records.values()} == {"skipped"}


@pytest.mark.parametrize(
    "name", ["with space.txt", 'quote\'s "double".txt', "new\nline.txt", "خبر عاجل.txt", "新闻.md"]
)
def test_awkward_file_names(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(GOOD)
    code, records = run_dir(folder)
    assert code == 0
    stem = Path(name).stem
    assert (folder / f"{stem}.summary.ar.txt").exists()
    assert records[display_name(name)]["status"] in {"done", "flagged"}  # a newline shown as \n


def test_disk_full_fails_the_article_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A file-size limit makes writes fail like a full disk does, in the real write path."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("The council met on Tuesday. " * 20, encoding="utf-8")

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        # Room for the texts (about 600 bytes each), not for the sidecar (several KB).
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))

    done = subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(folder), *ECHO,
         "--set", "input.language_check=off"],  # its model unpacks to a temporary file
        capture_output=True, text=True, check=False, timeout=120, preexec_fn=limit_file_size,
    )  # fmt: skip
    assert done.returncode == 1
    # The write that failed named no file: the message named none ("File too large: )").
    sidecar = folder / "a.summarize.json"
    assert f"failed: {folder / 'a.txt'}: cannot write outputs (File too large: {sidecar})" in (
        done.stderr
    )
    # No sidecar, so the article is not done and a rerun redoes it; no temporary file left.
    assert sorted(p.name for p in folder.iterdir()) == [
        "a.ar.txt", "a.summary.ar.txt", "a.summary.txt", "a.txt"
    ]  # fmt: skip


class OutOfMemoryBackend(EchoBackend):
    """Echo, but any batch of more than two inputs runs 'out of memory'."""

    def __init__(self) -> None:
        super().__init__("oom")
        self.tried: list[int] = []
        self.succeeded: list[int] = []

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        self.tried.append(len(texts))
        if len(texts) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.succeeded.append(len(texts))
        return super().generate(texts, options)


def test_out_of_memory_halves_the_batch_until_it_fits(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"a{i}.txt").write_text(f"Story {i} begins. It ends here.", encoding="utf-8")
    engine = OutOfMemoryBackend()
    config = load_config(None, [s for s in ECHO if s != "--set"])
    report = run(config, [str(tmp_path)], models=Models(engine, engine))
    assert report.failures == []
    assert engine.tried[0] == 6  # all six summaries in one batch first, then halves...
    assert max(engine.succeeded) == 2
    assert report.count(Status.DONE) == 6


def test_fail_fast_stops_after_the_first_failure(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-bad.txt").write_bytes(b"\x00")
    for name in ("b.txt", "c.txt"):
        (folder / name).write_bytes(GOOD)
    code, records = run_dir(folder, "--fail-fast", "--set", "runtime.wave_size=1")
    assert code == 1
    assert records["a-bad.txt"]["status"] == "failed"
    assert records["b.txt"]["status"] == "not done"
    assert records["c.txt"]["status"] == "not done"
    assert not (folder / "b.summarize.json").exists()


def test_report_has_a_line_per_article_and_totals(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_bytes(GOOD)
    (folder / "b.txt").write_bytes(b"")
    report = tmp_path / "r.jsonl"
    main(["run", str(folder), *ECHO, "-q", "--report", str(report)])
    lines = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines()]
    assert [line.get("status") for line in lines] == ["flagged", "failed", None]
    first = lines[0]
    assert first["path"] == str(folder / "a.txt")
    assert str(folder / "a.summarize.json") in first["outputs"]
    assert {"read", "summarize", "translate", "write"}.issubset(first["seconds"])
    assert lines[-1]["totals"]["failed"] == 1
    assert lines[-1]["exit_code"] == 1
