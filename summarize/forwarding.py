"""The server's log records, sent to the clients whose run they are about, at their levels."""

from __future__ import annotations

import logging
import threading

from summarize.run_request import Request
from summarize.server_replies import LogLine

__all__ = ["Forward", "forward_all"]


class Forward(logging.Handler):
    """The run's log records, to the clients whose run it is, at each client's own levels."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.recipients: list[Request] = []

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        progress = record.name.startswith("summarize.progress")
        message = record.getMessage()
        # "<article>: ..." goes to the client of that article alone
        about = message.split(": ", 1)[0]
        owners = [r for r in self.recipients if about in r.names]
        for req in owners or self.recipients:
            level = req.log_levels.get("summarize.progress" if progress else "summarize", 30)
            if record.levelno >= level:
                req.tell(LogLine(record.name, record.levelno, message))


def forward_all(forward: Forward) -> None:
    """Make every record, for the clients' levels; the server's own log keeps its levels."""
    root = logging.getLogger("summarize")
    progress = logging.getLogger("summarize.progress")
    own = _OwnLevels(root.getEffectiveLevel(), progress.getEffectiveLevel())
    for handler in root.handlers:
        handler.addFilter(own)
    root.setLevel(logging.DEBUG)
    progress.setLevel(logging.NOTSET)
    root.addHandler(forward)


class _OwnLevels(logging.Filter):
    """The levels the server's own log was set up with (cli._setup_logging)."""

    def __init__(self, level: int, progress: int) -> None:
        super().__init__()
        self.level = level
        self.progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        progress = record.name.startswith("summarize.progress")
        return record.levelno >= (self.progress if progress else self.level)
