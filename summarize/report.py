"""Per-article results, the counts and one-line summary of a run, and its exit code."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["ArticleResult", "Report", "Status"]


class Status(str, enum.Enum):
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


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
    """Collects results as the run goes; owns the exit code, like black's Report."""

    results: list[ArticleResult] = field(default_factory=list)

    def add(self, result: ArticleResult) -> None:
        self.results.append(result)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def failures(self) -> list[ArticleResult]:
        return [r for r in self.results if r.status is Status.FAILED]

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0

    def summary_line(self) -> str:
        """E.g. ``12 articles done, 3 up to date, 1 failed``."""
        done, skipped, failed = (self.count(s) for s in Status)
        parts = [f"{done} article{'s' if done != 1 else ''} done"]
        if skipped:
            parts.append(f"{skipped} up to date")
        if failed:
            parts.append(f"{failed} failed")
        return ", ".join(parts)
