"""The typed record of one article as it moves through the stages, and what it counts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields

from summarize.discovery import Job
from summarize.outputs import Outputs
from summarize.report import Flag
from summarize.text import Document

__all__ = ["Article", "Counts", "Generated", "Source", "Stage", "alive"]


class Source(str, enum.Enum):
    """A text that can be translated: the article itself, or its summary (``output.translate``)."""

    SUMMARY = "summary"
    ARTICLE = "article"


class Stage(str, enum.Enum):
    """A step an article's time is counted under (the sidecar's and the report's ``seconds``)."""

    READ = "read"
    SUMMARIZE = "summarize"
    TRANSLATE = "translate"
    #: the output guards' repair retries (their own batches, logged and timed apart)
    GUARD = "guard"
    WRITE = "write"


@dataclass
class Generated:
    """One generated segment of a translated text, kept until the guard has checked it.

    ``source`` is the segment as cut from the text (no language prefix), ``span`` its
    characters [start, end) in that text; ``glue`` joins it to the previous segment of its
    paragraph when the translation is put back together.
    """

    paragraph: int
    source: str
    span: tuple[int, int]
    tokens: int
    output: str
    hit_limit: bool
    glue: str = " "
    #: its length limit was lowered to what the model can generate
    capped: bool = False


@dataclass
class Counts:
    """What the stages counted; None for what a stage that did not run would have counted."""

    characters: int | None = None
    paragraphs: int | None = None
    sentences: int | None = None
    summary_chunks: int | None = None
    summary_rounds: int | None = None
    summary_segments: int | None = None
    summary_split_sentences: int | None = None
    article_segments: int | None = None
    article_split_sentences: int | None = None
    #: generation limits lowered to what the model can generate (counted once it happens)
    capped_by_model: int | None = None

    def segments(self, source: Source, segments: int, split_sentences: int) -> None:
        """Count a translated text's segments, and the sentences split across segments."""
        if source is Source.SUMMARY:
            self.summary_segments, self.summary_split_sentences = segments, split_sentences
        else:
            self.article_segments, self.article_split_sentences = segments, split_sentences

    def capped(self) -> None:
        """Count one generation limit lowered to what the model can generate."""
        self.capped_by_model = (self.capped_by_model or 0) + 1

    def as_dict(self) -> dict[str, int]:
        """The sidecar's ``counts``: what was counted, by name."""
        counted = ((f.name, getattr(self, f.name)) for f in fields(self))
        return {name: value for name, value in counted if value is not None}


@dataclass(eq=False)
class Article:
    """One article's state while it moves through the stages; each stage fills in its part.

    Compared by identity: tasks and batches find their article by it. Everything it holds is
    plain data, so a record can be pickled between stages (to another process or machine).
    """

    job: Job
    #: where its results go; None for standard input (the command line prints them)
    outputs: Outputs | None
    #: why it is being done (new, input changed, ...): the report says so
    reason: str
    doc: Document | None = None
    #: what was read, for the sidecar (path, size, hash; see files.fingerprint)
    input_info: dict[str, object] = field(default_factory=dict)
    summary: str = ""
    translations: dict[Source, str] = field(default_factory=dict)
    #: each translated text's segments, in order, as generated (then repaired by the guard)
    generated: dict[Source, list[Generated]] = field(default_factory=dict)
    #: the checks its outputs failed (see stages.guard)
    flags: list[Flag] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    seconds: dict[Stage, float] = field(default_factory=dict)
    #: what is worth a look in its outputs: a warning flags the article
    warnings: list[str] = field(default_factory=list)
    #: how it was done, for the record (map-reduce, a check skipped): flags nothing
    notes: list[str] = field(default_factory=list)
    #: why it failed (its first failure); a failed article goes through no further stage
    error: str | None = None

    @property
    def name(self) -> str:
        return self.job.name

    def fail(self, reason: str) -> None:
        if self.error is None:
            self.error = reason

    def add_time(self, stage: Stage, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def timings(self) -> dict[str, float]:
        """Seconds per stage, by the stage's name."""
        return {stage.value: seconds for stage, seconds in self.seconds.items()}

    def drop_texts(self) -> None:
        """Once written, an article's texts are not needed: memory stays flat over a long run."""
        self.doc = None
        self.summary = ""
        self.translations = {}
        self.generated = {}


def alive(articles: list[Article]) -> list[Article]:
    """The articles that have not failed."""
    return [a for a in articles if a.error is None]
