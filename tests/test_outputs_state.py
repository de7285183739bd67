"""Output naming and the rerun state through runs: overlapping outputs, templates, malformed
sidecars, missing engines, --set by type, touched inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarize import Models, run
from summarize.backends.echo import EchoBackend
from summarize.cli import main
from summarize.config import load_config
from summarize.errors import ConfigError, UsageError
from summarize.identity import settings_identity
from summarize.outputs import Outputs, output_paths, write_outputs
from summarize.pipeline import plan
from summarize.report import Status
from summarize.settings import Config
from summarize.state import assess, fingerprint
from tests.conftest import ECHO

ECHO_SET = [item for item in ECHO if item != "--set"]
TEXT = "The council met on Monday. It approved the new budget for the coming year.\n"


def echo_config(*overrides: str) -> Config:
    return load_config(None, [*ECHO_SET, *overrides])


def write(path: Path, text: str = TEXT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --- 8.4: two articles, one output ---------------------------------------------------------


def refusals(report_results: list[Any]) -> dict[str, str]:
    return {Path(r.name).name: r.reason for r in report_results if r.status is Status.FAILED}


def test_same_stem_txt_and_md_are_both_refused_naming_each_other(tmp_path: Path) -> None:
    story_txt, story_md = write(tmp_path / "story.txt"), write(tmp_path / "story.md")
    report = run(echo_config(), [str(tmp_path)])
    assert report.exit_code == 1
    refused = refusals(report.results)
    assert sorted(refused) == ["story.md", "story.txt"]
    assert str(story_md) in refused["story.txt"] and str(story_txt) in refused["story.md"]
    assert "{name}" in refused["story.txt"]  # the way out
    assert files(tmp_path) == ["story.md", "story.txt"]  # nothing written for either


def test_an_input_named_like_another_inputs_output_is_refused(tmp_path: Path) -> None:
    # x.summary.md's Arabic article is x.summary.ar.txt: also the Arabic summary of x.txt.
    write(tmp_path / "x.txt")
    write(tmp_path / "x.summary.md")
    report = run(echo_config(), [str(tmp_path)])
    refused = refusals(report.results)
    assert sorted(refused) == ["x.summary.md", "x.txt"]
    assert str(tmp_path / "x.summary.ar.txt") in refused["x.txt"]
    assert str(tmp_path / "x.summary.md") in refused["x.txt"]
    assert files(tmp_path) == ["x.summary.md", "x.txt"]


def test_two_roots_into_one_output_directory_are_refused(tmp_path: Path) -> None:
    a, b = write(tmp_path / "a" / "x.txt"), write(tmp_path / "b" / "x.txt")
    write(tmp_path / "b" / "y.txt")
    out = tmp_path / "out"
    code = main(["run", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out), *ECHO, "-q"])
    assert code == 1
    assert files(out) == [f"y{s}" for s in (".ar.txt", ".summarize.json", ".summary.ar.txt",
                                            ".summary.txt")]  # fmt: skip
    report = run(echo_config(), [str(tmp_path / "a"), str(tmp_path / "b")], output_dir=out)
    hint = "; rename one, or write them to different output directories"
    assert [r.reason for r in report.failures] == [
        f"{a}: refused: its output {out / 'x.summary.txt'} is also an output of {b}{hint}",
        f"{b}: refused: its output {out / 'x.summary.txt'} is also an output of {a}{hint}",
    ]


@pytest.mark.parametrize("ignores_case", [False, True])
def test_names_differing_in_case_collide_only_where_the_output_folder_ignores_case(
    tmp_path: Path, ignores_case: bool
) -> None:
    write(tmp_path / "a" / "Story.txt")
    write(tmp_path / "b" / "story.txt")
    out = tmp_path / "out"
    write(out / "Probe", "")
    if ignores_case:  # what a case-insensitive file system shows: one file under both names
        (out / "pROBE").symlink_to("Probe")
    report = run(echo_config(), [str(tmp_path / "a"), str(tmp_path / "b")], output_dir=out)
    if ignores_case:
        assert len(report.failures) == 2
        assert f"{out / 'Story.summary.txt'} is also an output of" in report.failures[0].reason
    else:
        assert report.count(Status.DONE) == 2


def test_dry_run_lists_refused_articles_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "story.txt")
    write(tmp_path / "story.md")
    write(tmp_path / "other.txt")
    assert main(["run", str(tmp_path), "--dry-run", *ECHO]) == 1
    out, err = capsys.readouterr()
    assert f"refused  {tmp_path / 'story.md'}" in out
    assert f"new      {tmp_path / 'other.txt'}" in out
    assert f"failed: {tmp_path / 'story.txt'}: refused: its output" in err
    assert "1 to do, 0 up to date, 2 refused" in err


def test_an_output_that_would_overwrite_an_input_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "x.txt")
    # An input that is a link to what x.txt's summary would replace.
    (tmp_path / "note.txt").symlink_to(write(tmp_path / "x.summary.txt", "An earlier text."))
    report = run(echo_config(), [str(tmp_path)])
    refused = refusals(report.results)
    assert list(refused) == ["x.txt"]
    assert f"would overwrite {tmp_path / 'note.txt'}'s input" in refused["x.txt"]
    assert (tmp_path / "x.summary.txt").read_text(encoding="utf-8") == "An earlier text."


def test_an_output_that_would_overwrite_another_articles_reference_is_refused(
    tmp_path: Path,
) -> None:
    write(tmp_path / "x.txt")
    write(tmp_path / "x.ref.md")  # its summary would be x.ref.summary.txt: x.txt's reference
    write(tmp_path / "x.ref.summary.txt", "A summary written by a person.")
    report = run(echo_config(), [str(tmp_path)])
    assert [r.reason for r in report.failures] == [
        f"{tmp_path / 'x.ref.md'}: refused: its output {tmp_path / 'x.ref.summary.txt'} would "
        f"overwrite {tmp_path / 'x.txt'}'s reference for summarize eval"
    ]
    assert report.count(Status.DONE) == 1
    reference = tmp_path / "x.ref.summary.txt"
    assert reference.read_text(encoding="utf-8") == "A summary written by a person."


NAME_TEMPLATES = [
    "output.summary={name}.summary.txt",
    "output.summary_ar={name}.summary.ar.txt",
    "output.article_ar={name}.ar.txt",
    "output.sidecar={name}.summarize.json",
]


def test_the_name_field_keeps_the_extension_so_same_stems_both_run(tmp_path: Path) -> None:
    write(tmp_path / "story.txt", TEXT)
    write(tmp_path / "story.md", "Rain fell all week in the north. Rivers rose.\n")
    config = echo_config(*NAME_TEMPLATES)
    report = run(config, [str(tmp_path)])
    assert report.exit_code == 0 and report.count(Status.DONE) == 2
    summary = tmp_path / "story.md.summary.txt"
    assert summary.read_text(encoding="utf-8").startswith("Rain fell")
    assert (tmp_path / "story.txt.summary.txt").read_text(encoding="utf-8").startswith("The")
    rerun = run(config, [str(tmp_path)])  # the outputs are not taken for inputs
    assert [r.reason for r in rerun.results] == ["up to date", "up to date"]


@pytest.mark.parametrize(
    "template",
    [
        "{{stem}}.summary.txt",  # a literal {stem}: every article the same file
        "summary.txt",
        "{stem!r}.summary.txt",
        "{stem:.3}.summary.txt",  # cuts names: "story" and "storm" the same
        "{stem[0]}.summary.txt",
        "{}.summary.txt",
        "{0}.summary.txt",
        "{stem}.{ext}.txt",
        "{stem.upper}.txt",
        "{stem.summary.txt",
        ".{stem}.summary.txt",  # hidden: the lock and temporary files' names
        "\udcff{stem}.summary.txt",  # --set with a byte that is not UTF-8: no sidecar holds it
        "{stem}\x00.summary.txt",  # from TOML's \u0000: no file name holds it
    ],
)
def test_a_template_without_exactly_the_name_field_is_a_config_error(
    template: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "a.txt")
    assert main(["run", str(tmp_path), *ECHO, "--set", f"output.summary={template}"]) == 2
    err = capsys.readouterr().err
    assert "output.summary" in err and "Traceback" not in err
    assert files(tmp_path) == ["a.txt"]


@pytest.mark.parametrize(
    ("override", "glob"),
    [
        ("output.summary={stem}.txt", "*.txt"),
        ("output.article_ar={stem}.md", "*.md"),
        ("output.sidecar={name}", "*.txt"),
        ("eval.summary_reference={stem}.txt", "*.txt"),
    ],
)
def test_a_template_that_names_every_input_as_an_output_is_a_config_error(
    override: str, glob: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "a.txt")
    assert main(["run", str(tmp_path), *ECHO, "--set", override]) == 2
    err = capsys.readouterr().err
    assert override.split("=")[0] in err and f"input.globs {glob!r}" in err
    assert files(tmp_path) == ["a.txt"]


def test_references_may_use_the_name_field(tmp_path: Path) -> None:
    from summarize.evaluation import _reference_paths

    config = load_config(None, ["eval.summary_reference={name}.ref.txt"])
    assert _reference_paths(config, tmp_path / "x.md")["summary"] == tmp_path / "x.md.ref.txt"


# --- 8.7: malformed sidecars ------------------------------------------------------------------


def done(tmp_path: Path) -> tuple[Path, Outputs]:
    source = write(tmp_path / "a.txt")
    outputs = output_paths(source, load_config().output)
    write_outputs(outputs, {p: "x" for p in outputs.texts()},
                  {"signature": "sig", "input": fingerprint(source)})  # fmt: skip
    return source, outputs


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
fields = st.sampled_from(["signature", "input", "size", "mtime_ns", "sha256"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values, field=fields, use_field=st.booleans())
def test_any_json_in_the_sidecar_means_out_of_date_never_a_crash(
    tmp_path: Path, value: Any, field: str, use_field: bool
) -> None:
    source, outputs = done(tmp_path)
    good = json.loads(outputs.sidecar.read_text(encoding="utf-8"))
    sha256 = good["input"]["sha256"]
    if use_field:  # one field of a real sidecar replaced by anything
        if field in good:
            good[field] = value
        else:
            good["input"][field] = value
        value = good
    outputs.sidecar.write_text(json.dumps(value), encoding="utf-8")
    state = assess(source, outputs, "sig")
    if state.reason is None:  # only a sidecar that still holds the real record may pass
        assert value["signature"] == "sig" and value["input"]["sha256"] == sha256


@pytest.mark.parametrize(
    "content",
    [
        b'{"signature": "sig", "input": null}',
        b'{"signature": "sig", "input": []}',
        b'{"signature": "sig", "input": {"size": "12", "mtime_ns": 1, "sha256": "x"}}',
        b'{"signature": "sig", "input": {"size": true, "mtime_ns": 1, "sha256": "x"}}',
        b'{"signature": null}',
        b"[]",
        b"\xff\xfe not utf-8",
        b"[" * 100_000,
    ],
)
def test_a_malformed_sidecar_redoes_the_article(tmp_path: Path, content: bytes) -> None:
    source, outputs = done(tmp_path)
    sig = json.dumps(settings_identity(echo_config()).outputs)[1:-1].encode()
    outputs.sidecar.write_bytes(content.replace(b'"sig"', b'"' + sig + b'"'))
    report = run(echo_config(), [str(source)])
    assert [r.status for r in report.results] == [Status.DONE]
    assert report.results[0].reason in {"sidecar malformed", "sidecar unreadable"}
    assert json.loads(outputs.sidecar.read_text(encoding="utf-8"))["input"]["size"] > 0


def test_a_directory_in_place_of_the_sidecar_fails_that_article_alone(tmp_path: Path) -> None:
    write(tmp_path / "a.txt")
    write(tmp_path / "b.txt")
    (tmp_path / "a.summarize.json").mkdir()
    (tmp_path / "a.summarize.json" / "keep").write_text("x", encoding="utf-8")
    report = run(echo_config(), [str(tmp_path)])
    assert [(Path(r.name).name, r.status) for r in report.results] == [
        ("a.txt", Status.FAILED), ("b.txt", Status.DONE),
    ]  # fmt: skip
    assert str(tmp_path / "a.summarize.json") in report.results[0].reason


def test_an_empty_directory_in_place_of_the_sidecar_is_redone_not_an_error(tmp_path: Path) -> None:
    """The README: a sidecar that is a directory means the article is redone, never an error;
    an empty one holds nothing to lose (one with files fails, as above)."""
    write(tmp_path / "a.txt")
    (tmp_path / "a.summarize.json").mkdir()
    report = run(echo_config(), [str(tmp_path)])
    assert [r.status for r in report.results] == [Status.DONE]
    assert json.loads((tmp_path / "a.summarize.json").read_text(encoding="utf-8"))["input"]


def test_an_output_that_is_a_directory_is_not_up_to_date(tmp_path: Path) -> None:
    source, outputs = done(tmp_path)
    assert outputs.article_ar is not None
    outputs.article_ar.unlink()
    outputs.article_ar.mkdir()
    assert assess(source, outputs, "sig").reason == "outputs missing"


# --- 8.8: engines the configuration needs ------------------------------------------------------


@pytest.mark.parametrize(
    ("models", "missing"),
    [
        (Models(None, None), "summarizer"),
        (Models(EchoBackend("echo"), None), "translator"),
        (Models(None, EchoBackend("echo")), "summarizer"),
    ],
)
def test_run_without_an_engine_the_config_needs_is_a_usage_error(
    tmp_path: Path, models: Models, missing: str
) -> None:
    write(tmp_path / "a.txt")
    with pytest.raises(UsageError, match=f"models.{missing} is None"):
        run(echo_config(), [str(tmp_path)], models=models)
    assert files(tmp_path) == ["a.txt"]


def test_engines_the_config_does_not_need_may_be_left_out_and_are_not_used(
    tmp_path: Path,
) -> None:
    write(tmp_path / "a.txt")
    config = echo_config("output.summarize=false", 'output.translate=["article"]')
    report = run(config, [str(tmp_path)], models=Models(EchoBackend("unused"), EchoBackend("e")))
    assert report.count(Status.DONE) == 1
    sidecar = json.loads((tmp_path / "a.summarize.json").read_text(encoding="utf-8"))
    assert list(sidecar["engines"]) == ["translator"]


# --- 8.9: --set by the key's type ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "key", "value"),
    [
        ("summarizer.revision=1.0", "summarizer.revision", "1.0"),
        ("summarizer.revision=20240101", "summarizer.revision", "20240101"),
        ("translator.source_prefix=true", "translator.source_prefix", "true"),
        ("translator.source_prefix=", "translator.source_prefix", ""),
        ('translator.source_prefix=""', "translator.source_prefix", ""),
        ("translator.source_prefix= >>fra<< ", "translator.source_prefix", ">>fra<<"),
        ("summarizer.model=[x]", "summarizer.model", "[x]"),
        ("runtime.device=cpu", "runtime.device", "cpu"),
        ("runtime.wave_size=4", "runtime.wave_size", 4),
        ("translator.length_penalty=1", "translator.length_penalty", 1),
        ("input.cleanup=false", "input.cleanup", False),
        ('input.globs=["*.text"]', "input.globs", ["*.text"]),
    ],
)
def test_set_values_are_read_by_the_type_of_their_key(
    override: str, key: str, value: object
) -> None:
    section, name = key.split(".")
    assert getattr(getattr(load_config(None, [override]), section), name) == value


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("runtime.wave_size=many", "runtime.wave_size must be an integer, got 'many'"),
        ("runtime.wave_size=1.0", "runtime.wave_size must be an integer"),
        ("summarizer.revison=1.0", "valid keys in [summarizer]: model, revision"),
        ("sumarizer.revision=1.0", "valid sections: summarizer"),
    ],
)
def test_set_values_of_the_wrong_type_or_unknown_keys_still_fail(
    override: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        load_config(None, [override])
    assert message in str(info.value)


# --- 8.10: touched inputs ----------------------------------------------------------------------


def test_a_touched_input_is_refreshed_once_and_then_plainly_up_to_date(tmp_path: Path) -> None:
    source = write(tmp_path / "a.txt")
    config = echo_config()
    run(config, [str(source)])
    outputs = output_paths(source, config.output)
    newest = max(p.stat().st_mtime_ns for p in (*outputs.texts(), outputs.sidecar))
    later = newest + 5 * 10**9
    os.utime(source, ns=(later, later))
    assert [p.label for p in plan(config, [str(source)])] == ["up to date (input touched)"]
    inode = outputs.summary.stat().st_ino if outputs.summary else 0

    report = run(config, [str(source)])
    assert [(r.status, r.reason) for r in report.results] == [
        (Status.SKIPPED, "up to date (input touched, record refreshed)")
    ]
    assert report.summary_line() == "0 articles done, 1 up to date"
    assert outputs.summary is not None and outputs.summary.stat().st_ino == inode  # not redone
    for path in (*outputs.texts(), outputs.sidecar):
        assert path.stat().st_mtime_ns >= later  # make: never older than the input
    sidecar = outputs.sidecar.stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= sidecar for p in outputs.texts())  # sidecar last
    recorded = json.loads(outputs.sidecar.read_text(encoding="utf-8"))["input"]
    assert (recorded["size"], recorded["mtime_ns"]) == (source.stat().st_size, later)
    assert not list(tmp_path.glob(".*"))  # no claim or temporary file left

    again = run(config, [str(source)])
    assert [r.reason for r in again.results] == ["up to date"]


def test_an_input_dated_in_the_future_is_refreshed_to_its_date_once(tmp_path: Path) -> None:
    source = write(tmp_path / "a.txt")
    config = echo_config()
    future = (os.stat(source).st_mtime_ns // 10**9 + 86_400) * 10**9
    os.utime(source, ns=(future, future))
    run(config, [str(source)])  # written now: older than their input
    report = run(config, [str(source)])
    assert [r.reason for r in report.results] == ["up to date (input touched, record refreshed)"]
    outputs = output_paths(source, config.output)
    assert all(p.stat().st_mtime_ns >= future for p in (*outputs.texts(), outputs.sidecar))
    assert [r.reason for r in run(config, [str(source)]).results] == ["up to date"]


def test_a_touched_and_changed_input_is_redone_not_refreshed(tmp_path: Path) -> None:
    source = write(tmp_path / "a.txt")
    config = echo_config()
    run(config, [str(source)])
    write(source, TEXT.replace("Monday", "Friday"))  # same size
    report = run(config, [str(source)])
    assert [(r.status, r.reason) for r in report.results] == [(Status.DONE, "input changed")]
    assert "Friday" in (tmp_path / "a.summary.txt").read_text(encoding="utf-8")


def test_a_setting_holding_bytes_that_are_not_utf8_is_recorded_and_refreshed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A model folder named in another encoding: the sidecar holds the byte as \udcXX.
    source = write(tmp_path / "a.txt")
    model = ["--set", "summarizer.model=" + os.fsdecode(b"/models/caf\xe9")]
    assert main(["run", str(source), *ECHO, *model]) == 0
    sidecar = tmp_path / "a.summarize.json"
    assert "caf\\udce9" in sidecar.read_text(encoding="utf-8")
    later = sidecar.stat().st_mtime_ns + 5 * 10**9
    os.utime(source, ns=(later, later))
    report = tmp_path / "run.jsonl"
    assert main(["run", str(source), *ECHO, *model, "--report", str(report)]) == 0
    line = json.loads(report.read_text(encoding="utf-8").splitlines()[0])
    assert line["reason"] == "up to date (input touched, record refreshed)"
    capsys.readouterr()
    assert main(["run", str(source), *ECHO, *model]) == 0
    assert "0 articles done, 1 up to date" in capsys.readouterr().err


def test_dry_run_reports_a_touched_input_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path / "a.txt")
    run(echo_config(), [str(source)])
    sidecar = tmp_path / "a.summarize.json"
    before = sidecar.read_bytes(), sidecar.stat().st_mtime_ns
    later = before[1] + 5 * 10**9
    os.utime(source, ns=(later, later))
    assert main(["run", str(source), "--dry-run", *ECHO]) == 0
    assert "up to date (input touched)" in capsys.readouterr().out
    assert (sidecar.read_bytes(), sidecar.stat().st_mtime_ns) == before
