"""The guard stage: each failure made on purpose by a fake translator, repaired or flagged."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from summarize import Models
from summarize.backends import GenerateOptions, Generation
from summarize.config import load_config
from summarize.discovery import Job
from summarize.records import Article, Source
from summarize.report import Flag
from summarize.settings import Config
from summarize.stages.guard import guard
from summarize.stages.translate import translate
from summarize.text import Document, segment_paragraph, split_sentences
from tests.conftest import on_cpu
from tests.test_guards import (
    BASRA_AR,
    BASRA_EN,
    NASA_AR,
    NASA_EN,
    PRICES_AR,
    PRICES_EN,
    RAIN_AR,
    RAIN_EN,
)

ARABIC = {BASRA_EN: BASRA_AR, RAIN_EN: RAIN_AR, PRICES_EN: PRICES_AR, NASA_EN: NASA_AR}
PARAGRAPHS = [[BASRA_EN, RAIN_EN], [PRICES_EN], [NASA_EN]]
#: Decoding as the guard's repair asks for it.
Rule = Callable[[str, GenerateOptions], tuple[str, bool]]


def healthy(text: str) -> str:
    return " ".join(ARABIC[s] for s in split_sentences(text))


def repairing(options: GenerateOptions) -> bool:
    return options.repetition_penalty > 1


class Scripted:
    """A translator whose output for each input comes from a rule; it logs every call."""

    model_id, device, dtype = "scripted", "cpu", "none"
    engine, family = "scripted", "a rule per input"
    max_input_tokens = max_output_tokens = 1000
    context_tokens = 0

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.calls: list[list[str]] = []

    @property
    def inputs(self) -> list[str]:
        """Every input it was given (the stage adds no prefix: the engine does)."""
        return [t for call in self.calls for t in call]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + 1 for t in texts]

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        self.calls.append(list(texts))
        return [Generation(*self.rule(t, options)) for t in texts]


def config(*overrides: str) -> Config:
    return load_config(None, ["output.summarize=false", 'output.translate=["article"]', *overrides])


def article(name: str = "a", paragraphs: list[list[str]] = PARAGRAPHS) -> Article:
    return Article(
        Job(Path(f"/in/{name}.txt")),
        None,
        "new",
        doc=Document([segment_paragraph(" ".join(p)) for p in paragraphs]),
    )


def run_guarded(rule: Rule, *overrides: str, articles: int = 1) -> tuple[list[Article], Scripted]:
    backend = Scripted(rule)
    conf = config(*overrides)
    done = [article(f"a{i}") for i in range(articles)]
    translate(done, backend, conf.translator, [Source.ARTICLE], conf.runtime.batch_tokens)
    guard(done, Models(None, backend), conf)
    return done, backend


def checks(a: Article) -> list[tuple[int, str, bool]]:
    return [(f.segment, f.check, f.repaired) for f in a.flags]


def test_a_healthy_translation_is_not_flagged_and_not_retried() -> None:
    (a,), backend = run_guarded(lambda text, options: (healthy(text), False))
    assert a.flags == []
    assert len(backend.inputs) == 3
    assert a.translations[Source.ARTICLE] == f"{BASRA_AR} {RAIN_AR}\n\n{PRICES_AR}\n\n{NASA_AR}"


def test_a_loop_is_repaired_by_stronger_decoding_and_recorded() -> None:
    def rule(text: str, options: GenerateOptions) -> tuple[str, bool]:
        if text == PRICES_EN and not repairing(options):
            return "آسف " * options.max_new_tokens, True
        return healthy(text), False

    (a,), backend = run_guarded(rule)
    assert a.translations[Source.ARTICLE].split("\n\n")[1] == PRICES_AR
    assert {c for _, c, _ in checks(a)} >= {"repetition", "length_cap"}
    assert all(seg == 1 and repaired for seg, _, repaired in checks(a))
    assert {f.attempts for f in a.flags} == {2}
    assert backend.inputs[3:] == [PRICES_EN]


def test_a_dropped_sentence_is_repaired_sentence_by_sentence() -> None:
    def rule(text: str, options: GenerateOptions) -> tuple[str, bool]:
        return ARABIC[split_sentences(text)[0]], False  # drops every sentence but the first

    (a,), backend = run_guarded(rule)
    assert a.translations[Source.ARTICLE].split("\n\n")[0] == f"{BASRA_AR} {RAIN_AR}"
    assert checks(a) == [(0, "length_ratio", True)]
    (flag,) = a.flags
    assert flag.attempts == 3
    assert flag.span == (0, len(f"{BASRA_EN} {RAIN_EN}"))
    assert flag.value < flag.threshold
    retries = backend.inputs[3:]
    assert retries[0] == f"{BASRA_EN} {RAIN_EN}"
    assert sorted(retries[1:]) == sorted([BASRA_EN, RAIN_EN])


def test_an_empty_output_is_retried_and_kept_flagged_when_it_stays_empty() -> None:
    (a,), _ = run_guarded(lambda text, options: ("", False))
    assert [(seg, check) for seg, check, _ in checks(a)] == [
        (0, "empty"),
        (1, "empty"),
        (2, "empty"),
    ]
    assert not any(f.repaired for f in a.flags)
    assert [f.attempts for f in a.flags] == [3, 2, 2]  # a single sentence is not split


@pytest.mark.parametrize(
    ("rule", "check"),
    [
        (lambda text, options: (text, False), "identical"),
        (lambda text, options: ("Le gouvernement ouvrira un nouvel hôpital à Bassora.", False),
         "script"),
        (lambda text, options: (healthy(text), True), "length_cap"),
        (lambda text, options: (f"{healthy(text)} {BASRA_AR} {PRICES_AR}", False),
         "length_ratio"),
    ],
)  # fmt: skip
def test_a_failure_no_retry_mends_is_flagged_with_the_best_attempt_kept(
    rule: Rule, check: str
) -> None:
    (a,), _ = run_guarded(rule)
    failed = {f.check for f in a.flags if not f.repaired}
    assert check in failed
    assert {f.segment for f in a.flags if f.check == check} == {0, 1, 2}


def test_each_flag_points_at_the_kept_output_in_the_written_text() -> None:
    def rule(text: str, options: GenerateOptions) -> tuple[str, bool]:
        if text == PRICES_EN:  # stays English whatever the retry
            return "The oil price went up again.", False
        return healthy(text), False

    (a,), _ = run_guarded(rule)
    written = a.translations[Source.ARTICLE]
    assert {f.segment for f in a.flags if not f.repaired} == {1}
    assert "script" in {f.check for f in a.flags}
    for flag in a.flags:
        assert flag.output_span is not None
        start, end = flag.output_span
        assert written[start:end] == a.generated[Source.ARTICLE][flag.segment].output
    assert written[slice(*a.flags[0].output_span)] == "The oil price went up again."
    assert Flag.from_dict(a.flags[0].as_dict()) == a.flags[0]


def test_with_repair_off_every_check_still_runs_and_nothing_is_retried() -> None:
    (a,), backend = run_guarded(lambda text, options: ("", False), "guards.repair_rounds=0")
    assert len(backend.inputs) == 3
    assert [f.attempts for f in a.flags] == [1, 1, 1]


def test_with_the_checks_off_a_degenerate_output_passes() -> None:
    (a,), backend = run_guarded(lambda text, options: ("", False), "guards.checks=[]")
    assert a.flags == [] and len(backend.inputs) == 3


def test_a_retried_articles_output_does_not_depend_on_its_batch() -> None:
    def rule(text: str, options: GenerateOptions) -> tuple[str, bool]:
        if not repairing(options):
            return "آسف " * 50, False
        return healthy(text), False

    (alone,), _ = run_guarded(rule)
    together, _ = run_guarded(rule, articles=4)
    for other in together:
        assert other.translations == alone.translations
        assert other.flags == alone.flags


def test_guarded_records_survive_pickling() -> None:
    (a,), _ = run_guarded(lambda text, options: ("", False))
    copy = pickle.loads(pickle.dumps(a))
    assert copy.flags == a.flags and isinstance(copy.flags[0], Flag)
    assert copy.generated[Source.ARTICLE] == a.generated[Source.ARTICLE]


def test_a_summary_is_checked_and_flagged_without_retries() -> None:
    conf = load_config(None, ["output.translate=[]"])
    a = article()
    a.summary = "Football fans celebrated a dramatic victory after extra time in Madrid."
    guard([a], Models(None, None), conf)
    assert [(f.output, f.check, f.attempts, f.repaired) for f in a.flags] == [
        ("summary", "grounding", 1, False)
    ]


class Counting:
    """A real backend, with every input it generates for counted."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.inputs: list[str] = []
        names = ("model_id", "device", "dtype", "max_input_tokens", "max_output_tokens")
        for name in (*names, "context_tokens"):
            setattr(self, name, getattr(backend, name))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        result: list[int] = self.backend.count_tokens(texts)
        return result

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        self.inputs += texts
        result: list[Generation] = self.backend.generate(texts, options)
        return result


