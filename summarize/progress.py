"""Where a run reports its progress: the protocol the command line's bar implements."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NoProgress", "Progress"]


class Progress(Protocol):
    """Where the pipeline reports progress; the CLI puts a tqdm bar behind it."""

    def start(self, total: int) -> None: ...
    def stage(self, name: str) -> None: ...
    def advance(self, count: int = 1) -> None: ...


class NoProgress:
    """Progress reported to no one (a run called from code)."""

    def start(self, total: int) -> None:
        pass

    def stage(self, name: str) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass
