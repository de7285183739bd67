"""The Ray runner: the local runner's outputs and report, its claims respected, Ray optional."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from summarize.claims import Claim, claim
from summarize.cli import main
from summarize.config import load_config
from summarize.errors import ConfigError, ModelError, UsageError
from summarize.identity import settings_identity
from summarize.outputs import Outputs
from summarize.pipeline import plan, run
from summarize.report import Report, Status
from summarize.settings import Config
from tests.conftest import CONFIGS, ECHO, ROOT, SEEDS
from tests.test_overnight import ARTICLES, engine, leftovers, make_articles, sidecars, wait_for
from tests.test_signals import check_report

#: two actors per model on the test's 2 CPUs, with room left to read and write
TWO_ACTORS = ["ray.actors=2", "ray.cpus_per_actor=0.25"]
#: a Ray test that takes longer has hung (a pool reserving every CPU deadlocks silently)
RAY_TEST_SECONDS = 180


def _echo(*extra: str) -> Config:
    settings = [s for s in ECHO if s != "--set"]
    return load_config(None, [*settings, "runtime.wave_size=3", *extra])


def _tree(root: Path) -> Path:
    """A tree of articles: the seeds, a subfolder, a long article and one that cannot be read."""
    shutil.copytree(SEEDS, root)
    (root / "more").mkdir()
    for i in range(5):
        body = " ".join(
            f"Sentence {j} of article {i} says the talks went on." for j in range(4 + i)
        )
        (root / "more" / f"article{i}.txt").write_text(f"Title {i}\n\n{body}\n", encoding="utf-8")
    long = " ".join(f"The council met for the {j}th time and agreed." for j in range(24))
    (root / "more" / "long.txt").write_text(long + "\n\n" + long + "\n", encoding="utf-8")
    (root / "more" / "huge.txt").write_text("x" * 20000, encoding="utf-8")  # over max_bytes below
    return root


def _outputs(root: Path) -> dict[str, bytes]:
    """Every file the run wrote, by path below ``root``; sidecars without their run-time parts
    (when, how long each step took, the input's mtime, the seal) and the tree's own place left
    out."""
    found = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name.endswith(".summarize.json"):
            sidecar = json.loads(data)
            del sidecar["created"], sidecar["seconds"], sidecar["input"]["mtime_ns"]
            del sidecar["seal"]  # a checksum of the whole, run-time parts included
            data = json.dumps(sidecar, sort_keys=True).replace(str(root), "ROOT").encode()
        found[path.relative_to(root).as_posix()] = data
    return found


def _results(report: Report) -> list[tuple[str, Status]]:
    return [(Path(r.name).name, r.status) for r in report.results]


def _claims(root: Path) -> list[Path]:
    """Every claim file under ``root``, found by the name the code gives a claim: a claim
    renamed cannot make a check that none is left pass unseen."""
    before, after = Outputs(None, None, None, sidecar=Path("SIDECAR")).claim.name.split("SIDECAR")
    return sorted(root.rglob(f"{glob.escape(before)}*{glob.escape(after)}"))


def _untouched(root: Path) -> bool:
    """Whether a run left ``root`` as it was: no output written, no claim left."""
    return not list(root.rglob("*.summary.txt")) and _claims(root) == []


def _ray_env() -> dict[str, str]:
    """A command line's environment: this tree's code, a local Ray at normal priority."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_worker_niceness": "0"}
    env.pop("RAY_ADDRESS", None)
    return env


