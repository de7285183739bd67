"""Scoring outputs against references: known scores, missing files, totals, table and JSON."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from summarize.cli import main
from summarize.config import load_config
from summarize.discovery import find_inputs
from summarize.errors import ConfigError, UsageError
from summarize.evaluation import (
    ArticleScores,
    Evaluation,
    evaluate,
    format_table,
    rouge_scores,
    to_json,
    translation_scores,
)
from summarize.settings import Config
from tests.conftest import ROOT

SUMMARY = "The council approved the new budget on Monday. Schools will get more money."
SUMMARY_AR = "وافق المجلس على الميزانية الجديدة يوم الاثنين، وستحصل المدارس على أموال إضافية."
ARTICLE_AR = (
    "وافق مجلس المدينة على الميزانية الجديدة يوم الاثنين.\n"
    "وقال رئيس المجلس إن المدارس ستحصل على أموال إضافية هذا العام."
)
# No letter in common with ARTICLE_AR's reference below: character n-grams cannot match.
DISJOINT_AR = "ظظظ غغغ ضضض ثثث"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def article(
    folder: Path,
    stem: str,
    outputs: dict[str, str] | None = None,
    references: dict[str, str] | None = None,
    signature: str | None = None,
) -> Path:
    """An article, some of its outputs and references (keys: summary, summary_ar, article_ar)."""
    source = write(folder / f"{stem}.txt", "The council met on Monday. It approved a budget.")
    out_names = {"summary": "summary.txt", "summary_ar": "summary.ar.txt", "article_ar": "ar.txt"}
    for kind, text in (outputs or {}).items():
        write(folder / f"{stem}.{out_names[kind]}", text)
    for kind, text in (references or {}).items():
        write(folder / f"{stem}.ref.{out_names[kind]}", text)
    if signature is not None:
        sidecar = {"signature": signature, "engines": {}, "input": {"size": 1}}
        write(folder / f"{stem}.summarize.json", json.dumps(sidecar))
    return source


ALL = {"summary": SUMMARY, "summary_ar": SUMMARY_AR, "article_ar": ARTICLE_AR}


def by_name(evaluation: Evaluation) -> dict[str, ArticleScores]:
    return {Path(a.path).name: a for a in evaluation.articles}


# --- the metrics themselves -------------------------------------------------------------


def test_identical_texts_score_100_on_every_metric() -> None:
    assert rouge_scores(SUMMARY, SUMMARY) == pytest.approx(
        {"rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0, "rougeLsum": 100.0}
    )
    assert translation_scores(ARTICLE_AR, ARTICLE_AR) == pytest.approx((100.0, 100.0))


def test_rouge_matches_a_hand_computed_overlap() -> None:
    # Summary unigrams {cat, sat} all appear in the 5-word reference: P = 1, R = 2/5,
    # F1 = 2PR / (P + R) = 0.8 / 1.4. Bigrams: "cat sat" is 1 of the reference's 4: F1 = 0.4.
    scores = rouge_scores("Cat sat.", "The cat sat on mats.")
    assert scores["rouge1"] == pytest.approx(100 * 0.8 / 1.4)
    assert scores["rouge2"] == pytest.approx(40.0)
    assert scores["rougeL"] == pytest.approx(100 * 0.8 / 1.4)


def test_rouge_uses_the_stemmer() -> None:
    assert rouge_scores("the councils approved", "the council approves")["rouge1"] == 100.0


def test_rouge_lsum_sees_sentences_even_without_newlines() -> None:
    # With the two sentences swapped, the longest common subsequence of the whole text covers
    # only one sentence, while the summary-level LCS (per sentence) still matches everything.
    swapped = "Schools will get more money. The council approved the new budget on Monday."
    scores = rouge_scores(swapped, SUMMARY)
    assert scores["rougeLsum"] == pytest.approx(100.0)
    assert scores["rougeL"] < 70.0


def test_disjoint_arabic_scores_near_zero() -> None:
    chrf, bleu = translation_scores(DISJOINT_AR, ARTICLE_AR)
    assert chrf < 1.0
    assert bleu < 1.0


# --- evaluate(): discovery, missing files, totals ----------------------------------------


def test_evaluate_scores_pairs_and_reports_what_is_missing(tmp_path: Path) -> None:
    article(tmp_path, "a", outputs=ALL, references=ALL, signature="sig-1")
    article(tmp_path, "b", outputs=ALL, signature="sig-1")  # no reference at all
    article(tmp_path, "c", outputs={"article_ar": ARTICLE_AR}, references=ALL)  # half run

    evaluation = evaluate(Config(), [str(tmp_path)])

    rows = by_name(evaluation)
    assert sorted(rows) == ["a.txt", "b.txt", "c.txt"]
    a, b, c = rows["a.txt"], rows["b.txt"], rows["c.txt"]
    assert a.scores == pytest.approx(
        dict.fromkeys(
            [
                *("rouge1", "rouge2", "rougeL", "rougeLsum"),
                *("summary_ar.chrf", "summary_ar.bleu", "article_ar.chrf", "article_ar.bleu"),
            ],
            100.0,
        )
    )
    assert (a.no_reference, a.not_run, a.errors) == (False, (), ())
    assert b.no_reference and b.scores == {} and b.not_run == ()
    assert c.not_run == ("summary", "summary_ar")
    assert set(c.scores) == {"article_ar.chrf", "article_ar.bleu"}
    assert evaluation.counts() == {
        "articles": 3,
        "scored": 2,
        "no_reference": 1,
        "not_run": 1,
        "errors": 0,
    }
    assert evaluation.scored == {"summary": 1, "summary_ar": 1, "article_ar": 2}


def test_reference_and_output_files_are_never_articles(tmp_path: Path) -> None:
    article(tmp_path, "a", outputs=ALL, references=ALL, signature="sig-1")
    config = Config()

    jobs = find_inputs([str(tmp_path)], config.input, config.reserved_names)

    assert [job.path.name for job in jobs if job.path] == ["a.txt"]
    assert [Path(a.path).name for a in evaluate(config, [str(tmp_path)]).articles] == ["a.txt"]


def test_reference_templates_come_from_the_config(tmp_path: Path) -> None:
    article(tmp_path, "a", outputs={"summary": SUMMARY})
    write(tmp_path / "a.gold.txt", SUMMARY)
    config = load_config(None, ["eval.summary_reference={stem}.gold.txt"])

    evaluation = evaluate(config, [str(tmp_path)])

    assert [Path(a.path).name for a in evaluation.articles] == ["a.txt"]
    assert evaluation.articles[0].scores["rouge1"] == pytest.approx(100.0)


def test_totals_average_rouge_and_pool_chrf_bleu_over_the_corpus(tmp_path: Path) -> None:
    import sacrebleu

    article(tmp_path, "a", outputs=ALL, references=ALL)
    article(
        tmp_path,
        "b",
        outputs={"summary": "Cat sat.", "article_ar": DISJOINT_AR},
        references={"summary": "The cat sat on mats.", "article_ar": ARTICLE_AR},
    )

    evaluation = evaluate(Config(), [str(tmp_path)])

    totals = evaluation.totals
    assert totals["rouge1"] == pytest.approx((100.0 + 100 * 0.8 / 1.4) / 2)
    hyps = [" ".join(ARTICLE_AR.split()), DISJOINT_AR]
    refs = [[" ".join(ARTICLE_AR.split())] * 2]
    assert totals["article_ar.chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, refs).score)
    assert totals["article_ar.bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, refs, tokenize="intl").score
    )
    # Pooled, not averaged: the corpus score is not the mean of the two per-article scores.
    per_article = [a.scores["article_ar.chrf"] for a in evaluation.articles]
    assert totals["article_ar.chrf"] != pytest.approx(sum(per_article) / 2)
    assert totals["summary_ar.chrf"] == pytest.approx(100.0)
    assert "tok:intl" in evaluation.metric_signatures["BLEU"]
    assert "nrefs:1" in evaluation.metric_signatures["chrF"]


def test_outputs_under_an_output_directory_are_found(tmp_path: Path) -> None:
    news, out = tmp_path / "news", tmp_path / "out"
    article(news / "sub", "a", references={"summary": SUMMARY})
    write(out / "sub" / "a.summary.txt", SUMMARY)

    evaluation = evaluate(Config(), [str(news)], out_dir=out)

    assert evaluation.articles[0].scores["rouge1"] == pytest.approx(100.0)


def test_an_unreadable_file_is_reported_not_raised(tmp_path: Path) -> None:
    article(tmp_path, "a", outputs=ALL, references={"summary": SUMMARY})
    (tmp_path / "a.ref.ar.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 binary")

    evaluation = evaluate(Config(), [str(tmp_path)])

    row = evaluation.articles[0]
    assert len(row.errors) == 1 and "a.ref.ar.txt" in row.errors[0]
    assert "rouge1" in row.scores and "article_ar.chrf" not in row.scores
    assert evaluation.counts()["errors"] == 1


def test_standard_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        evaluate(Config(), ["-"])


def test_missing_metric_libraries_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # makes `import sacrebleu` fail

    with pytest.raises(ConfigError, match=r"pip install 'summarize\[eval\]'"):
        evaluate(Config(), ["."])


# --- settings signatures ------------------------------------------------------------------


def test_the_sidecar_signature_is_collected(tmp_path: Path) -> None:
    article(tmp_path, "a", outputs=ALL, references=ALL, signature="summarize=0.1.0|x=1")
    article(tmp_path, "b", outputs=ALL, references=ALL)  # no sidecar

    evaluation = evaluate(Config(), [str(tmp_path)])

    rows = by_name(evaluation)
    assert rows["a.txt"].signature == "summarize=0.1.0|x=1"
    assert rows["b.txt"].signature is None
    assert evaluation.settings == ["summarize=0.1.0|x=1"]
    assert not evaluation.mixed_settings
    assert "settings: summarize=0.1.0|x=1" in format_table(evaluation)


def test_different_settings_are_flagged(tmp_path: Path) -> None:
    article(tmp_path, "a", outputs=ALL, references=ALL, signature="sig-1")
    article(tmp_path, "b", outputs=ALL, references=ALL, signature="sig-2")

    evaluation = evaluate(Config(), [str(tmp_path)])

    assert evaluation.settings == ["sig-1", "sig-2"]
    assert evaluation.mixed_settings
    assert to_json(evaluation)["mixed_settings"] is True
    assert "settings differ" in format_table(evaluation)


# --- output -------------------------------------------------------------------------------


@pytest.fixture
def mixed(tmp_path: Path) -> Evaluation:
    article(tmp_path, "alpha", outputs=ALL, references=ALL, signature="sig-1")
    article(
        tmp_path,
        "beta",
        outputs={"summary": "Cat sat."},
        references={"summary": "The cat sat on mats.", "summary_ar": SUMMARY_AR},
        signature="sig-1",
    )
    article(tmp_path, "gamma", outputs=ALL)
    return evaluate(Config(), [str(tmp_path)])


def test_table_has_a_row_per_article_and_an_aligned_total(mixed: Evaluation) -> None:
    table = format_table(mixed)
    lines = table.splitlines()

    header, total = lines[0], lines[4]
    assert [line.split()[0].rsplit("/", 1)[-1] for line in lines[1:4]] == [
        "alpha.txt",
        "beta.txt",
        "gamma.txt",
    ]
    assert total.startswith("TOTAL ")
    # R-1 column: alpha 100.0, beta 57.1, their mean 78.6; right-aligned under the header.
    column_end = header.index("R-1") + len("R-1")
    assert total[: column_end + 1].rstrip().endswith("78.6")
    beta = lines[2]
    assert beta[:column_end].endswith("57.1")
    assert "not run yet: summary_ar" in beta
    assert "no reference" in lines[3]
    assert "3 articles: 2 scored, 1 without reference, 1 not run yet" in table


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses file names that are not UTF-8")
@pytest.mark.parametrize(
    ("stem", "shown"),
    [(b"caf\xe9", "caf\\xe9"), (b"new\nline", "new\\nline"), (b"tab\tcr\r", "tab\\tcr\\r")],
    ids=["not-utf8", "newline", "tab-and-cr"],
)
def test_eval_names_any_article_as_the_run_does_in_its_table_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stem: bytes, shown: str
) -> None:
    """A name that is not UTF-8 crashed --json (UnicodeEncodeError, exit 1); one with a newline
    split its table row. Both are written as the run's report writes them."""
    from summarize.cli import main

    folder = tmp_path / "in"
    name = os.fsdecode(stem)
    article(folder, name, outputs=ALL, references=ALL)
    (folder / f"{name}.ar.txt").write_bytes(b"not UTF-8: \xe9")
    scores = tmp_path / "scores.json"

    assert main(["eval", str(folder), "--json", str(scores)]) == 0

    table = capsys.readouterr().out
    lines = table.splitlines()
    rows = lines[1 : lines.index(next(line for line in lines if line.startswith("TOTAL")))]
    assert [row.split()[0] for row in rows] == [f"{folder}/{shown}.txt"]
    data = json.loads(scores.read_text(encoding="utf-8"))
    [scored] = data["articles"]
    assert scored["path"] == f"{folder}/{shown}.txt"
    assert "rouge1" in scored["scores"]
    assert scored["errors"] == [f"{folder}/{shown}.ar.txt: not valid UTF-8 at byte 11; "
                                "re-encode the file as UTF-8"]  # fmt: skip
    assert f"{folder}/{shown}.txt: {folder}/{shown}.ar.txt: not valid UTF-8" in table


