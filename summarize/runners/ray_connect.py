"""Importing Ray and joining a cluster or starting a local Ray: bounded in time, said, quiet.

Joining an address where no cluster answers would otherwise retry for more than ten minutes,
printing only Ray's own "Failed to connect to GCS" lines; Ray's C++ core writes its warnings
straight to the process's stderr, whatever ``-q`` asks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from summarize.errors import UsageError

__all__ = ["INSTALL", "import_ray", "init_ray"]

log = logging.getLogger(__name__)
#: what a run is waiting for, shown unless -q (see cli._setup_logging)
status_log = logging.getLogger("summarize.progress.status")
#: Ray's own lines, written while it starts or joins: shown at -v
ray_log = logging.getLogger("summarize.ray")

INSTALL = "pip install 'summarize[ray]'"
_NO_CRASH_HANDLER = "RAY_DISABLE_FAILURE_SIGNAL_HANDLER"
#: Ray's C++ timeouts of one attempt to reach a cluster's GCS, read once, as Ray is imported
_CONNECT_TIMEOUTS = ("RAY_gcs_rpc_server_connect_timeout_s", "RAY_py_gcs_connect_timeout_s")
#: the attempt's seconds at Ray's defaults: two 5 s connections, a 30 s wait, a 1 s pause
_DEFAULT_ATTEMPT_S = 41.0
#: the attempts Ray makes (its Python loop, read at each init)
_ATTEMPTS = "RAY_gcs_server_port_wait_time_s"
_attempt_seconds = _DEFAULT_ATTEMPT_S


def import_ray(address: str | None = None, connect_timeout: float | None = None) -> Any:
    """The ``ray`` module; UsageError naming the extra to install without it.

    Imported to join ``address`` (or RAY_ADDRESS), Ray's attempts to reach the cluster are
    shortened to fit ``connect_timeout``: those timeouts are read as Ray is imported, and only
    by this process (Ray's own processes are on the cluster, with their own settings).
    """
    global _attempt_seconds
    # Ray's crash handler would take SIGTERM in this process too (a stack dump, then an abort):
    # the run stops on its own signals. Only this import reads the variable, so Ray's workers,
    # started later, keep their crash handler.
    settings = {_NO_CRASH_HANDLER: "1", **_quiet_core()}
    joining = address or os.environ.get("RAY_ADDRESS")
    each = None
    if joining and connect_timeout is not None:
        each = max(1, min(5, round(connect_timeout / 8)))
        settings.update(dict.fromkeys(_CONNECT_TIMEOUTS, str(each)))
    try:
        with _environment(settings):
            import ray
    except ImportError as exc:
        raise UsageError(f"--runner ray needs Ray ({exc}): {INSTALL}") from exc
    if each is not None and not any(name in os.environ for name in _CONNECT_TIMEOUTS):
        _attempt_seconds = 3.0 * each + 1
    # Ray's import put its own handler on its "ray" logger, which -q does not reach.
    logging.getLogger("ray").handlers[:] = [_ToOurLog()]
    return ray


class _ToOurLog(logging.Handler):
    """Ray's Python log lines into the tool's log: its errors as errors, the rest at -v."""

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelno if record.levelno >= logging.ERROR else logging.INFO
        ray_log.log(level, "ray: %s", record.getMessage())


def init_ray(call: Callable[..., Any], ray: Any, address: str | None, timeout: float) -> None:
    """Join the cluster at ``address`` (or RAY_ADDRESS), or start a local Ray, with ``call``
    (which runs Ray's init where it must run); UsageError naming the address when no cluster
    answers there within about ``timeout`` seconds (``ray.connect_timeout``).

    What Ray writes to stderr meanwhile goes to the log (shown at -v), and its warnings are
    kept out unless -v asks for them.
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    # Not Ray's handler on its "ray" logger: its lines go where the tool's logging says.
    quiet: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    settings = _quiet_core()
    if address is None:
        status_log.info("starting a local Ray (--ray-address joins a cluster instead)")
        settings["RAY_USAGE_STATS_ENABLED"] = "0"
        with _environment(settings), _stderr_to_log():
            call(ray.init, include_dashboard=False, **quiet)
        return
    status_log.info("joining the Ray cluster at %s (ray.connect_timeout = %g s)", address, timeout)
    _probe(address, timeout)
    settings[_ATTEMPTS] = str(max(1, int(timeout // _attempt_seconds)))
    try:
        with _environment(settings), _stderr_to_log():
            call(ray.init, address=address, **quiet)
    except (ConnectionError, TimeoutError) as exc:
        why = f"none answered within {timeout:g} s: {_first_line(exc)}"
        raise UsageError(_unanswered(address, why)) from exc
    except RuntimeError as exc:  # a cluster answered, and refused (another Ray version, say)
        raise UsageError(f"--ray-address {address}: cannot join: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _quiet_core() -> dict[str, str]:
    """The setting that keeps the warnings of Ray's C++ core off stderr, unless -v."""
    return {} if ray_log.isEnabledFor(logging.INFO) else {"RAY_BACKEND_LOG_LEVEL": "error"}


def _unanswered(address: str, why: str) -> str:
    return (
        f"--ray-address {address}: no Ray cluster there ({why}); check the address "
        "(`ray start --head` prints it), or raise ray.connect_timeout for a slow one"
    )


def _probe(address: str, timeout: float) -> None:
    """UsageError at once when nothing listens at a HOST:PORT ``address``: Ray itself would
    retry for the whole of ``timeout``. Other forms (``auto``, ``ray://``) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address or not host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except TimeoutError:
        why = f"no answer within {timeout:g} s"
        raise UsageError(_unanswered(address, why)) from None
    except OSError as exc:
        raise UsageError(_unanswered(address, exc.strerror or str(exc))) from None


@contextlib.contextmanager
def _environment(settings: dict[str, str]) -> Iterator[None]:
    """``settings`` in the environment for the block's length; a variable the user set wins."""
    mine = {name: value for name, value in settings.items() if name not in os.environ}
    os.environ.update(mine)
    try:
        yield
    finally:
        for name in mine:
            os.environ.pop(name, None)


@contextlib.contextmanager
def _stderr_to_log() -> Iterator[None]:
    """Ray's lines written to the process's stderr in the block (its C++ core writes there
    directly, not through Python's logging) go to the log instead, at INFO (-v)."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as caught:
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    ray_log.info("ray: %s", line.strip())
