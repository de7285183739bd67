"""Article records: plain data that survives pickling after every stage, and what they count."""

from __future__ import annotations

import pickle
from pathlib import Path

from summarize import load_config, load_models, run
from summarize.discovery import Job
from summarize.outputs import output_paths
from summarize.records import Article, Counts, Source, Stage
from summarize.settings import Config
from summarize.stages.guard import guard
from summarize.stages.read import read
from summarize.stages.summarize import summarize
from summarize.stages.translate import translate
from summarize.stages.write import describe_engines, write

ECHO = [
    "summarizer.backend=echo",
    "summarizer.model=echo",
    "translator.backend=echo",
    "translator.model=echo",
]
TEXT = "\n\n".join(
    " ".join(f"Paragraph {p} says that the council met on day {s}." for s in range(6))
    for p in range(4)
)


def articles(folder: Path, config: Config, count: int) -> list[Article]:
    folder.mkdir()
    made = []
    for i in range(count):
        path = folder / f"story{i}.txt"
        path.write_text(f"Story {i}. {TEXT}", encoding="utf-8")
        outputs = output_paths(path, config.output, None, folder)
        made.append(Article(Job(path, folder), outputs, "new"))
    return made


def round_trip(records: list[Article]) -> list[Article]:
    """What a stage on another process or machine would get back: a copy, through pickle."""
    copies: list[Article] = pickle.loads(pickle.dumps(records))
    assert [a.name for a in copies] == [a.name for a in records]
    return copies


def test_stages_called_by_hand_with_pickled_records_write_what_run_writes(
    tmp_path: Path,
) -> None:
    # A small summarizer input: map-reduce; a small translator input: several segments each.
    config = load_config(
        None,
        [
            *ECHO,
            "summarizer.max_input_tokens=60",
            "summarizer.max_length=20",
            "summarizer.min_length=5",
            "translator.max_input_tokens=30",
        ],
    )
    models = load_models(config)
    assert models.summarizer is not None and models.translator is not None
    batch = config.runtime.batch_tokens
    records = round_trip(articles(tmp_path / "by_hand", config, 3))
    read(records, config.input)
    records = round_trip(records)
    summarize(records, models.summarizer, config.summarizer, batch)
    records = round_trip(records)
    sources = [Source(t) for t in config.output.translate]
    translate(records, models.translator, config.translator, sources, batch)
    records = round_trip(records)
    guard(records, models, config)
    records = round_trip(records)
    results = write(records, config, describe_engines(models), "sig")
    round_trip(records)
    assert [r.status.value for r in results] == ["flagged"] * 3
    assert all(any("stopped at their length limit" in w for w in r.warnings) for r in results)
    assert all(any("map-reduce" in note for note in a.notes) for a in records)
    assert all(a.counts.summary_chunks and a.counts.summary_chunks > 1 for a in records)
    # Every stage called here counts its time (the guard only when it retried something).
    assert all(set(a.seconds) - {Stage.GUARD} == set(Stage) - {Stage.GUARD} for a in records)

    folder = tmp_path / "by_run"
    folder.mkdir()
    for path in (tmp_path / "by_hand").glob("story?.txt"):
        (folder / path.name).write_bytes(path.read_bytes())
    assert run(config, [str(folder)], models=models).exit_code == 0
    texts = sorted(p.name for p in folder.glob("*.txt"))
    assert len(texts) == 3 * 4
    for name in texts:
        assert (tmp_path / "by_hand" / name).read_bytes() == (folder / name).read_bytes(), name


def test_counts_name_only_what_was_counted_in_the_sidecars_order() -> None:
    counts = Counts(characters=10, paragraphs=2, sentences=3)
    assert counts.as_dict() == {"characters": 10, "paragraphs": 2, "sentences": 3}
    counts.summary_chunks, counts.summary_rounds = 2, 3
    counts.segments(Source.ARTICLE, 5, 1)
    counts.capped()
    counts.capped()
    assert list(counts.as_dict().items()) == [
        ("characters", 10),
        ("paragraphs", 2),
        ("sentences", 3),
        ("summary_chunks", 2),
        ("summary_rounds", 3),
        ("article_segments", 5),
        ("article_split_sentences", 1),
        ("capped_by_model", 2),
    ]


def test_dropping_texts_keeps_what_the_report_needs(tmp_path: Path) -> None:
    article = Article(Job(tmp_path / "a.txt"), None, "new", summary="S")
    article.translations[Source.SUMMARY] = "T"
    article.add_time(Stage.READ, 1.0)
    article.add_time(Stage.READ, 0.5)
    article.fail("first")
    article.fail("second")
    article.drop_texts()
    assert (article.summary, article.translations, article.doc) == ("", {}, None)
    assert article.timings() == {"read": 1.5}
    assert article.error == "first"
