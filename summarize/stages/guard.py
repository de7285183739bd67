"""Guard: check every generated segment and summary, retry what fails, flag what stays failed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from summarize.backends import Backend, GenerateOptions
from summarize.batching import Task, generate
from summarize.chunking import reassemble
from summarize.guards import Failure, check_segment, check_summary, script_share
from summarize.outputs import KINDS
from summarize.records import Article, Generated, Source, Stage, alive
from summarize.report import Flag
from summarize.settings import Config
from summarize.stages import Engines
from summarize.stages.translate import assemble, output_spans, reply_limit, source_text
from summarize.text import segment_paragraph

__all__ = ["guard"]

_KIND = {kind.translation_of: kind.key for kind in KINDS}


@dataclass(eq=False)
class _Suspect:
    """A segment that failed a check: its first failures, and the best attempt so far."""

    article: Article
    source: Source
    index: int
    first: list[Failure]
    best: Generated
    failures: list[Failure]
    attempts: int = 1


def guard(articles: list[Article], engines: Engines, config: Config) -> None:
    """Check the summary and every translated segment of each article (see summarize.guards).

    A failing segment is generated again with stronger decoding, then, if it holds several
    sentences, sentence by sentence (``guards.repair_rounds``), batched like the first time;
    the attempt that fails the fewest checks is kept. Every check failed is recorded on the
    article (``flags``), with whether a retry repaired it, and the translations are joined
    again from the kept segments. An article's result depends on its own texts alone.
    """
    settings = config.guards
    for article in alive(articles):
        assert article.doc is not None
        if config.output.summarize:
            text = article.doc.text
            for failure in check_summary(article.summary, text, settings):
                article.flags.append(_flag("summary", 0, (0, len(text)), failure, 1, False))
    suspects = [
        _Suspect(article, source, index, failures, segment, failures)
        for article in alive(articles)
        for source, segments in article.generated.items()
        for index, segment in enumerate(segments)
        if (failures := _check(segment, config))
    ]
    translator = engines.translator
    if translator is not None:
        rounds = (_retry_stronger, _retry_sentences)[: settings.repair_rounds]
        for retry in rounds:
            _retry(retry, [s for s in suspects if s.failures], translator, config)
    for suspect in suspects:
        _settle(suspect)
    for article in alive(articles):
        _place(article)
        if "script" in settings.checks:
            _whole_text_script(article, config, translator)


def _check(segment: Generated, config: Config) -> list[Failure]:
    return check_segment(segment.source, segment.output, segment.hit_limit, config.guards)


def _stronger(tokens: int, backend: Backend, config: Config) -> GenerateOptions:
    """A retry's decoding: repeats forbidden or penalised, another beam size; the same limit
    (lowered to the model's positions here, so the sidecar counts that once, not per retry)."""
    guards = config.guards
    return GenerateOptions(
        max_new_tokens=min(
            reply_limit(tokens, backend, config.translator), backend.max_output_tokens
        ),
        num_beams=guards.repair_num_beams,
        no_repeat_ngram_size=guards.repair_no_repeat_ngram_size,
        length_penalty=config.translator.length_penalty,
        repetition_penalty=guards.repair_repetition_penalty,
    )


_Retry = Callable[["_Suspect", Backend, Config], list[Task]]


def _retry_stronger(suspect: _Suspect, backend: Backend, config: Config) -> list[Task]:
    seg = suspect.best
    text = seg.source
    return [
        Task(
            suspect.article, suspect.index, text, seg.tokens, _stronger(seg.tokens, backend, config)
        )
    ]


def _retry_sentences(suspect: _Suspect, backend: Backend, config: Config) -> list[Task]:
    """A segment of several sentences, one sentence at a time (none for a single sentence),
    each glued to the one before as in the segment ("5%.Markets" stays without a space)."""
    paragraph = segment_paragraph(suspect.best.source)
    if len(paragraph.spans) < 2:
        return []
    texts = list(paragraph.sentences)
    return [
        Task(
            suspect.article,
            suspect.index,
            text,
            tokens,
            _stronger(tokens, backend, config),
            glue=gap,
        )
        for text, tokens, gap in zip(
            texts, backend.count_tokens(texts), paragraph.gaps, strict=True
        )
    ]


def _retry(make: _Retry, suspects: list[_Suspect], backend: Backend, config: Config) -> None:
    """One round of retries for all suspects at once, batched; keep each one's best attempt."""
    planned = [(s, make(s, backend, config)) for s in suspects]
    for suspect, own in planned:
        # A retry the engine fails (out of memory with more beams) costs the attempt, not
        # the article: its tasks belong to a copy of the record that shares its timings.
        stand_in = dataclasses.replace(suspect.article)
        for task in own:
            task.owner = stand_in
    tasks = [task for _, own in planned for task in own]
    generate(tasks, backend, config.runtime.batch_tokens, Stage.GUARD)
    for suspect, own in planned:
        if not own or own[0].owner.error is not None:
            continue
        results = [t.result for t in own]
        if any(r is None for r in results):
            continue
        attempt = dataclasses.replace(
            suspect.best,
            output=reassemble((t.glue, t.result.text.strip()) for t in own if t.result is not None),
            hit_limit=any(r.hit_limit for r in results if r is not None),
        )
        suspect.attempts += 1
        failures = _check(attempt, config)
        if len(failures) < len(suspect.failures):
            suspect.best, suspect.failures = attempt, failures


def _settle(suspect: _Suspect) -> None:
    """Record each check the segment failed, and put its best attempt back into the text."""
    article, seg = suspect.article, suspect.best
    if article.error is not None:
        return
    segments = article.generated[suspect.source]
    segments[suspect.index] = seg
    article.translations[suspect.source] = assemble(segments)
    kind = _KIND[suspect.source.value]
    still = {f.check: f for f in suspect.failures}
    for failure in suspect.first:
        kept = still.pop(failure.check, None)
        flag = _flag(kind, suspect.index, seg.span, kept or failure, suspect.attempts, not kept)
        article.flags.append(flag)
    for failure in still.values():  # failed only by the attempt kept
        article.flags.append(_flag(kind, suspect.index, seg.span, failure, suspect.attempts, False))


def _whole_text_script(article: Article, config: Config, translator: Backend | None) -> None:
    """Say plainly when a whole translation is not Arabic: the model was asked for another
    language (or for none), which no retry mends; the segments' flags alone read as noise."""
    model = translator.model_id if translator is not None else config.translator.model
    # An instruction model (its prompt shares its context) is asked for Arabic in words.
    worded = translator is not None and translator.context_tokens > 0
    asking = (
        "translator.prompt" if worded else "translator.target_language and translator.source_prefix"
    )
    for source, text in article.translations.items():
        share = script_share(text, source_text(article, source))
        if text.strip() and share < config.guards.min_script_share:
            article.warnings.append(
                f"{source.value} translation: the whole text is not in Arabic script "
                f"({share:.0%} of its letters): is {model} asked for Arabic? (see {asking})"
            )


def _place(article: Article) -> None:
    """Give each flag where its segment's kept output stands in the text written."""
    spans = {_KIND[s.value]: output_spans(segs) for s, segs in article.generated.items()}
    spans["summary"] = [(0, len(article.summary))]
    article.flags = [
        dataclasses.replace(flag, output_span=spans[flag.output][flag.segment])
        if flag.segment < len(spans.get(flag.output, ()))
        else flag
        for flag in article.flags
    ]


def _flag(
    kind: str, index: int, span: tuple[int, int], failure: Failure, attempts: int, repaired: bool
) -> Flag:
    return Flag(
        kind, index, span, failure.check, failure.value, failure.threshold, attempts, repaired
    )
