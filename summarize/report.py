"""Per-article results, the counts and one-line summary of a run, and its exit code."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ArticleResult", "Report", "Status"]


class Status(str, enum.Enum):
    DONE = "done"
    #: done, with warnings in the sidecar worth a look (cut output, not English, ...)
    FLAGGED = "flagged"
    SKIPPED = "skipped"
    FAILED = "failed"
    #: not attempted: the run was interrupted or stopped by --fail-fast
    NOT_DONE = "not done"


@dataclass(frozen=True)
class ArticleResult:
    """What happened to one article; ``texts`` holds the outputs of a standard-input article."""

    name: str
    status: Status
    reason: str = ""
    outputs: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    texts: dict[str, str] | None = None


@dataclass
class Report:
    """Collects results as the run goes; owns the exit code, like black's Report.

    ``sink`` is called with each result as it is added (e.g. to stream a JSONL report).
    """

    sink: Callable[[ArticleResult], None] | None = None
    results: list[ArticleResult] = field(default_factory=list)
    #: the signal number that stopped the run, if one did
    interrupted: int | None = None

    def add(self, result: ArticleResult) -> None:
        self.results.append(result)
        if self.sink is not None:
            self.sink(result)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def failures(self) -> list[ArticleResult]:
        return [r for r in self.results if r.status is Status.FAILED]

    @property
    def exit_code(self) -> int:
        """0 all done or up to date, 1 some article failed, 128 + signal number if interrupted."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        return 1 if self.failures else 0

    def totals(self) -> dict[str, int]:
        return {status.value: self.count(status) for status in Status}

    def summary_line(self) -> str:
        """E.g. ``12 articles done (2 flagged), 3 up to date, 1 failed``."""
        flagged = self.count(Status.FLAGGED)
        done = self.count(Status.DONE) + flagged
        parts = [f"{done} article{'s' if done != 1 else ''} done"]
        if flagged:
            parts[0] += f" ({flagged} flagged)"
        skipped = [r for r in self.results if r.status is Status.SKIPPED]
        current = sum(1 for r in skipped if r.reason.startswith("up to date"))
        left_out = sum(1 for r in skipped if r.reason.startswith("left out"))
        counts = (
            (current, "up to date"),
            (left_out, "left out"),
            (len(skipped) - current - left_out, "left to another run"),
            (self.count(Status.FAILED), "failed"),
            (self.count(Status.NOT_DONE), "not done"),
        )
        parts += [f"{n} {label}" for n, label in counts if n]
        return ", ".join(parts)
