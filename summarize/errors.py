"""The exceptions summarize raises; each message names the file or key and the reason."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


class SummarizeError(Exception):
    """Base class for every error the tool reports to the user."""


class ConfigError(SummarizeError):
    """A configuration file or --set override is invalid (exit code 2)."""


class InputError(SummarizeError):
    """One input article cannot be processed (that article fails, the run goes on)."""


class ModelError(SummarizeError):
    """A model cannot be loaded or run; raised before any article is touched (exit code 2)."""


class UsageError(SummarizeError):
    """The command line asks for something impossible, e.g. a path that does not exist (exit 2)."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or another signal) asked the run to stop; handled like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def naming(
    path: str | os.PathLike[str], *, instead_of: str | os.PathLike[str] | None = None
) -> Iterator[None]:
    """Make every OSError raised inside name ``path``: one that names no file (a write that
    finds the disk full, an fsync) or names ``instead_of`` (a temporary file the user never
    saw) is raised again naming ``path``, so no message says "No space left on device" alone."""
    try:
        yield
    except OSError as exc:
        named = exc.filename
        if named is not None and (instead_of is None or os.fspath(named) != os.fspath(instead_of)):
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from exc
