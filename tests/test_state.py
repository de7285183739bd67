"""The up-to-date check: fingerprints and why an article is stale."""

from __future__ import annotations

import os
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


def test_other_settings_make_outputs_stale(tmp_path: Path) -> None:
    source, outputs = done(tmp_path, signature="old")
    assert stale_reason(source, outputs, "new") == "settings changed"
