"""Stop signals: SIGINT, SIGTERM and SIGHUP stop a run once, and wait while a step must not be cut.

The command line installs :class:`StopSignals`; the first stop signal raises
:class:`~summarize.errors.Interrupted`, later ones are ignored so the run can clean up (release its
claims, report what was not done, end its report with the totals). Inside :func:`held` a signal
is only noted, and raised when the block ends: a claim taken is recorded before it can be
abandoned, a result added to the report is marked before it can be added twice. The handler is
Python's, so this holds whichever thread the operating system delivers the signal to.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from summarize.errors import Interrupted

__all__ = ["STOP_SIGNALS", "StopSignals", "held", "stop_on_signals"]

# A terminal hang-up stops a run like SIGTERM: a run outliving its session (no nohup) is lost.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """The handler for every stop signal of one command."""

    def __init__(self) -> None:
        self.stopping = False
        self.holding = 0
        self.pending: int | None = None
        self.ignored = 0

    def __call__(self, signum: int, frame: object) -> None:
        if self.stopping:
            self.ignored += 1
            if self.ignored == 1:
                # os.write: print could re-enter a write to stderr that this signal interrupted.
                os.write(2, b"summarize: already stopping; finishing the report\n")
            return
        if self.holding:
            self.pending = self.pending or signum
            return
        self.stop(signum)

    def stop(self, signum: int) -> None:
        self.stopping = True
        raise Interrupted(signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.holding += 1
        try:
            yield
        finally:
            self.holding -= 1
            if not self.holding and self.pending is not None and not self.stopping:
                self.stop(self.pending)


_installed: StopSignals | None = None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopSignals]:
    """Handle the stop signals for the duration of one command (from the main thread)."""
    global _installed
    stop = StopSignals()
    previous: dict[int, Any] = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    _installed = stop
    try:
        yield stop
    finally:
        _installed = None
        for signum, handler in previous.items():
            # Once stopping, more signals must not turn the exit code into a kill by signal.
            signal.signal(signum, signal.SIG_IGN if stop.stopping else handler)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold stop signals over a few steps that must not be cut in two; only steps that cannot
    block, since a held Ctrl-C cannot stop them."""
    if _installed is not None:
        with _installed.held():
            yield
        return
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are handled in the main thread: nothing reaches this one
        return
    # Without our handler (the library called directly), hold the signals themselves.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
