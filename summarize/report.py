"""Per-article results, the counts and one-line summary of a run, and its exit code."""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ArticleResult", "Flag", "Report", "Status", "group_warnings"]

# A warning's location: "<stage>, paragraph 3: <what happened>" or "<stage> round 2: ...".
_LOCATED = re.compile(
    r"^(?P<head>[^:]*?\b(?P<unit>paragraph|round|segment|chunk)) (?P<n>\d+)(?P<tail>:.*)$", re.S
)


class Status(str, enum.Enum):
    DONE = "done"
    #: done, with warnings in the sidecar worth a look (cut output, not English, ...)
    FLAGGED = "flagged"
    SKIPPED = "skipped"
    #: left to another run that holds the article's claim (or took it over)
    HELD = "held"
    FAILED = "failed"
    #: not attempted: the run was interrupted or stopped by --fail-fast
    NOT_DONE = "not done"


@dataclass(frozen=True)
class Flag:
    """A check one generated text failed (see summarize.guards), for the sidecar and reports.

    ``output`` is the output kind (summary, summary_ar, article_ar); ``segment`` the segment's
    index in that text (0 for a summary); ``span`` its source's characters [start, end) in
    the text it translates or summarises; ``value`` what was measured against ``threshold``;
    ``attempts`` the generations tried; ``repaired`` whether a retry passed the check;
    ``output_span`` the characters [start, end) of the segment's kept output in the output
    file's text, so a reader finds the Arabic that was flagged.
    """

    output: str
    segment: int
    span: tuple[int, int]
    check: str
    value: float
    threshold: float
    attempts: int = 1
    repaired: bool = False
    output_span: tuple[int, int] | None = None

    def describe(self) -> str:
        """E.g. ``article_ar segment 3 (characters 120-260): repetition 0.82 (threshold 0.4),
        3 attempts, kept as is``."""
        start, end = self.span
        return f"{self.output} segment {self.segment} (characters {start}-{end}): {self.verdict()}"

    def verdict(self) -> str:
        """E.g. ``script 0.17 (threshold 0.8), 2 attempts, kept as is``."""
        done = "repaired" if self.repaired else "kept as is"
        tries = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        return f"{self.check} {self.value:g} (threshold {self.threshold:g}), {tries}, {done}"

    def as_dict(self) -> dict[str, object]:
        return {
            "output": self.output,
            "segment": self.segment,
            "span": list(self.span),
            "check": self.check,
            "value": self.value,
            "threshold": self.threshold,
            "attempts": self.attempts,
            "repaired": self.repaired,
            **({} if self.output_span is None else {"output_span": list(self.output_span)}),
        }

    @classmethod
    def from_dict(cls, item: dict[str, Any]) -> Flag:
        """The flag :meth:`as_dict` wrote (``attempts`` and ``repaired`` may be left out);
        KeyError, TypeError, ValueError or IndexError if it is not one."""
        start, end = item["span"]
        placed = item.get("output_span")
        return cls(
            str(item["output"]), int(item["segment"]), (int(start), int(end)),
            str(item["check"]), float(item["value"]), float(item["threshold"]),
            int(item.get("attempts", 1)), bool(item.get("repaired", False)),
            None if placed is None else (int(placed[0]), int(placed[1])),
        )  # fmt: skip


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
    #: the checks its generated texts failed, repaired or not (see summarize.guards)
    flags: tuple[Flag, ...] = ()