@pytest.fixture(scope="module")
def local_ray() -> Iterator[object]:
    """A local Ray for this module: 2 CPUs, no dashboard, a short temp dir (socket paths must
    stay under 107 bytes), workers at normal priority, shut down at the end."""
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]'")
    # Ray's workers run at nice 15 unless told (its own lower-case name): they starve when busy.
    env = {"RAY_worker_niceness": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    before = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=temp,
        object_store_memory=256 * 2**20,
        log_to_driver=False,
        logging_level="ERROR",
    )
    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail a test that hangs instead of stalling the suite."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"a Ray test ran over {RAY_TEST_SECONDS} s: a deadlock?")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(RAY_TEST_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _both(
    config: Config, tmp_path: Path, *, again: bool = True
) -> tuple[Path, Report, Path, Report]:
    """The same tree done by each runner; ``again``, twice (the second run finds everything up
    to date, whichever runner wrote it)."""
    local, remote = _tree(tmp_path / "local"), _tree(tmp_path / "ray")
    local_report = run(config, [str(local)])
    ray_report = run(config, [str(remote)], runner="ray")
    assert _results(ray_report) == _results(local_report)
    assert ray_report.counts() == local_report.counts()
    if not again:
        return local, local_report, remote, ray_report
    again_local = run(config, [str(local)])
    again_ray = run(config, [str(remote)], runner="ray")
    assert _results(again_ray) == _results(again_local)
    assert again_ray.counts() == again_local.counts()
    assert again_ray.count(Status.DONE) == 0  # all up to date, whichever runner wrote them
    return local, local_report, remote, ray_report


@pytest.mark.usefixtures("deadline")
def test_echo_runs_write_the_same_files_and_report_the_same(
    local_ray: object, tmp_path: Path
) -> None:
    config = _echo("input.max_bytes=10000")
    local, local_report, remote, ray_report = _both(config, tmp_path)
    assert _outputs(remote) == _outputs(local)
    assert ray_report.count(Status.FAILED) == 1  # huge.txt, in both, for the same reason
    assert [r.reason for r in ray_report.failures] == [
        r.reason.replace(str(local), str(remote)) for r in local_report.failures
    ]
    written = [p for p in _outputs(remote) if p.endswith(".summary.ar.txt")]
    assert len(written) == len(ray_report.results) - 1


@pytest.mark.slow
@pytest.mark.usefixtures("deadline")
def test_tiny_models_give_the_same_texts_on_ray(
    local_ray: object, tmp_path: Path, tiny_models: dict[str, Path]
) -> None:
    models = [f"{role}.model={path}" for role, path in tiny_models.items()]
    config = load_config(CONFIGS / "tiny.toml", [*models, "input.max_bytes=10000", *TWO_ACTORS])
    local, _, remote, ray_report = _both(config, tmp_path, again=False)
    outputs = _outputs(remote)
    assert outputs == _outputs(local)
    sidecar = json.loads(outputs["more/long.summarize.json"])
    assert sidecar["map_reduce"] is True  # long enough to be summarised in chunks
    assert set(sidecar["engines"]) == {"summarizer", "translator"}
    assert ray_report.count(Status.DONE) + ray_report.count(Status.FLAGGED) > 1


