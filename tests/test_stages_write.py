"""The write stage: outputs and sidecar of each article, and the result the report records."""

from __future__ import annotations

import json
from pathlib import Path

from summarize.discovery import Job
from summarize.outputs import output_paths
from summarize.records import Article, Source, Stage
from summarize.report import Status
from summarize.settings import Config
from summarize.stages.write import write
from summarize.text import Document, segment_paragraph

ENGINES = {
    "translator": {
        "model": "m", "device": "cpu", "dtype": "none", "engine": "ctranslate2",
        "family": "Marian (several target languages) (marian), prefix '>>ara<<'",
    }
}  # fmt: skip


def finished(path: Path | None, outputs: bool) -> Article:
    config = Config()
    named = output_paths(path, config.output, None, path.parent) if path and outputs else None
    record = Article(
        Job(path), named, "new", doc=Document([segment_paragraph("A sentence.")]), summary="S."
    )
    record.translations = {Source.SUMMARY: "T.", Source.ARTICLE: "A."}
    record.counts.sentences = 1
    record.add_time(Stage.READ, 0.25)
    return record


def test_a_file_article_writes_its_texts_and_sidecar_last(tmp_path: Path) -> None:
    record = finished(tmp_path / "a.txt", outputs=True)
    (result,) = write([record], Config(), ENGINES, "sig")
    assert result.status is Status.DONE and result.reason == "new"
    assert (tmp_path / "a.summary.txt").read_text(encoding="utf-8") == "S.\n"
    assert (tmp_path / "a.ar.txt").read_text(encoding="utf-8") == "A.\n"
    sidecar = json.loads((tmp_path / "a.summarize.json").read_text(encoding="utf-8"))
    assert sidecar["counts"] == {"sentences": 1}
    assert sidecar["engines"] == ENGINES and sidecar["signature"] == "sig"
    assert sidecar["seconds"] == {"read": 0.25}  # the write's own time is in the report only
    assert set(result.seconds) == {"read", "write"}
    assert result.outputs[-1] == str(tmp_path / "a.summarize.json")


def test_standard_input_writes_nothing_and_carries_its_texts(tmp_path: Path) -> None:
    record = finished(None, outputs=False)
    record.warnings = ["w", "w"]
    (result,) = write([record], Config(), ENGINES, "sig")
    assert result.status is Status.FLAGGED
    assert result.warnings == ("w (2 times)",)
    assert result.texts == {"summary": "S.", "summary_ar": "T.", "article_ar": "A."}
    assert list(tmp_path.iterdir()) == []


def test_a_failed_article_writes_nothing(tmp_path: Path) -> None:
    record = finished(tmp_path / "a.txt", outputs=True)
    record.fail("a.txt: translate failed: no")
    (result,) = write([record], Config(), ENGINES, "sig")
    assert (result.status, result.reason, result.texts) == (
        Status.FAILED,
        "a.txt: translate failed: no",
        None,
    )
    assert list(tmp_path.iterdir()) == []