@dataclass
class Report:
    """Collects results as the run goes; owns the exit code, like black's Report.

    ``sink`` is called with each result as it is added (e.g. to stream a JSONL report).
    """

    sink: Callable[[ArticleResult], None] | None = None
    results: list[ArticleResult] = field(default_factory=list)
    #: the signal number that stopped the run, if one did
    interrupted: int | None = None
    #: why the record of the run (e.g. the --report file) could not be written, if it could not
    sink_error: str | None = None
    #: ``K/N`` when the run took one shard of the articles (``--shard``)
    shard: str | None = None
    #: --strict: a flagged article counts as failed (its outputs are written all the same)
    strict: bool = False

    def add(self, result: ArticleResult) -> None:
        if self.strict and result.status is Status.FLAGGED:
            failed = [f for f in result.flags if not f.repaired]
            checks = ", ".join(dict.fromkeys(f"{f.output} {f.check}" for f in failed))
            why = f"{len(failed)} failed check(s): {checks}" if failed else "warnings"
            # Standard input has no sidecar: its checks are printed as warnings, or in --json.
            see = "its sidecar" if result.texts is None else "its warnings, or --json's flags"
            reason = f"{result.name}: flagged, failed by --strict ({why}; see {see})"
            result = dataclasses.replace(result, status=Status.FAILED, reason=reason)
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
        """0 all done or up to date, 1 some article failed or the report could not be written,
        128 + signal number if interrupted."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        return 1 if self.failures or self.sink_error is not None else 0

    def counts(self) -> dict[str, int]:
        """The one definition of each count, shared by the summary line and the totals.

        ``done`` includes ``flagged`` (done, with warnings); every other count is disjoint, so
        ``done + up to date + left out + left to another run + skipped + failed + not done`` is
        all articles.
        """
        flagged = self.count(Status.FLAGGED)
        skipped = [r.reason for r in self.results if r.status is Status.SKIPPED]
        current = sum(1 for reason in skipped if reason.startswith("up to date"))
        left_out = sum(1 for reason in skipped if reason.startswith("left out"))
        return {
            "done": self.count(Status.DONE) + flagged,
            "flagged": flagged,
            "up to date": current,
            "left out": left_out,
            "left to another run": self.count(Status.HELD),
            "skipped": len(skipped) - current - left_out,
            "failed": self.count(Status.FAILED),
            "not done": self.count(Status.NOT_DONE),
        }

    def totals(self) -> dict[str, int]:
        """The counts of :meth:`counts`, plus ``articles``: every article the run saw."""
        return {"articles": len(self.results), **self.counts()}

    def summary_line(self) -> str:
        """E.g. ``12 articles done (2 flagged), 3 up to date, 1 failed (shard 2/8)``."""
        counts = self.counts()
        done, flagged = counts.pop("done"), counts.pop("flagged")
        parts = [f"{done} article{'s' if done != 1 else ''} done"]
        if flagged:
            parts[0] += f" ({flagged} flagged)"
        parts += [f"{n} {label}" for label, n in counts.items() if n]
        line = ", ".join(parts)
        return line if self.shard is None else f"{line} (shard {self.shard})"


@dataclass
class _Group:
    head: str
    unit: str
    tail: str
    places: list[int] = field(default_factory=list)


def group_warnings(warnings: Sequence[str]) -> list[str]:
    """Repeats of one warning as one line, with how many times and where, in first-seen order.

    ``a, paragraph 2: cut`` three times and ``a, paragraph 5: cut`` once become
    ``a, paragraphs 2, 5 (4 times): cut``; a warning with no location is counted alike.
    """
    groups: dict[tuple[str, str, str], _Group] = {}
    for warning in warnings:
        match = _LOCATED.match(warning)
        if match is None:
            key, place = (warning, "", ""), 0
        else:
            key, place = (match["head"], match["unit"], match["tail"]), int(match["n"])
        groups.setdefault(key, _Group(*key)).places.append(place)
    return [_describe(group) for group in groups.values()]


def _describe(group: _Group) -> str:
    count = len(group.places)
    times = f" ({count} times)" if count > 1 else ""
    if not group.unit:
        return f"{group.head}{times}"
    distinct = sorted(set(group.places))
    unit = group.unit if len(distinct) == 1 else f"{group.unit}s"
    where = f"{group.head[: -len(group.unit)]}{unit} {_ranges(distinct)}"
    return f"{where}{times}{group.tail}"


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` as ``1-3, 5``."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
