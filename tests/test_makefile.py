"""The README's Makefile recipe, run with real GNU make over a few articles."""

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

from summarize.config import load_config, to_toml
from tests.conftest import ECHO, ECHO_SETTINGS, ROOT, SEEDS
from tests.serving import environment, socket_folder

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")

OUTPUTS = (".summary.txt", ".summary.ar.txt", ".ar.txt", ".summarize.json")


def readme_makefile() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```make\n(.*?)```", readme, re.DOTALL)
    assert match, "the README has no ```make block"
    return match.group(1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Makefile").write_text(readme_makefile(), encoding="utf-8")
    articles = tmp_path / "articles"
    articles.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(SEEDS / "kadhimi-ambassadors.txt", articles / f"{name}.txt")
    return tmp_path


def make(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = f"{shlex.quote(sys.executable)} -m summarize"
    return subprocess.run(
        ["make", *args, f"SUMMARIZE={command}", f"SUMMARIZE_FLAGS={shlex.join(ECHO)}"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "MAKEFLAGS": ""},
    )


def mtimes(project: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (project / "articles").iterdir()}


def test_make_builds_everything_then_nothing(project: Path) -> None:
    first = make(project)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(" run ") == 3  # one summarize call per article
    for name in ("a", "b", "c"):
        assert all((project / "articles" / f"{name}{s}").exists() for s in OUTPUTS)
    second = make(project)
    assert second.returncode == 0
    assert "Nothing to be done" in second.stdout


def newer_than_outputs(article: Path) -> None:
    """Date ``article`` after its outputs, as a touch would, whatever the mtime granularity."""
    newest = max(Path(f"{article.with_suffix('')}{s}").stat().st_mtime_ns for s in OUTPUTS)
    os.utime(article, ns=(newest + 10**9, newest + 10**9))


def test_editing_one_article_rebuilds_only_that_one(project: Path) -> None:
    make(project)
    # Backdated rather than waited for: a touch must be newer whatever the mtime granularity.
    for path in (project / "articles").iterdir():
        past = path.stat().st_mtime - 60
        os.utime(path, (past, past))
    before = mtimes(project)
    article = project / "articles" / "b.txt"
    article.write_text(article.read_text(encoding="utf-8") + "\nOne more line.\n", "utf-8")
    newer_than_outputs(article)
    again = make(project)
    assert again.returncode == 0
    assert again.stdout.count(" run ") == 1
    after = mtimes(project)
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == sorted(["b.txt", *(f"b{s}" for s in OUTPUTS)])
    assert "One more line" in (project / "articles" / "b.ar.txt").read_text(encoding="utf-8")


def test_a_touched_article_is_refreshed_once_then_make_has_nothing_to_do(project: Path) -> None:
    make(project)
    article = project / "articles" / "b.txt"
    sidecar = project / "articles" / "b.summarize.json"
    translation = project / "articles" / "b.ar.txt"
    written = translation.stat().st_ino  # a redone output would be a new file renamed in place
    newer_than_outputs(article)  # a touch: same bytes, later mtime
    first = make(project)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(" run ") == 1
    assert translation.stat().st_ino == written  # not summarised again, only refreshed
    recorded = json.loads(sidecar.read_text(encoding="utf-8"))["input"]
    assert recorded["mtime_ns"] == article.stat().st_mtime_ns
    assert make(project, "-q").returncode == 0  # up to date for make
    second = make(project)
    assert second.returncode == 0
    assert "Nothing to be done" in second.stdout


def test_parallel_make_and_a_failing_article(project: Path) -> None:
    (project / "articles" / "bad.txt").write_bytes(b"\xff\xfe\x00binary")
    (project / "articles" / "worse.txt").write_bytes(b"not \xff utf-8")
    result = make(project, "-j2", "-k")
    assert result.returncode != 0
    assert "worse.txt: not valid UTF-8" in result.stderr
    for name in ("a", "b", "c"):  # the good articles are all built despite the failure
        assert (project / "articles" / f"{name}.summarize.json").exists()
    assert not (project / "articles" / "worse.summarize.json").exists()


def test_names_the_shell_would_read_as_syntax_are_built(project: Path) -> None:
    """make hands the recipe to /bin/sh: a quote, an ampersand or a backtick in an article's
    name must reach summarize as the name, not as shell syntax."""
    names = ["it's", 'a&b(c)`d`"e"', "$HOME", "ünï☃"]
    for name in names:
        shutil.copy(SEEDS / "kadhimi-ambassadors.txt", project / "articles" / f"{name}.txt")
    first = make(project, "-j4")
    assert first.returncode == 0, first.stderr
    for name in names:
        assert all((project / "articles" / f"{name}{s}").exists() for s in OUTPUTS), name
    assert make(project, "-q").returncode == 0


def readme_server_recipe() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### A warm server", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    recipe = next((b for b in blocks if " make -j8 " in b), None)
    assert recipe, "the warm server section has no make recipe"
    return recipe


def test_make_j4_through_the_readmes_server_recipe(project: Path) -> None:
    # The echo settings as a config file, as the recipe names one (a list value has spaces).
    (project / "echo.toml").write_text(to_toml(load_config(None, ECHO_SETTINGS)), "utf-8")
    recipe = readme_server_recipe().replace("configs/cpu.toml", "echo.toml").replace("-j8", "-j4")
    command = f"{shlex.quote(sys.executable)} -m summarize"
    with socket_folder() as sockets:
        done = subprocess.run(
            ["bash", "-euc", f'summarize() {{ {command} "$@"; }}\n{recipe}'],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            env={**environment(sockets), "MAKEFLAGS": "", "SUMMARIZE": command},
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.count(" run ") == 3  # one call per article, all through the server
        logs = list(sockets.glob("*.log"))
        assert len(logs) == 1
        assert logs[0].read_text(encoding="utf-8").count("serving on") == 1  # one server for all
        assert not list(sockets.glob("*.sock"))  # stopped by the recipe's last line
    for name in ("a", "b", "c"):
        assert all((project / "articles" / f"{name}{s}").exists() for s in OUTPUTS)