def test_a_tiny_random_model_gets_flagged_and_retried(tiny_models: dict[str, Path]) -> None:
    from summarize.backends.hf import TransformersBackend

    model = TransformersBackend.load(on_cpu("transformers", str(tiny_models["translator"]), "t"))
    backend = Counting(model)
    conf = config("guards.repair_num_beams=2")
    (a,) = articles = [article()]
    translate(articles, backend, conf.translator, [Source.ARTICLE], conf.runtime.batch_tokens)
    first = len(backend.inputs)
    guard(articles, Models(None, backend), conf)
    # Random weights write no Arabic sentence worth keeping: every segment fails a check,
    # is retried (bounded), and what is kept is flagged.
    assert {f.segment for f in a.flags if not f.repaired} == {0, 1, 2}
    assert first == 3 and len(backend.inputs) > first
    assert all(2 <= f.attempts <= 3 for f in a.flags)
    assert a.translations[Source.ARTICLE].count("\n\n") == 2


def test_a_retry_the_engine_fails_costs_the_attempt_not_the_article() -> None:
    def rule(text: str, options: GenerateOptions) -> tuple[str, bool]:
        if repairing(options):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        return "", False

    (a,), backend = run_guarded(rule)
    assert a.error is None
    assert [(f.check, f.attempts, f.repaired) for f in a.flags] == [("empty", 1, False)] * 3
    assert len(backend.inputs) > 3


