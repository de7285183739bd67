"""Read and clean: each article's bytes into paragraphs of sentences, and its language checked."""

from __future__ import annotations

import errno
import time
from typing import BinaryIO

from summarize.discovery import Job, display_name
from summarize.errors import InputError
from summarize.records import Article, Stage
from summarize.settings import InputSettings
from summarize.snapshot import FileTooLarge, read_snapshot
from summarize.state import fingerprint
from summarize.text import Document, detect_language, parse

__all__ = ["read", "read_failure", "read_one"]

# The language check speaks only about texts long enough, and when it is sure.
_LANGUAGE_MIN_CHARACTERS = 200
_LANGUAGE_CONFIDENCE = 0.9


def read(articles: list[Article], settings: InputSettings, stdin: BinaryIO | None = None) -> None:
    """Read, clean and check every article; one that cannot be read fails, naming why.

    ``stdin`` is where the standard-input article (the one without a path) is read from.
    """
    for article in articles:
        read_one(article, settings, stdin)


def read_one(article: Article, settings: InputSettings, stdin: BinaryIO | None = None) -> None:
    """Read one article: a runner that stops between articles calls this one at a time."""
    started = time.perf_counter()
    try:
        data = _load(article, settings.max_bytes, stdin)
        article.doc = parse(
            data,
            article.name,
            cleanup=settings.cleanup,
            require_article=settings.require_article,
        )
        _check_language(article, article.doc, settings.language_check)
    except InputError as exc:
        article.fail(str(exc))
    else:
        doc = article.doc
        article.counts.characters = doc.characters
        article.counts.paragraphs = len(doc.paragraphs)
        article.counts.sentences = len(doc.sentences)
    article.add_time(Stage.READ, time.perf_counter() - started)


def read_failure(job: Job, settings: InputSettings) -> str | None:
    """Why reading alone fails the file ``job`` (empty, not text, too large, ...), or None:
    what a dry run says of an article before any model is loaded. Nothing is kept."""
    article = Article(job, None, "")
    read_one(article, settings)
    return article.error


def _load(article: Article, max_bytes: int, stdin: BinaryIO | None) -> bytes:
    """The article's bytes, size-checked before reading so a huge file is never loaded.

    A file is opened without following a symlink (discovery resolved those it accepted), so
    one swapped in since cannot make the run read a file outside the tree; and without
    blocking, so a FIFO swapped in is refused instead of hanging the run.
    """
    name, path = article.name, article.job.source
    too_big = f"is more than input.max_bytes ({max_bytes}); raise it to process this file"
    try:
        if path is None:
            data = stdin.read(max_bytes + 1) if stdin is not None else b""
            article.input_info = {"path": name}
        else:
            data, stat = read_snapshot(path, max_bytes=max_bytes)
            article.input_info = {"path": name, **fingerprint(path, data, stat)}
    except FileTooLarge as exc:
        raise InputError(f"{name}: {exc.size} bytes {too_big}") from exc
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({_read_error(article.job, exc)})") from exc
    if len(data) > max_bytes:  # grew since stat, or standard input
        raise InputError(f"{name}: the input {too_big}")
    return data


def _read_error(job: Job, exc: OSError) -> str:
    if exc.errno != errno.ELOOP:
        return str(exc.strerror or exc)
    if job.target is None:
        return "it became a symlink after the run started; not followed"
    target = display_name(job.target)
    return f"{target} is a symlink, not followed (a loop, or replaced since the run started)"


def _check_language(article: Article, doc: Document, mode: str) -> None:
    if mode == "off" or doc.characters < _LANGUAGE_MIN_CHARACTERS:
        return  # too short to tell reliably
    try:
        language, probability = detect_language(doc.text)
    except Exception as exc:  # a broken detector must not fail the article, only say so
        article.notes.append(f"language check skipped: {exc}")
        return
    if language == "en" or probability < _LANGUAGE_CONFIDENCE:
        return
    message = f"mostly not English (detected {language!r}, probability {probability:.2f})"
    if mode == "refuse":
        raise InputError(
            f"{article.name}: {message}; set input.language_check = 'warn' to process it"
        )
    article.warnings.append(f"{message}: the models expect English")
