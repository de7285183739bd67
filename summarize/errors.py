"""The exceptions summarize raises; each message names the file or key and the reason."""

from __future__ import annotations


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
