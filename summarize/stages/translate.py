"""Translate: sentences into segments within the translator's budget, generated, reassembled."""

from __future__ import annotations

import math
from collections.abc import Sequence

from summarize.backends import Backend, GenerateOptions
from summarize.batching import Task, generate, limit_origin
from summarize.chunking import Measure, pack_paragraphs, reassemble
from summarize.records import Article, Generated, Source, Stage
from summarize.settings import TranslatorSettings
from summarize.text import Paragraph, segment_paragraph

__all__ = [
    "assemble",
    "input_limit",
    "output_spans",
    "reply_limit",
    "translate",
    "translation_limit",
]

# Translation length limits are rounded up to a grid with this many steps per doubling (see
# translation_limit): at most 1/8 more than asked, and similar segments batch together.
_LIMIT_STEPS_PER_OCTAVE = 8


def translate(
    articles: list[Article],
    backend: Backend,
    settings: TranslatorSettings,
    sources: Sequence[Source],
    batch_tokens: int,
) -> None:
    """Translate the ``sources`` (article and/or summary) of every article, batched together.

    Each text goes sentence by sentence into segments that never cross a paragraph; the
    translations are joined back in order, each segment's glue what stood before it in the
    source, so that a translation that gave back its input would give back the source. The
    segments stay on the record (``generated``) for the guard, which checks and repairs them
    and joins them again (:func:`assemble`).
    """
    limit = input_limit(backend, settings)

    def measure(texts: Sequence[str]) -> list[int]:
        # The engine counts what it sends: a language token or prefix its family needs too.
        return backend.count_tokens(texts)

    texts: list[tuple[Article, Source, list[Task]]] = []
    for article in articles:
        assert article.doc is not None
        paragraphs = {
            Source.ARTICLE: article.doc.paragraphs,
            Source.SUMMARY: [segment_paragraph(article.summary)] if article.summary else [],
        }
        for source in sources:
            tasks = _tasks(article, source, paragraphs[source], measure, limit, backend, settings)
            texts.append((article, source, tasks))
    generate([t for *_, tasks in texts for t in tasks], backend, batch_tokens, Stage.TRANSLATE)
    for article, source, tasks in texts:
        if article.error is None:
            article.generated[source] = _generated(article, source, tasks)
            article.translations[source] = assemble(article.generated[source])


def assemble(segments: Sequence[Generated]) -> str:
    """Join segment translations back into paragraphs, in source order."""
    by_paragraph: dict[int, list[tuple[str, str]]] = {}
    for seg in segments:
        by_paragraph.setdefault(seg.paragraph, []).append((seg.glue, seg.output))
    return "\n\n".join(reassemble(parts) for _, parts in sorted(by_paragraph.items()))


def output_spans(segments: Sequence[Generated]) -> list[tuple[int, int]]:
    """Where each segment's output stands in :func:`assemble`'s text, [start, end); an empty
    output gets an empty span where it would have been."""
    by_paragraph: dict[int, list[int]] = {}
    for index, seg in enumerate(segments):
        by_paragraph.setdefault(seg.paragraph, []).append(index)
    spans = [(0, 0)] * len(segments)
    offset = 0
    for number, (_, indices) in enumerate(sorted(by_paragraph.items())):
        offset += 2 if number else 0  # the blank line between paragraphs
        started = False
        for index in indices:
            seg = segments[index]
            if not seg.output:  # reassemble skips it, glue and all
                spans[index] = (offset, offset)
                continue
            offset += len(seg.glue) if started else 0
            spans[index] = (offset, offset + len(seg.output))
            offset += len(seg.output)
            started = True
    return spans


def source_text(article: Article, source: Source) -> str:
    """The text a source's segments are cut from, as their spans count characters."""
    assert article.doc is not None
    return article.doc.text if source is Source.ARTICLE else article.summary


def translation_limit(tokens: int, settings: TranslatorSettings) -> int:
    """ratio x source + extra, rounded up onto a grid: segments of similar length then share
    identical options and so a batch, while each limit still depends on its own segment alone.
    Limits up to 15 stay exact; above, the step is at most 1/8 of the limit."""
    limit = math.ceil(tokens * settings.max_length_ratio) + settings.max_length_extra
    step = 1 << max(0, limit.bit_length() - _LIMIT_STEPS_PER_OCTAVE.bit_length())
    return -(-limit // step) * step


def reply_limit(tokens: int, backend: Backend, settings: TranslatorSettings) -> int:
    """The length limit of a segment's translation, from its ``tokens`` as ``backend``
    counts them. An instruction model's count holds its prompt, which is not translated: the
    limit follows the text alone."""
    prompt = backend.count_tokens([""])[0] if backend.context_tokens else 0
    return translation_limit(max(1, tokens - prompt), settings)


def input_limit(backend: Backend, settings: TranslatorSettings) -> int:
    """The segment budget: the setting, the model's limit, and for a decoder-only model what
    its context leaves for a translation of the longest limit a segment may get (whole
    paragraphs in one segment where the budget and the context allow)."""
    limit = min(settings.max_input_tokens, backend.max_input_tokens)
    if backend.context_tokens:
        # t + translation_limit(t) <= context; the limit's grid adds at most 1/8.
        room = backend.context_tokens - settings.max_length_extra
        limit = min(limit, int(room / (1 + settings.max_length_ratio * 1.125)))
    return limit


def _tasks(
    article: Article,
    source: Source,
    paragraphs: list[Paragraph],
    measure: Measure,
    limit: int,
    backend: Backend,
    settings: TranslatorSettings,
) -> list[Task]:
    sentences = [p.sentences for p in paragraphs]
    segments = pack_paragraphs(sentences, measure, limit, [p.gaps for p in paragraphs])
    article.counts.segments(source, len(segments), sum(s.split for s in segments))
    return [
        Task(
            article,
            seg.paragraph,
            seg.text,
            seg.tokens,
            GenerateOptions(
                max_new_tokens=reply_limit(seg.tokens, backend, settings),
                num_beams=settings.num_beams,
                no_repeat_ngram_size=settings.no_repeat_ngram_size,
                length_penalty=settings.length_penalty,
            ),
            glue=seg.glue,
        )
        for seg in segments
    ]


def _generated(article: Article, source: Source, tasks: list[Task]) -> list[Generated]:
    """The tasks' outputs with their source and where it is; warns of outputs the model's own
    limit cut (a setting to change, not a model failure: the guard checks the rest)."""
    text = source_text(article, source)
    starts = [0]
    for block in text.split("\n\n"):
        starts.append(starts[-1] + len(block) + 2)
    segments: list[Generated] = []
    cursor, paragraph = 0, -1
    for task in tasks:
        result = task.result
        assert result is not None
        if task.index != paragraph:
            paragraph, cursor = task.index, starts[task.index]
        piece = task.text
        found = text.find(piece, cursor)
        start = found if found >= 0 else cursor
        cursor = start + len(piece)
        if result.hit_limit and task.capped:
            article.warnings.append(
                f"{source.value} translation, paragraph {paragraph + 1}: a segment stopped at "
                f"the model's output limit ({limit_origin(task, '')}) and may be cut (lower "
                "translator.max_input_tokens)"
            )
        segments.append(
            Generated(
                paragraph, piece, (start, cursor), task.tokens, result.text,
                result.hit_limit, task.glue, task.capped,
            )
        )  # fmt: skip
    return segments
