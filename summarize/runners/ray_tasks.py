"""What the Ray runner's workers run: the read and write tasks, and the actors holding engines.

Plain functions of the stages, so Ray is imported only by the driver.
"""

from __future__ import annotations

from summarize.backends import Backend
from summarize.engines import Models, load_engine
from summarize.records import Article, Source, alive
from summarize.report import ArticleResult
from summarize.runners.bookkeeping import failed_result
from summarize.settings import Config, InputSettings
from summarize.stages.guard import guard
from summarize.stages.read import read
from summarize.stages.summarize import summarize
from summarize.stages.translate import translate
from summarize.stages.write import EngineInfo, describe_engines, write

__all__ = ["EngineActor", "Stepped", "read_task", "write_task"]

#: the articles after a step, and those that failed in it: (place in the batch, result)
Stepped = tuple[list[Article], list[tuple[int, ArticleResult]]]


def read_task(articles: list[Article], settings: InputSettings) -> Stepped:
    """The read stage, as a Ray task over one batch of articles."""
    read(articles, settings)
    return articles, _failed_in(articles, articles)


def _failed_in(articles: list[Article], live: list[Article]) -> list[tuple[int, ArticleResult]]:
    """The articles of ``live`` (alive as a step began) that failed in it."""
    began = {id(article) for article in live}
    return [
        (i, failed_result(article))
        for i, article in enumerate(articles)
        if id(article) in began and article.error is not None
    ]


def write_task(
    articles: list[Article], keep: list[int], config: Config, engines: EngineInfo, signature: str
) -> list[ArticleResult]:
    """The write stage, as a Ray task: the outputs of the articles at ``keep``; their results."""
    return write([articles[i] for i in keep], config, engines, signature)


class EngineActor:
    """An actor of a pool that holds one engine (the summarizer's or the translator's), loaded
    once, and runs its stage over each batch of articles."""

    def __init__(self, config: Config, role: str) -> None:
        self.config = config
        self.role = role
        self.failed: Exception | None = None
        self.engine: Backend | None = None
        try:
            self.engine = load_engine(role, config)
        except Exception as exc:  # an actor that fails to start says only its error's text
            self.failed = exc

    def describe(self) -> EngineInfo:
        """What its engine is, for the sidecar; the error that stopped it loading, as itself."""
        if self.failed is not None:
            raise self.failed
        return describe_engines(self._engines())

    def _engines(self) -> Models:
        if self.role == "summarizer":
            return Models(self.engine, None)
        return Models(None, self.engine)

    def run(self, articles: list[Article]) -> Stepped:
        """Its stage over one batch of articles (and the guard, in the last pool)."""
        config, engine = self.config, self.engine
        assert engine is not None, "describe() said why it is not loaded"
        live = alive(articles)
        if live and self.role == "summarizer":
            summarize(live, engine, config.summarizer, config.runtime.batch_tokens)
        elif live:
            sources = [Source(target) for target in config.output.translate]
            translate(live, engine, config.translator, sources, config.runtime.batch_tokens)
        # The guard runs once, in the last engine's pool, with the translator to repair with.
        if live and (self.role == "translator" or not config.needs_translator):
            guard(live, self._engines(), config)
        return articles, _failed_in(articles, live)
