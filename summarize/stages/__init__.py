"""The pipeline's steps, each a function over a list of article records and what it runs on."""

from __future__ import annotations

from typing import Protocol

from summarize.backends import Backend

__all__ = ["Engines"]


class Engines(Protocol):
    """The loaded engines a run uses; None for a stage the configuration does not need."""

    @property
    def summarizer(self) -> Backend | None: ...

    @property
    def translator(self) -> Backend | None: ...
