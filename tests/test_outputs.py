"""Output kinds and names, atomic writes, and writing an article's outputs."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from summarize.config import load_config
from summarize.outputs import KINDS, TRANSLATIONS, Outputs, output_paths, write_atomic
from summarize.settings import TRANSLATABLE, EvalSettings, OutputSettings
from tests.test_state import done

OUT = OutputSettings()


def test_the_kinds_table_names_every_output_template_and_reference() -> None:
    text_fields = [f.name for f in dataclasses.fields(Outputs) if f.name != "sidecar"]
    assert [kind.key for kind in KINDS] == text_fields
    assert all(isinstance(kind.template(OUT), str) for kind in KINDS)
    assert all(isinstance(kind.reference(EvalSettings()), str) for kind in KINDS)
    assert [kind.translation_of for kind in TRANSLATIONS] == list(TRANSLATABLE)


def test_output_names_follow_the_templates(tmp_path: Path) -> None:
    outputs = output_paths(tmp_path / "story.v2.txt", OUT)
    assert outputs.summary == tmp_path / "story.v2.summary.txt"
    assert outputs.summary_ar == tmp_path / "story.v2.summary.ar.txt"
    assert outputs.article_ar == tmp_path / "story.v2.ar.txt"
    assert outputs.sidecar == tmp_path / "story.v2.summarize.json"


def test_outputs_not_asked_for_are_none(tmp_path: Path) -> None:
    config = load_config(None, ['output.translate=["article"]', "output.summarize=false"])
    outputs = output_paths(tmp_path / "a.txt", config.output)
    assert outputs.texts() == [tmp_path / "a.ar.txt"]


def test_write_atomic_leaves_only_the_final_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_atomic(target, "نص عربي\n")
    assert target.read_text(encoding="utf-8") == "نص عربي\n"
    assert os.listdir(tmp_path) == ["out.txt"]
    assert target.stat().st_mode & 0o644 == 0o644  # not mkstemp's private 0600


def test_failed_atomic_write_leaves_old_content_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "bad \udcff surrogate")
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_sidecar_is_written_after_the_texts(tmp_path: Path) -> None:
    _, outputs = done(tmp_path)
    sidecar = outputs.sidecar
    newest_text = max(p.stat().st_mtime_ns for p in outputs.texts())
    assert sidecar.stat().st_mtime_ns >= newest_text
    assert json.loads(sidecar.read_text(encoding="utf-8"))["signature"] == "sig"
