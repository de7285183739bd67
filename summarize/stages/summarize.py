"""Summarize: token-budgeted chunks, and map-reduce over long articles that converges."""

from __future__ import annotations

from summarize.backends import Backend, GenerateOptions
from summarize.batching import Task, by_owner, generate, limit_origin
from summarize.chunking import Piece, pack
from summarize.records import Article, Stage
from summarize.settings import SummarizerSettings
from summarize.text import split_sentences

__all__ = ["input_limit", "summarize"]

# Map-reduce shrinks the text each round (at least 4-fold, see _chunk_summary_length); this many
# rounds summarise far more than any article, and the last one is made to fit in one chunk.
_MAX_ROUNDS = 8
# A chunk summary's length limit is never below this fraction of the summarizer's input, so that
# an article of very many chunks still gets summaries that say something.
_CHUNK_SUMMARY_FLOOR = 8


def summarize(
    articles: list[Article], backend: Backend, settings: SummarizerSettings, batch_tokens: int
) -> None:
    """Summaries for all articles, batched together; long articles go map-reduce.

    Each round packs every pending article's text into chunks that fit the model; an article
    with one chunk gets its summary, one with several goes on with its joined chunk summaries.
    Each chunk summary gets its share of the model's input, so the joined summaries fit the
    next round; should a model's output not shrink anyway, the last round keeps what fits
    and says so.
    """
    limit = input_limit(backend, settings)
    (overhead,) = backend.count_tokens([""])  # the special tokens (or prompt) every input carries
    pending = {a: a.doc.sentences for a in articles if a.doc is not None}
    previous: dict[Article, int] = {}
    for a in pending:
        a.counts.summary_chunks = a.counts.summary_rounds = 0
    for round_no in range(1, _MAX_ROUNDS + 1):
        if not pending:
            return
        tasks = []
        for article, sentences in pending.items():
            chunks = pack(sentences, backend.count_tokens, limit)
            total = sum(c.tokens for c in chunks)
            stuck = total >= previous.get(article, total + 1) or round_no == _MAX_ROUNDS
            if len(chunks) > 1 and stuck:
                chunks = _keep_first_chunk(article, chunks, round_no, limit)
            previous[article] = total
            if round_no == 1:
                article.counts.summary_chunks = len(chunks)
            article.counts.summary_rounds = round_no
            longest = _chunk_summary_length(settings.max_length, limit - overhead, len(chunks))
            tasks += [
                Task(article, i, c.text, c.tokens, _summary_options(settings, c.tokens, longest))
                for i, c in enumerate(chunks)
            ]
        generate(tasks, backend, batch_tokens, Stage.SUMMARIZE)
        pending = _next_round(tasks, round_no)


def input_limit(backend: Backend, settings: SummarizerSettings) -> int:
    """The longest input the summarizer is given, in its tokens: the setting, the model's
    limit, and for a decoder-only model what its context leaves beside a summary of
    max_length tokens (a whole article in one pass where it fits, else map-reduce)."""
    limit = min(settings.max_input_tokens, backend.max_input_tokens)
    if backend.context_tokens:
        limit = min(limit, backend.context_tokens - settings.max_length)
    return limit


def _chunk_summary_length(max_length: int, budget: int, chunks: int) -> int:
    """The longest summary of one of ``chunks`` chunks, in generated tokens.

    Alone, an article's summary may be max_length long. Of several chunks, each summary gets
    its share of ``budget`` (the input limit less special tokens, one token each for the
    space that joins it), so that together they fit the next round's input; never less than
    1/_CHUNK_SUMMARY_FLOOR of it, which still shrinks the text at least 4-fold each round
    (chunks are over half full on average: two neighbours did not fit in one).
    """
    if chunks <= 1:
        return max_length
    share = budget // chunks - 1
    floor = max(1, (budget + 1) // _CHUNK_SUMMARY_FLOOR)
    return min(max_length, max(share, floor))


def _keep_first_chunk(
    article: Article, chunks: list[Piece], round_no: int, limit: int
) -> list[Piece]:
    """The last resort when chunk summaries do not shrink: summarise what fits, and say so."""
    total = sum(c.tokens for c in chunks)
    article.warnings.append(
        f"summary round {round_no}: the chunk summaries no longer shrink; the summary is made "
        f"from the first {chunks[0].tokens} of their {total} tokens (the summarizer reads "
        f"{limit}), and the rest is left out"
    )
    return chunks[:1]


def _summary_options(
    settings: SummarizerSettings, input_tokens: int, longest: int
) -> GenerateOptions:
    return GenerateOptions(
        max_new_tokens=longest,
        # A short input cannot support a long minimum: the model would pad it with invention.
        min_new_tokens=min(settings.min_length, input_tokens // 2, longest),
        num_beams=settings.num_beams,
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
        length_penalty=settings.length_penalty,
    )


def _next_round(tasks: list[Task], round_no: int) -> dict[Article, list[str]]:
    next_round: dict[Article, list[str]] = {}
    for article, own in by_owner(tasks).items():
        if article.error is not None:
            continue
        results = [t.result for t in own if t.result is not None]
        cut = [t for t in own if t.result is not None and t.result.hit_limit]
        if cut:
            origin = limit_origin(cut[0], "summarizer.max_length or the chunk's input share")
            article.warnings.append(
                f"summary round {round_no}: {len(cut)} of {len(results)} chunk summaries "
                f"stopped at their length limit ({origin})"
            )
        if len(results) == 1:
            article.summary = results[0].text
            if not article.summary:
                article.warnings.append("the summarizer produced an empty summary")
        else:
            if round_no == 1:
                article.notes.append(
                    f"article longer than the summarizer's input: summarised in "
                    f"{len(results)} chunks, then their summaries (map-reduce)"
                )
            joined = " ".join(r.text for r in results if r.text)
            next_round[article] = split_sentences(joined) or [joined]
    return next_round
