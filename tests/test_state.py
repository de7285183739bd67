"""The up-to-date check: fingerprints and why an article is stale."""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from summarize.outputs import Outputs, output_paths, write_outputs
from summarize.settings import OutputSettings
from summarize.state import fingerprint, stale_reason

OUT = OutputSettings()


def touch(path: Path, text: str = "Some news.") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


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


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "edited"])
def test_a_sidecar_recording_other_output_names_does_not_vouch_for_these(
    tmp_path: Path, sealed: bool
) -> None:
    # The configured files exist, but the sidecar says it wrote its Arabic summary elsewhere:
    # nothing says the files here are that run's, so the article is redone.
    source = touch(tmp_path / "a.txt", "Some news.")
    outputs = output_paths(source, OUT)
    names = {kind: getattr(outputs, kind).name for kind in ("summary", "summary_ar", "article_ar")}
    texts = {p: "x" for p in outputs.texts()}
    record = {"signature": "sig", "input": fingerprint(source), "outputs": names}
    write_outputs(outputs, texts, record)
    assert stale_reason(source, outputs, "sig") is None
    elsewhere = {**names, "summary_ar": "b.summary.ar.txt"}
    write_outputs(outputs, texts, {**record, "outputs": elsewhere})
    if not sealed:
        text = outputs.sidecar.read_text(encoding="utf-8")
        outputs.sidecar.write_text(text.replace('"seal"', '"x-seal"'), encoding="utf-8")
    assert stale_reason(source, outputs, "sig") == "outputs renamed"


def test_other_settings_make_outputs_stale(tmp_path: Path) -> None:
    source, outputs = done(tmp_path, signature="old")
    assert stale_reason(source, outputs, "new") == "settings changed"


def test_a_sidecar_edited_by_hand_is_checked_in_full_though_it_was_sealed(tmp_path: Path) -> None:
    # A rerun reads only the input and signature of a sidecar whose seal holds; any edit
    # breaks the seal, and a field that is not what the tool writes is then seen.
    source, outputs = done(tmp_path)
    text = outputs.sidecar.read_text(encoding="utf-8")
    assert json.loads(text)["seal"] in text.splitlines()[-2]
    outputs.sidecar.write_text(text.replace('\n  "input": {', '\n  "notes": 7,\n  "input": {'))
    assert stale_reason(source, outputs, "sig") == "sidecar malformed"


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace('"signature": "sig"', '"signature": "other"'),
        lambda t: t.replace('"sha256": "', '"sha256": "0'),
    ],
)
def test_an_edited_sidecar_whose_seal_no_longer_holds_is_not_up_to_date(
    tmp_path: Path, edit: Callable[[str], str]
) -> None:
    source, outputs = done(tmp_path)
    outputs.sidecar.write_text(edit(outputs.sidecar.read_text(encoding="utf-8")))
    assert stale_reason(source, outputs, "sig") is not None


def test_checking_an_article_does_not_allocate_the_sidecar_size_limit(tmp_path: Path) -> None:
    # Asking to read up to the 64 MiB limit allocated it, for every article of a rerun.
    source, outputs = done(tmp_path)
    tracemalloc.start()
    try:
        assert stale_reason(source, outputs, "sig") is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024
