"""The CTranslate2 cache: copied model directories reuse their conversion; list and prune it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from summarize.backends.ct2 import CTranslate2Backend
from summarize.backends.ct2_cache import list_conversions
from summarize.cli import main
from tests.conftest import on_cpu

pytest.importorskip("ctranslate2")

DAY = 86400


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def conversions(cache: Path) -> list[Path]:
    return sorted((cache / "ct2").iterdir())


def load(model: Path, role: str = "translator") -> CTranslate2Backend:
    return CTranslate2Backend.load(on_cpu("ctranslate2", str(model), role))


def test_a_copied_model_directory_reuses_its_conversion(
    tiny_models: dict[str, Path], cache: Path, tmp_path: Path
) -> None:
    load(tiny_models["translator"])
    (converted,) = conversions(cache)
    # As after copying `download --to DIR` to another machine: another path, new file times.
    copy = tmp_path / "elsewhere" / "translator"
    shutil.copytree(tiny_models["translator"], copy, copy_function=shutil.copy)
    later = time.time() + DAY
    for path in copy.iterdir():
        os.utime(path, (later, later))
    load(copy)
    assert conversions(cache) == [converted]


def age(path: Path, days: float) -> None:
    past = time.time() - days * DAY
    os.utime(path, (past, past))


def make_partial(cache: Path, name: str, days: float) -> Path:
    partial = cache / "ct2" / f".{name}.abc123.partial"
    (partial / "model").mkdir(parents=True)
    (partial / "model" / "model.bin").write_bytes(b"x" * 10)
    age(partial / "model" / "model.bin", days)
    age(partial / "model", days)
    age(partial, days)
    return partial


def test_cache_list_shows_size_model_and_age(
    tiny_models: dict[str, Path], cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(tiny_models["translator"])
    (converted,) = conversions(cache)
    age(converted, 3)
    partial = make_partial(cache, converted.name, 2)
    assert main(["cache", "list"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2
    assert str(tiny_models["translator"]) in lines[0]
    assert "3.0 days" in lines[0] and "int8" in lines[0] and str(converted) in lines[0]
    assert "unfinished" in lines[1] and str(partial) in lines[1] and "10 B" in lines[1]
    assert err.startswith(f"2 in {cache / 'ct2'}, ")


def test_prune_removes_unused_conversions_and_killed_ones_and_keeps_the_rest(
    tiny_models: dict[str, Path], cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(tiny_models["translator"])
    load(tiny_models["summarizer"], "summarizer")
    old, recent = conversions(cache)
    age(old, 40)
    killed = make_partial(cache, "x", 1)
    running = make_partial(cache, "y", 0)  # written to a moment ago: may still be converting
    assert main(["cache", "prune"]) == 0
    assert conversions(cache) == sorted([recent, running])
    assert not killed.exists()
    assert "2 removed" in capsys.readouterr().err


def test_a_conversion_in_use_is_not_pruned(
    tiny_models: dict[str, Path], cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(tiny_models["translator"])
    (converted,) = conversions(cache)
    age(converted, 40)
    load(tiny_models["translator"])  # a run used it today
    assert main(["cache", "prune", "--older-than", "30"]) == 0
    assert conversions(cache) == [converted]


def test_prune_all_empties_the_cache(
    tiny_models: dict[str, Path], cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(tiny_models["translator"])
    assert main(["cache", "prune", "--all"]) == 0
    assert list_conversions() == []
    assert "1 removed" in capsys.readouterr().err


@pytest.mark.parametrize("days", ["-1", "nan", "soon"])
def test_prune_refuses_a_bad_number_of_days(
    days: str, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["cache", "prune", "--older-than", days])
    assert exit_.value.code == 2
    assert "--older-than" in capsys.readouterr().err


def test_empty_cache_lists_nothing(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "list"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("0 in ")
