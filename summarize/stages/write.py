"""Write: each article's output texts and its sidecar, and the result the report records."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

from summarize.config import as_dict
from summarize.discovery import display_name
from summarize.outputs import Outputs, output_paths, texts_by_kind, write_outputs
from summarize.records import Article, Stage
from summarize.report import ArticleResult, Status, group_warnings
from summarize.settings import Config
from summarize.sidecar import Engine, InputRecord, Sidecar
from summarize.stages import Engines
from summarize.version import __version__

__all__ = ["describe_engines", "write"]

log = logging.getLogger(__name__)

#: the engines' part of a sidecar: role -> model, device and dtype
EngineInfo = dict[str, dict[str, str]]


def describe_engines(engines: Engines) -> EngineInfo:
    """What each loaded engine is, for the sidecar: plain data, unlike the engines themselves."""
    return {
        role: {
            "model": b.model_id,
            "device": b.device,
            "dtype": b.dtype,
            "engine": b.engine,
            "family": b.family,
        }
        for role, b in (("summarizer", engines.summarizer), ("translator", engines.translator))
        if b is not None
    }


def write(
    articles: list[Article], config: Config, engines: EngineInfo, signature: str
) -> list[ArticleResult]:
    """Write each article's outputs, its sidecar last; the result of each, failed or not.

    A standard-input article writes nothing: its result carries the texts to print.
    """
    return [_finish(article, config, engines, signature) for article in articles]


def _finish(article: Article, config: Config, engines: EngineInfo, sig: str) -> ArticleResult:
    name = article.name
    if article.error is not None:
        # A standard-input article always carries texts (none here), so the CLI answers it.
        texts: dict[str, str] | None = {} if article.outputs is None else None
        return ArticleResult(
            name, Status.FAILED, article.error, seconds=article.timings(), texts=texts
        )
    # Grouped once here, so the sidecar, the report and the log all say the same thing.
    article.warnings = group_warnings(article.warnings)
    for warning in article.warnings:
        log.info("%s: %s", name, warning)
    for note in article.notes:
        log.info("%s: note: %s", name, note)
    # A repaired segment is recorded, but only a check still failed flags the article.
    unrepaired = any(not flag.repaired for flag in article.flags)
    status = Status.FLAGGED if article.warnings or unrepaired else Status.DONE
    by_source = {source.value: text for source, text in article.translations.items()}
    texts = texts_by_kind(article.summary, by_source)
    if article.outputs is None:  # standard input: the CLI prints the texts
        # The same outputs a file would get, named by the same rules.
        wanted = _named_outputs(output_paths(Path("-"), config.output))
        return ArticleResult(
            name,
            status,
            seconds=article.timings(),
            warnings=tuple(article.warnings),
            flags=tuple(article.flags),
            texts={k: v for k, v in texts.items() if k in wanted},
        )
    outputs = article.outputs
    by_path = {path: texts[key] for key, path in _named_outputs(outputs).items()}
    started = time.perf_counter()
    try:
        write_outputs(outputs, by_path, _sidecar(article, config, engines, sig).as_dict())
    except OSError as exc:
        # write_atomic names its output; the folder stands in for a step that names nothing.
        where = display_name(exc.filename or outputs.sidecar.parent)
        reason = f"{name}: cannot write outputs ({exc.strerror or exc}: {where})"
        return ArticleResult(name, Status.FAILED, reason, seconds=article.timings())
    article.add_time(Stage.WRITE, time.perf_counter() - started)
    return ArticleResult(
        name,
        status,
        article.reason,
        outputs=tuple(display_name(p) for p in (*outputs.texts(), outputs.sidecar)),
        seconds=article.timings(),
        warnings=tuple(article.warnings),
        flags=tuple(article.flags),
    )


def _sidecar(article: Article, config: Config, engines: EngineInfo, sig: str) -> Sidecar:
    assert article.outputs is not None and article.doc is not None
    counts = article.counts.as_dict()
    return Sidecar(
        tool=f"summarize {__version__}",
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        input=InputRecord.read(article.input_info),
        signature=sig,
        settings=as_dict(config),
        engines={r: Engine(**i) for r, i in engines.items()},
        # The names as they are (not as shown), so a reader finds the files by them.
        outputs={key: path.name for key, path in _named_outputs(article.outputs).items()},
        counts=counts,
        map_reduce=counts.get("summary_chunks", 1) > 1,
        seconds={k: round(v, 4) for k, v in article.timings().items()},
        removed_lines=tuple(article.doc.removed),
        warnings=tuple(article.warnings),
        notes=tuple(article.notes),
        flags=tuple(article.flags),
    )


def _named_outputs(outputs: Outputs) -> dict[str, Path]:
    return outputs.by_kind()
