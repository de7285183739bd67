"""`summarize demo`: the whole pipeline offline, every output labelled, nothing flagged."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from summarize.cli import main
from summarize.demo import DEMO_SETTINGS
from tests.conftest import ROOT, SEEDS

OUTPUTS = (".summary.txt", ".summary.ar.txt", ".ar.txt", ".summarize.json")
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
LATIN_LETTER = re.compile(r"[A-Za-z]")

#: two more articles, one of them long enough for map-reduce under MAP_REDUCE
VALLEY = """Flood warnings issued across the valley

Heavy rain is expected in the valley for three more days, forecasters said on Sunday.
Emergency teams are ready, officials said. Schools near the river will stay closed.

Farmers moved their animals to higher ground overnight, and the army sent boats to two villages.
"""
COUNCIL = "\n\n".join(
    f"The city council met for the {n}th time this year on Monday to debate the new budget. "
    f"Member {n} said that schools, roads and libraries need more money next year. "
    "The mayor said the plan keeps taxes where they are, and the vote is due in March."
    for n in range(1, 13)
)
MAP_REDUCE = [
    *("--set", "summarizer.max_input_tokens=120", "--set", "summarizer.max_length=40"),
    *("--set", "summarizer.min_length=10"),
]


def summarize(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The tool as a newcomer runs it: a new process, offline, with an empty model cache."""
    return subprocess.run(
        [sys.executable, "-m", "summarize", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "HF_HOME": str(cwd / "hf-home"),
        },
    )


def assert_demo_outputs(article: Path) -> None:
    """All four files, labelled as demo output, the Arabic in Arabic script, nothing flagged,
    and a sidecar that names the demo engine."""
    stem = article.with_suffix("")
    for suffix in OUTPUTS:
        assert Path(f"{stem}{suffix}").is_file(), f"{stem}{suffix}"
    assert Path(f"{stem}.summary.txt").read_text("utf-8").startswith("[demo] ")
    for suffix in (".summary.ar.txt", ".ar.txt"):
        arabic = Path(f"{stem}{suffix}").read_text("utf-8")
        assert arabic.startswith("[تجريبي] "), suffix
        assert len(ARABIC_LETTER.findall(arabic)) > 10 * len(LATIN_LETTER.findall(arabic)), suffix
    sidecar = json.loads(Path(f"{stem}.summarize.json").read_text("utf-8"))
    assert sidecar["flags"] == [] and sidecar["warnings"] == [], article.name
    engines = sidecar["engines"]
    assert {engines[role]["engine"] for role in ("summarizer", "translator")} == {"demo"}
    assert all(engines[role]["family"].startswith("demo: ") for role in engines)


def assert_readme_shows(sidecar: Path) -> None:
    """The README's example sidecar is a real one, shortened: its keys, engines and checks."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Try it without models", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert match, "the README's demo section shows no sidecar"
    shown, real = json.loads(match.group(1)), json.loads(sidecar.read_text("utf-8"))
    assert set(shown) == set(real) - {"created", "settings"}
    for role, engine in shown["engines"].items():
        assert engine.items() <= real["engines"][role].items(), role
    for key in ("outputs", "map_reduce", "warnings", "notes", "flags", "tool"):
        assert shown[key] == real[key], key
    assert shown["counts"].items() <= real["counts"].items()


def test_demo_runs_the_example_articles_offline_then_a_real_run_redoes_them(
    tmp_path: Path,
) -> None:
    first = summarize(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    articles = sorted((tmp_path / "summarize-demo").glob("*.txt"))
    articles = [a for a in articles if not a.name.endswith(OUTPUTS)]
    assert [a.name for a in articles] == sorted(p.name for p in SEEDS.glob("*.txt"))
    for article in articles:
        assert_demo_outputs(article)
    assert "flagged" not in first.stderr and f"{len(articles)} article" in first.stderr
    assert "summarize review summarize-demo" in first.stderr  # the tour names the next steps
    assert_readme_shows(tmp_path / "summarize-demo" / "kadhimi-ambassadors.summarize.json")

    again = summarize(tmp_path, "demo")
    assert again.returncode == 0, again.stderr
    assert f"0 articles done, {len(articles)} up to date" in again.stderr

    # The default (real) settings see every demo output as out of date, without a model.
    real = summarize(tmp_path, "run", "summarize-demo", "--dry-run")
    assert real.returncode == 0, real.stderr
    assert real.stdout.count("settings changed") == len(articles), real.stdout
    assert f"{len(articles)} to do, 0 up to date" in real.stderr


def test_demo_of_given_articles_copies_them_and_leaves_the_originals_alone(
    tmp_path: Path,
) -> None:
    news = tmp_path / "news"
    (news / "local").mkdir(parents=True)
    (news / "valley.txt").write_text(VALLEY, "utf-8")
    (news / "local" / "council.txt").write_text(COUNCIL, "utf-8")
    shutil.copy(SEEDS / "kadhimi-ambassadors.txt", tmp_path / "seed.txt")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    done = summarize(tmp_path, "demo", "news", "seed.txt", "--to", "try", *MAP_REDUCE)
    assert done.returncode == 0, done.stderr
    assert "3 articles done" in done.stderr and "flagged" not in done.stderr
    for copy in ("try/valley.txt", "try/local/council.txt", "try/seed.txt"):
        assert_demo_outputs(tmp_path / copy)
    council = json.loads((tmp_path / "try/local/council.summarize.json").read_text("utf-8"))
    assert council["map_reduce"], "the long article went map-reduce"
    summary = (tmp_path / "try/local/council.summary.txt").read_text("utf-8")
    assert summary.count("[demo]") == 1, summary
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "try" not in p.parts)
    assert after == before, "nothing was written beside the original articles"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["news", "--to", "news"], "news/valley.txt is in it"),
        (["news", "--to", "."], "news/valley.txt is in it"),
        (["-"], "not - (standard input)"),
        (["news/valley.txt", "other/valley.txt"], "would both be copied to"),
        (["empty"], "no articles found in empty"),
    ],
)
def test_demo_refuses_what_would_put_demo_outputs_among_real_ones(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    for folder in ("news", "other", "empty"):
        (tmp_path / folder).mkdir()
    for folder in ("news", "other"):
        (tmp_path / folder / "valley.txt").write_text(VALLEY, "utf-8")
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert main(["demo", *args]) == 2
    assert message in capsys.readouterr().err
    assert sorted(tmp_path.rglob("*")) == before


def test_the_advice_for_missing_models_shows_a_run_with_nothing_flagged(tmp_path: Path) -> None:
    """Offline without the models, `run` names a way to try the tool; taken as written, that
    way runs every stage and flags nothing for being model-free (the echo engine it named
    before gave back the English, which the script and identical checks flag every time)."""
    shutil.copytree(SEEDS, tmp_path / "seeds")
    offline = summarize(tmp_path, "run", "seeds")
    assert offline.returncode == 2, offline.stderr
    advised = re.search(r"without models: `summarize (.+?)`", offline.stderr)
    assert advised, offline.stderr
    command = advised.group(1).replace("[PATH ...]", "seeds")
    tried = summarize(tmp_path, *shlex.split(command))
    assert tried.returncode == 0, tried.stderr
    assert "1 article done" in tried.stderr and "flagged" not in tried.stderr
    assert_demo_outputs(tmp_path / "summarize-demo" / "kadhimi-ambassadors.txt")


def test_download_with_the_demo_engine_fetches_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")  # so that download gets as far as the models
    demo = [item for s in DEMO_SETTINGS for item in ("--set", s)]
    assert main(["download", *demo]) == 0
    assert "nothing to download" in capsys.readouterr().err
