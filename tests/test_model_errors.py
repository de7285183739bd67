"""A model that cannot be loaded: one fast, clear error naming every model and each way out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from summarize.backends.huggingface import check_models_available, load_advice
from summarize.errors import ModelError
from tests.conftest import CONFIGS

ARTICLE = b"The vote passed on Tuesday. It was close.\n"
WAYS_OUT = (
    "summarize download --to DIR",
    "--set summarizer.model=DIR",
    "--set translator.model=DIR",
    "`summarize demo [PATH ...]`",
)


def run_without_models(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "a.txt").write_bytes(ARTICLE)
    home = tmp_path / "hf-home"  # an empty cache
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    return subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(tmp_path / "a.txt")],
        env={**base, "HF_HOME": str(home), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,  # a retrying hub client takes about 50 s: that is the defect
    )


def assert_one_clear_error(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 2
    assert done.stderr.startswith("summarize: error: 2 model(s) cannot be loaded")
    assert "sshleifer/distilbart-cnn-12-6 (revision main) is not in" in done.stderr
    assert "Helsinki-NLP/opus-mt-en-ar (revision main) is not in" in done.stderr
    for way in WAYS_OUT:
        assert way in done.stderr
    assert "Retrying" not in done.stderr and "Traceback" not in done.stderr


def test_offline_without_models_names_every_model_and_each_way_out(tmp_path: Path) -> None:
    done = run_without_models(tmp_path, {"HF_HUB_OFFLINE": "1"})
    assert_one_clear_error(done)
    assert "HF_HUB_OFFLINE is set" in done.stderr
    assert "unset HF_HUB_OFFLINE" in done.stderr


def test_unreachable_hub_fails_at_once_without_retries(tmp_path: Path) -> None:
    # HF_HUB_OFFLINE unset; a closed local port stands for a hub that cannot be reached.
    done = run_without_models(tmp_path, {"HF_ENDPOINT": "http://127.0.0.1:9"})
    assert_one_clear_error(done)
    assert "the hub cannot be reached" in done.stderr
    assert not (tmp_path / "a.summarize.json").exists()


def test_missing_local_directories_are_all_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as error:
        check_models_available(
            [
                ("summarizer", str(tmp_path / "no-summarizer"), "main"),
                ("translator", str(tmp_path / "no-translator"), "main"),
            ]
        )
    message = str(error.value)
    assert f"summarizer.model: {tmp_path / 'no-summarizer'}: no such directory" in message
    assert f"translator.model: {tmp_path / 'no-translator'}: no such directory" in message


@pytest.mark.parametrize("spelling", ["absolute", "relative", "dot", "home", "symlink"])
def test_a_local_model_directory_passes_however_it_is_spelled(
    spelling: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models" / "bart").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "models" / "bart")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    named = {
        "absolute": str(tmp_path / "models" / "bart"),
        "relative": "models/bart",  # shaped like a hub id, but a folder here
        "dot": "./models/bart",
        "home": "~/models/bart",
        "symlink": "link",
    }[spelling]
    missing = str(tmp_path / "models" / "marian")
    # Only the missing one is named: the folder that is there passes, however it is written.
    with pytest.raises(ModelError) as error:
        check_models_available([("summarizer", named, "main"), ("translator", missing, "main")])
    lines = str(error.value).splitlines()
    assert lines[0].startswith("1 model(s) cannot be loaded")
    named_lines = [line for line in lines if ".model:" in line]
    assert len(named_lines) == 1
    assert named_lines[0].startswith(f"  translator.model: {missing}: no such directory")


def test_load_advice_reads_as_sentences_and_offers_the_tools_own_ways() -> None:
    advice = load_advice("translator", "org/model", OSError("cannot find config.json\nmore"))
    assert advice.splitlines()[0] == (
        "translator.model: cannot load 'org/model': HF_HUB_OFFLINE is set, so only the local "
        "cache is searched (cannot find config.json)"
    )
    assert "summarize download --to DIR" in advice
    assert "--set translator.model=DIR" in advice
    assert "copy the cache, point" not in advice


def test_log_file_says_when_model_loading_starts_and_ends(
    tmp_path: Path, tiny_models: dict[str, Path]
) -> None:
    (tmp_path / "a.txt").write_bytes(ARTICLE)
    log = tmp_path.parent / f"{tmp_path.name}.log"
    with log.open("w") as err:
        subprocess.run(
            [sys.executable, "-m", "summarize", "run", str(tmp_path / "a.txt")]
            + ["-c", str(CONFIGS / "tiny.toml")]
            + [f"--set={role}.model={path}" for role, path in tiny_models.items()],
            stderr=err,
            check=False,
            timeout=300,
        )
    lines = log.read_text(encoding="utf-8").splitlines()
    assert "summarize: INFO: loading models" in lines
    assert any(line.startswith("summarize: INFO: models loaded in ") for line in lines), lines
    assert any(line.startswith("summarize: INFO: ") and "a.txt (" in line for line in lines)


def run_on(folder: Path, model: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``summarize run FOLDER`` with both models in ``model``, in a process of its own."""
    models = [f"--set={role}.model={model}" for role in ("summarizer", "translator")]
    return subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(folder), *models, *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def failing_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """A folder of inputs that reading alone fails, and a model folder that cannot load."""
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (folder / "large.txt").write_bytes(ARTICLE * 10)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    return folder, model


