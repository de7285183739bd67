"""Translate: sentences into segments within the translator's budget, generated, reassembled."""

from __future__ import annotations

import math
from collections.abc import Sequence

from summarize.backends import Backend, GenerateOptions
from summarize.batching import Task, generate, limit_origin
from summarize.chunking import Measure, pack_paragraphs, reassemble
from summarize.config import TranslatorSettings
from summarize.records import Article, Source, Stage
from summarize.text import split_sentences

__all__ = ["translate", "translation_limit"]

# Translation length limits are rounded up to a grid with this many steps per doubling (see
# translation_limit): at most 1/8 more than asked, and similar segments batch together.
_LIMIT_STEPS_PER_OCTAVE = 8
# A translation this much shorter than its source (in characters) has likely dropped a sentence.
_SHORT_TRANSLATION = 0.25


def translate(
    articles: list[Article],
    backend: Backend,
    settings: TranslatorSettings,
    sources: Sequence[Source],
    batch_tokens: int,
) -> None:
    """Translate the ``sources`` (article and/or summary) of every article, batched together.

    Each text goes sentence by sentence into segments that never cross a paragraph; the
    translations are joined back in order, every character of the source exactly once.
    """
    limit = min(settings.max_input_tokens, backend.max_input_tokens)
    prefix = f"{settings.source_prefix} " if settings.source_prefix else ""

    def measure(texts: Sequence[str]) -> list[int]:
        return backend.count_tokens([prefix + t for t in texts])

    texts: list[tuple[Article, Source, list[Task]]] = []
    for article in articles:
        assert article.doc is not None
        paragraphs = {
            Source.ARTICLE: article.doc.paragraphs,
            Source.SUMMARY: [split_sentences(article.summary)] if article.summary else [],
        }
        for source in sources:
            tasks = _tasks(article, source, paragraphs[source], measure, limit, settings)
            texts.append((article, source, tasks))
    generate([t for *_, tasks in texts for t in tasks], backend, batch_tokens, Stage.TRANSLATE)
    for article, source, tasks in texts:
        if article.error is None:
            article.translations[source] = _assemble(article, source, tasks)


def translation_limit(tokens: int, settings: TranslatorSettings) -> int:
    """ratio x source + extra, rounded up onto a grid: segments of similar length then share
    identical options and so a batch, while each limit still depends on its own segment alone.
    Limits up to 15 stay exact; above, the step is at most 1/8 of the limit."""
    limit = math.ceil(tokens * settings.max_length_ratio) + settings.max_length_extra
    step = 1 << max(0, limit.bit_length() - _LIMIT_STEPS_PER_OCTAVE.bit_length())
    return -(-limit // step) * step


def _tasks(
    article: Article,
    source: Source,
    paragraphs: list[list[str]],
    measure: Measure,
    limit: int,
    settings: TranslatorSettings,
) -> list[Task]:
    prefix = f"{settings.source_prefix} " if settings.source_prefix else ""
    segments = pack_paragraphs(paragraphs, measure, limit)
    article.counts.segments(source, len(segments), sum(s.split for s in segments))
    return [
        Task(
            article,
            seg.paragraph,
            prefix + seg.text,
            seg.tokens,
            GenerateOptions(
                max_new_tokens=translation_limit(seg.tokens, settings),
                num_beams=settings.num_beams,
                no_repeat_ngram_size=settings.no_repeat_ngram_size,
                length_penalty=settings.length_penalty,
            ),
            glue=seg.glue,
        )
        for seg in segments
    ]


def _assemble(article: Article, source: Source, tasks: list[Task]) -> str:
    """Join segment translations back into paragraphs, in source order; warn of what looks cut."""
    by_paragraph: dict[int, list[tuple[str, str]]] = {}
    for task in tasks:
        paragraph, result = task.index, task.result
        assert result is not None
        where = f"{source.value} translation, paragraph {paragraph + 1}"
        if result.hit_limit and task.capped:
            article.warnings.append(
                f"{where}: a segment stopped at the model's output limit "
                f"({limit_origin(task, '')}) and may be cut (lower translator.max_input_tokens)"
            )
        elif result.hit_limit:
            article.warnings.append(
                f"{where}: a segment stopped at its length limit and may be cut "
                "(raise translator.max_length_ratio)"
            )
        elif len(task.text) > 80 and len(result.text) < _SHORT_TRANSLATION * len(task.text):
            article.warnings.append(
                f"{where}: translation is much shorter than its source; a sentence may have "
                "been dropped"
            )
        by_paragraph.setdefault(paragraph, []).append((task.glue, result.text))
    return "\n\n".join(reassemble(parts) for _, parts in sorted(by_paragraph.items()))
