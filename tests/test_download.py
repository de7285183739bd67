"""Prefetching models for offline machines; the hub itself is replaced by a local copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from summarize.cli import main
from summarize.config import load_config
from summarize.download import download_models
from summarize.errors import ModelError
from tests.conftest import CONFIGS


class FakeHub:
    """Serves the tiny models under hub-like ids and records what was asked for."""

    def __init__(self, models: dict[str, Path]) -> None:
        self.models = models
        self.calls: list[tuple[str, str, Path | None]] = []

    def __call__(self, repo_id: str, revision: str, local_dir: Path | None) -> Path:
        self.calls.append((repo_id, revision, local_dir))
        if repo_id not in self.models:
            raise OSError(f"404 Client Error: Repository Not Found for {repo_id}")
        assert local_dir is not None
        shutil.copytree(self.models[repo_id], local_dir)
        return local_dir


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def hub_config(*extra: str) -> list[str]:
    return ["summarizer.model=example/tiny-bart", "translator.model=example/tiny-marian", *extra]


@pytest.mark.slow
def test_download_to_a_directory_then_run_offline(
    tmp_path: Path,
    tiny_models: dict[str, Path],
    seeds_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = FakeHub(
        {"example/tiny-bart": tiny_models["summarizer"],
         "example/tiny-marian": tiny_models["translator"]}
    )  # fmt: skip
    config = load_config(CONFIGS / "tiny.toml", hub_config("translator.revision=v2"))
    with monkeypatch.context() as online:
        online.delenv("HF_HUB_OFFLINE")
        fetched = download_models(config, tmp_path / "models", fetch=hub)
    assert [c[:2] for c in hub.calls] == [
        ("example/tiny-bart", "main"),
        ("example/tiny-marian", "v2"),
    ]
    assert [f.path.name for f in fetched] == ["example--tiny-bart", "example--tiny-marian@v2"]
    settings = [s for f in fetched for s in ("--set", f.setting or "")]

    argv = ["run", str(seeds_copy), "-c", str(CONFIGS / "tiny.toml"), *settings, "-q"]
    assert main(argv) == 0
    assert (seeds_copy / "kadhimi-ambassadors.ar.txt").exists()


@pytest.mark.usefixtures("online")
def test_local_models_and_echo_need_no_download(tmp_path: Path) -> None:
    hub = FakeHub({})
    config = load_config(
        None, [f"summarizer.model={tmp_path}", "translator.backend=echo", "translator.model=echo"]
    )
    assert download_models(config, fetch=hub) == []
    assert hub.calls == []


@pytest.mark.usefixtures("online")
def test_only_the_models_in_use_are_fetched(tmp_path: Path) -> None:
    hub = FakeHub({})
    config = load_config(None, ["output.translate=[]", "summarizer.model=example/missing"])
    with pytest.raises(ModelError) as info:
        download_models(config, tmp_path, fetch=hub)
    assert [c[0] for c in hub.calls] == ["example/missing"]  # no translator wanted
    assert "summarizer.model: cannot download 'example/missing' at revision 'main'" in str(
        info.value
    )
    assert "Repository Not Found" in str(info.value)


def test_download_while_offline_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "--set", "translator.backend=echo"]) == 2
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE is set, so nothing can be downloaded" in err
    assert "unset it on a machine with network" in err


@pytest.mark.usefixtures("online")
def test_download_command_with_nothing_to_fetch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["download", "--set", f"summarizer.model={tmp_path}", "--set", "output.translate=[]"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nothing to download" in captured.err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "family", "conversions"),
    [("ctranslate2", "marian", 1), ("auto", "marian", 1), ("auto", "led", 0)],
)
def test_download_builds_the_ctranslate2_conversion_when_the_config_uses_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    family: str,
    conversions: int,
) -> None:
    """backend = "auto" (the default) converts what CTranslate2 converts, and not LED, which
    runs on transformers: the offline machine finds what it will load."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    from tests.model_builders import build_model

    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("download converts the model without loading an engine")

    monkeypatch.setattr(ctranslate2, "Translator", no_engine)
    role = "translator" if family == "marian" else "summarizer"
    hub = FakeHub({f"example/tiny-{family}": build_model(tmp_path / family, family)})
    only = ["output.summarize=false", 'output.translate=["article"]']
    if role == "summarizer":
        only = ["output.translate=[]"]
    config = load_config(
        CONFIGS / "tiny.toml",
        [f"{role}.model=example/tiny-{family}", f"{role}.backend={backend}", *only],
    )
    with monkeypatch.context() as online:
        online.delenv("HF_HUB_OFFLINE")
        download_models(config, tmp_path / "models", fetch=hub)
    converted = list((tmp_path / "cache" / "ct2").glob("*"))
    assert len(converted) == conversions
    assert all((c / "model.bin").exists() for c in converted)