READ_FAILURES = {
    "empty.txt": "empty: the file holds no text",
    "binary.txt": "binary data (NUL byte at offset 0), not a text article",
    "large.txt": f"{len(ARTICLE) * 10} bytes is more than input.max_bytes (100)",
}


def test_a_run_whose_articles_all_fail_on_reading_loads_no_model(tmp_path: Path) -> None:
    folder, model = failing_inputs(tmp_path)
    done = run_on(folder, model, "--set=input.max_bytes=100")
    assert done.returncode == 1, done.stderr
    for name, reason in READ_FAILURES.items():
        assert f"failed: {folder / name}: {reason}" in done.stderr
    assert "loading models" not in done.stderr
    assert "0 articles done, 3 failed" in done.stderr
    # The same run with one article that reads: the model is loaded, and cannot be.
    (folder / "good.txt").write_bytes(ARTICLE)
    loaded = run_on(folder, model, "--set=input.max_bytes=100")
    assert loaded.returncode == 2
    assert f"summarizer.model: {model}: not a model folder: it has no tokenizer" in loaded.stderr


def test_a_dry_run_lists_what_fails_on_reading_with_the_reason(tmp_path: Path) -> None:
    folder, model = failing_inputs(tmp_path)
    (folder / "good.txt").write_bytes(ARTICLE)
    done = run_on(folder, model, "--set=input.max_bytes=100", "--dry-run")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[-1]: line for line in done.stdout.splitlines()}
    for name, reason in READ_FAILURES.items():
        assert rows[str(folder / name)].startswith(f"fails: {reason}")
    assert rows[str(folder / "good.txt")].startswith("new  ")
    assert "1 to do, 0 up to date, 3 failing on reading" in done.stderr


@pytest.mark.parametrize("backend", ["transformers", "auto"])
def test_a_model_folder_holding_a_fifo_is_refused_before_loading(
    tmp_path: Path, backend: str
) -> None:
    """A FIFO in a model folder was left to the engine's readers, which open the model's files
    as they are (a FIFO waits for a writer); what failed first said nothing of it."""
    (tmp_path / "a.txt").write_bytes(ARTICLE)
    model = tmp_path / "model"
    model.mkdir()
    os.mkfifo(model / "config.json")
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(tmp_path / "a.txt"),
         "--set", "summarizer.backend=echo", "--set", "summarizer.model=echo",
         "--set", f"translator.model={model}", "--set", f"translator.backend={backend}"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"translator.model: {model}/config.json: not a regular file (a FIFO" in done.stderr
    assert not (tmp_path / "a.summary.txt").exists()


def test_a_mistyped_model_directory_is_not_blamed_on_hf_hub_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for offline in ("1", ""):  # set or not, a folder is never looked for in the cache
        monkeypatch.setenv("HF_HUB_OFFLINE", offline)
        with pytest.raises(ModelError) as error:
            check_models_available([("summarizer", str(tmp_path / "modle"), "main")])
        message = str(error.value)
        assert message.splitlines()[0] == (
            "1 model(s) cannot be loaded: a model directory given does not exist:"
        )
        assert f"{tmp_path / 'modle'}: no such directory" in message
        assert "HF_HUB_OFFLINE" not in message


def test_a_folder_that_holds_no_model_is_said_to_be_none_naming_what_it_lacks(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_bytes(ARTICLE)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not a model", encoding="utf-8")
    models = [f"summarizer.model={folder}", "translator.backend=echo", "translator.model=echo"]
    settings = [item for s in ["summarizer.backend=transformers", *models] for item in ("--set", s)]
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(tmp_path / "a.txt"), *settings],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"summarizer.model: {folder}: not a model folder: it has no config.json, no " in (
        done.stderr
    )
    assert "tokenizer files" in done.stderr and "weights" in done.stderr
    assert not (tmp_path / "a.summarize.json").exists()


def test_advice_for_a_folder_with_files_missing_names_them(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    advice = load_advice("translator", str(tmp_path), OSError("Couldn't instantiate the backend"))
    assert advice == (
        f"translator.model: {tmp_path}: not a model folder: it has no tokenizer files "
        "(tokenizer.json, tokenizer_config.json or a vocabulary), no weights (*.safetensors or "
        "*.bin); point it at a folder saved with save_pretrained (or by `summarize download "
        "--to DIR`) or at a hub id"
    )


def test_a_model_the_hub_refuses_is_not_blamed_on_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from huggingface_hub.errors import RepositoryNotFoundError

    monkeypatch.delenv("HF_HUB_OFFLINE")
    refused = RepositoryNotFoundError.__new__(RepositoryNotFoundError)  # as the hub raises it
    wrapped = OSError("org/modle is not a local folder and is not a valid model identifier")
    wrapped.__cause__ = refused
    advice = load_advice("summarizer", "org/modle", wrapped)
    assert advice.splitlines()[0].startswith(
        "summarizer.model: cannot load 'org/modle': the hub has no such model"
    )
    assert "could not be reached" not in advice