def test_json_round_trips_and_holds_everything(mixed: Evaluation) -> None:
    data = to_json(mixed)

    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert [Path(a["path"]).name for a in data["articles"]] == [
        "alpha.txt",
        "beta.txt",
        "gamma.txt",
    ]
    assert data["counts"]["articles"] == 3
    assert data["totals"]["rouge1"] == pytest.approx((100.0 + 100 * 0.8 / 1.4) / 2)
    assert data["settings_signatures"] == ["sig-1"]
    assert [Path(p).name for p in data["no_reference"]] == ["gamma.txt"]
    assert list(data["not_run"].values()) == [["summary_ar"]]
    assert set(data["metric_signatures"]) >= {"chrF", "BLEU"}


def test_a_huge_reference_is_an_unreadable_file_not_read_into_memory(tmp_path: Path) -> None:
    """A reference (or output) of many GB was read whole: a MemoryError ended eval."""
    article(tmp_path, "a", outputs=ALL, references={"summary": SUMMARY})
    with (tmp_path / "a.ref.ar.txt").open("wb") as fh:
        fh.truncate(8 * 1024**3)  # sparse: no disk used

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    done = subprocess.run(
        [sys.executable, "-m", "summarize", "eval", str(tmp_path)],
        capture_output=True, text=True, timeout=120, preexec_fn=limit_memory,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "a.ref.ar.txt: cannot read (8,589,934,592 bytes, more than any output" in done.stdout
    assert "R-1" in done.stdout


def test_a_json_file_on_a_full_disk_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """/dev/full fails every write as a full disk does: the error named no file."""
    article(tmp_path, "a", outputs=ALL, references={"summary": SUMMARY})
    assert main(["eval", str(tmp_path), "--json", "/dev/full"]) == 2
    assert "summarize: error: /dev/full: No space left on device" in capsys.readouterr().err