def test_sentences_repaired_one_by_one_are_rejoined_as_they_stood() -> None:
    prices = "Prices rose 5%."
    arabic = {prices: "ارتفعت الأسعار 5%.", RAIN_EN: RAIN_AR}

    def rule(text: str, options: GenerateOptions) -> tuple[str, bool]:
        return arabic[split_sentences(text)[0]], False  # drops every sentence but the first

    backend = Scripted(rule)
    conf = config()
    (a,) = done = [article(paragraphs=[[prices + RAIN_EN]])]
    translate(done, backend, conf.translator, [Source.ARTICLE], conf.runtime.batch_tokens)
    guard(done, Models(None, backend), conf)
    assert sorted(backend.inputs[-2:]) == sorted([prices, RAIN_EN])  # batched by length
    assert checks(a) == [(0, "length_ratio", True)]
    assert a.translations[Source.ARTICLE] == arabic[prices] + RAIN_AR


def test_a_whole_translation_in_the_wrong_script_says_so_plainly(tmp_path: Path) -> None:
    # The echo engine gives back its English: as a model asked for no language, or another.
    import json

    from summarize.cli import main

    article = tmp_path / "a.txt"
    article.write_text(
        "The council met on Monday to discuss the budget.\n\nIt approved the new plan.\n",
        encoding="utf-8",
    )
    settings = ["summarizer.backend=echo", "summarizer.model=echo", "translator.backend=echo"]
    settings += ["translator.model=echo", 'guards.checks=["script"]', "input.language_check=off"]
    assert main(["run", str(article), "-q", *(f"--set={s}" for s in settings)]) == 0
    warnings = json.loads((tmp_path / "a.summarize.json").read_text(encoding="utf-8"))["warnings"]
    plain = [w for w in warnings if "the whole text is not in Arabic script" in w]
    assert [w.split(":")[0] for w in plain] == ["summary translation", "article translation"]
    assert all("translator.target_language" in w for w in plain)


def test_a_refusal_is_retried_like_any_failure_and_recorded_repaired() -> None:
    def rule(text: str, options: GenerateOptions) -> tuple[str, bool]:
        if text == PRICES_EN and not repairing(options):
            return "عذراً، لا أستطيع ترجمة هذا النص.", False
        return healthy(text), False

    (a,), backend = run_guarded(rule)
    assert a.translations[Source.ARTICLE].split("\n\n")[1] == PRICES_AR
    assert ("refusal", 1, True) in [(f.check, f.segment, f.repaired) for f in a.flags]
    assert backend.inputs[3:] == [PRICES_EN]


def test_an_answer_about_the_text_that_every_retry_repeats_stays_flagged() -> None:
    (a,), _ = run_guarded(lambda text, options: ("يتناول النص خبراً عن العراق.", False))
    assert {(f.segment, f.check) for f in a.flags if not f.repaired} >= {
        (0, "about_text"),
        (1, "about_text"),
        (2, "about_text"),
    }


def test_a_summary_that_refuses_is_flagged_and_one_quoting_its_article_is_not() -> None:
    conf = load_config(None, ["output.translate=[]"])
    refusing, quoting = article("refusing"), article("quoting")
    refusing.summary = "I'm sorry, but I can't summarize this article."
    quote = "“I'm sorry, but I can't help you,” the clerk told the residents."
    quoting.doc = Document([segment_paragraph(f"{BASRA_EN} {quote}")])
    quoting.summary = quote
    guard([refusing, quoting], Models(None, None), conf)
    assert ("summary", "refusal", False) in [
        (f.output, f.check, f.repaired) for f in refusing.flags
    ]
    assert quoting.flags == []