@pytest.mark.usefixtures("deadline")
def test_an_article_claimed_by_another_run_is_left_to_it(local_ray: object, tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    config = _echo()
    target = root / "more" / "article2.txt"
    (outputs,) = [p.outputs for p in plan(config, [str(root)]) if p.job.path == target]
    assert outputs is not None
    lock = outputs.claim
    lock.parent.mkdir(parents=True, exist_ok=True)
    other = claim(lock, stale_after=3600)
    assert isinstance(other, Claim)
    try:
        assert _claims(root) == [lock]  # the check below sees a claim that is there
        report = run(config, [str(root)], runner="ray")
    finally:
        other.release()
    held = [r for r in report.results if r.status is Status.HELD]
    assert [Path(r.name).name for r in held] == ["article2.txt"]
    assert not list(root.glob("more/article2.summary*"))
    assert len(list(root.glob("more/article1.summary*"))) == 2
    assert _claims(root) == []  # every claim of the Ray run released


@pytest.mark.usefixtures("deadline")
def test_fail_fast_stops_at_the_first_failure_and_reports_every_article_once(
    local_ray: object, tmp_path: Path
) -> None:
    root = _tree(tmp_path / "tree")
    report = run(_echo("input.max_bytes=10000"), [str(root)], runner="ray", fail_fast=True)
    names = [r.name for r in report.results]
    assert len(names) == len(set(names)) == len(plan(_echo(), [str(root)]))
    assert [Path(r.name).name for r in report.failures] == ["huge.txt"]
    assert report.count(Status.NOT_DONE) > 0
    assert report.exit_code != 0
    assert _claims(root) == []


@pytest.mark.usefixtures("deadline")
def test_a_model_its_actors_cannot_load_is_a_model_error_before_any_claim(
    local_ray: object, tmp_path: Path
) -> None:
    root = _tree(tmp_path / "tree")
    broken = tmp_path / "broken-model"  # passes the check for a local model, fails to load
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bart"}', encoding="utf-8")
    config = _echo("summarizer.backend=transformers", f"summarizer.model={broken}")
    with pytest.raises(ModelError, match=r"^summarizer\.model: .*not a model folder"):
        run(config, [str(root)], runner="ray")
    assert _untouched(root)


def test_the_command_line_starts_a_local_ray_for_the_run(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]'")
    root = _tree(tmp_path / "tree")
    report = tmp_path / "report.jsonl"
    argv = ["run", str(root), *ECHO, "--runner", "ray", "--report", str(report)]
    done = subprocess.run(
        [sys.executable, "-m", "summarize", *argv, "--set", "input.max_bytes=10000"],
        env=_ray_env(),
        capture_output=True,
        text=True,
        timeout=RAY_TEST_SECONDS,
    )
    assert done.returncode == 1, done.stderr  # huge.txt failed; the rest done
    lines = done.stderr.splitlines()
    assert (
        lines[0] == "summarize: INFO: starting a local Ray (--ray-address joins a cluster instead)"
    )
    # Only the tool's lines: Ray's own warnings ("Failed to determine local IP", ...) go to -v.
    ours = ("summarize: ", "failed: ", "7 articles done")
    assert all(line.startswith(ours) for line in lines), done.stderr
    totals = json.loads(report.read_text(encoding="utf-8").splitlines()[-1])
    assert totals["totals"]["failed"] == 1
    assert len(list(root.rglob("*.summary.ar.txt"))) == 7
    assert _claims(root) == []


@pytest.mark.usefixtures("deadline")
def test_pools_that_leave_no_cpu_to_read_and_write_are_refused(
    local_ray: object, tmp_path: Path
) -> None:
    root = _tree(tmp_path / "tree")
    with pytest.raises(UsageError, match=r"reserve 2 of the cluster's 2 CPUs"):
        run(_echo("ray.actors=2"), [str(root)], runner="ray")
    assert _untouched(root)


def test_without_ray_the_runner_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    root = _tree(tmp_path / "tree")
    with pytest.raises(UsageError, match=r"pip install 'summarize\[ray\]'"):
        run(_echo(), [str(root)], runner="ray")
    assert main(["run", str(root), *ECHO, "--runner", "ray", "-q"]) == 2
    assert "pip install 'summarize[ray]'" in capsys.readouterr().err
    assert not list(root.rglob("*.summary.txt"))


def test_the_local_runner_never_imports_ray(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    (root / "more" / "huge.txt").unlink()  # no prose: it would fail, and so would the exit code
    code = (
        "import sys; from summarize.cli import main; "
        f"code = main(['run', {str(root)!r}, *{ECHO!r}, '-q']); "
        "assert 'ray' not in sys.modules, 'ray imported'; sys.exit(code)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert list(root.rglob("*.summary.txt"))


def test_ray_settings_are_checked_and_change_no_signature() -> None:
    with pytest.raises(ConfigError, match=r"ray\.actors"):
        _echo("ray.actors=0")
    with pytest.raises(ConfigError, match=r"ray\.cpus_per_actor"):
        _echo("ray.cpus_per_actor=0")
    tuned = _echo("ray.actors=4", "ray.gpus_per_actor=0.5", "ray.cpus_per_actor=2")
    assert tuned.ray.gpus_per_actor == 0.5
    assert settings_identity(tuned).outputs == settings_identity(_echo()).outputs


#: open files a command line may hold: enough for Ray and a few batches, not a claim per article
FEW_FILES = 128
MANY_ARTICLES = 100


def _with_open_files(files: int) -> list[str]:
    """``python -m summarize`` with at most ``files`` open files, Ray's processes included (as
    ``ulimit -n`` sets it: the hard limit too, or Ray's start raises the soft one to it)."""
    code = (
        "import resource, runpy; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({files}, {files})); "
        "runpy.run_module('summarize', run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", code]


def test_a_run_holds_claims_for_the_articles_in_flight_not_for_all(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]'")
    root, report = tmp_path / "many", tmp_path / "report.jsonl"
    root.mkdir()
    for i in range(MANY_ARTICLES):
        body = " ".join(f"Sentence {j} of story {i} says the talks went on." for j in range(3))
        (root / f"story{i:03}.txt").write_text(body + "\n", encoding="utf-8")
    argv = ["run", str(root), *ECHO, "--runner", "ray", "--report", str(report)]
    done = subprocess.run(
        [*_with_open_files(FEW_FILES), *argv, "--set", "runtime.wave_size=4"],
        env=_ray_env(),
        capture_output=True,
        text=True,
        timeout=RAY_TEST_SECONDS,
    )
    assert done.returncode == 0, done.stderr
    totals = json.loads(report.read_text(encoding="utf-8").splitlines()[-1])["totals"]
    assert totals["articles"] == totals["done"] == MANY_ARTICLES
    assert len(list(root.glob("*.summarize.json"))) == MANY_ARTICLES
    assert _claims(root) == []


def _start_slow(folder: Path, report: Path, *options: str) -> subprocess.Popen[str]:
    """A Ray run over ``folder`` whose engines take 0.3 s a call, one article a batch."""
    command = [sys.executable, "-m", "summarize", "run", str(folder), "-q", *engine(0.3)]
    return subprocess.Popen(
        [*command, "--runner", "ray", *options, "--report", str(report)],
        env=_ray_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stopped(
    process: subprocess.Popen[str], folder: Path, report: Path, *signals: int
) -> dict[str, int]:
    """The totals of a run stopped by one of ``signals``: its exit code, a complete report,
    nothing left behind, and neither a traceback nor Ray's stack dump on stderr."""
    _, err = process.communicate(timeout=RAY_TEST_SECONDS)
    assert process.returncode in {128 + signum for signum in signals}, err
    assert "Traceback" not in err and "SIGTERM received" not in err, err
    assert f"interrupted by signal {process.returncode - 128}" in err, err
    assert leftovers(folder) == []  # no claim, no temporary file
    assert _claims(folder) == []
    return check_report(report, process.returncode)


@pytest.mark.slow
@pytest.mark.parametrize(
    "first,second",
    [
        (signal.SIGTERM, None),
        (signal.SIGINT, signal.SIGTERM),  # more signals all through the cleanup
    ],
)
def test_a_signal_stops_a_ray_run_between_steps(
    tmp_path: Path, first: signal.Signals, second: signal.Signals | None
) -> None:
    pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]'")
    folder, report = tmp_path / "news", tmp_path / "report.jsonl"
    make_articles(folder)
    process = _start_slow(folder, report)
    wait_for(lambda: len(sidecars(folder)) >= 1, timeout=RAY_TEST_SECONDS)
    process.send_signal(first)
    while second is not None and process.poll() is None:
        process.send_signal(second)
        time.sleep(0.002)
    # Both pending at once, either may act first.
    totals = _stopped(process, folder, report, first, second or first)
    assert totals["not done"] >= 1
    assert totals["done"] == len(sidecars(folder)) >= 1


def _children(pid: int) -> list[str]:
    """The names of the processes ``pid`` started (from /proc)."""
    names = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text(encoding="utf-8", errors="replace")
            name, fields = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1]
            if int(fields.split()[1]) == pid:
                names.append(name)
    return names


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_signal_while_ray_starts_reports_every_article_not_done(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]'")
    folder, report = tmp_path / "news", tmp_path / "report.jsonl"
    make_articles(folder)
    process = _start_slow(folder, report, "--set", "summarizer.model=echo:load_delay=60")
    wait_for(lambda: "gcs_server" in _children(process.pid), timeout=RAY_TEST_SECONDS)
    process.send_signal(signal.SIGTERM)  # Ray is starting (then its actors load the models)
    assert _stopped(process, folder, report, signal.SIGTERM)["not done"] == ARTICLES
