"""Real `summarize serve` processes for the tests: started, awaited and stopped under timeouts."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from summarize.config import load_config
from summarize.identity import settings_identity
from summarize.protocol import receive, receive_bytes, send
from tests.conftest import ECHO, ECHO_SETTINGS, SEEDS

#: every wait of these tests ends by then, so a hang fails instead of stalling the suite
TIMEOUT = 60


@contextmanager
def socket_folder() -> Iterator[Path]:
    """A fresh private folder for the sockets of one test, apart from its tmp_path."""
    root = Path(tempfile.mkdtemp(prefix="sv", dir="/tmp"))
    try:
        yield root / "s"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def environment(sockets: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SUMMARIZE_SERVER_DIR": str(sockets), **extra}
    env.pop("SUMMARIZE_SERVER", None)
    return env


def articles(folder: Path, count: int) -> list[Path]:
    """``count`` different articles (a distinct first sentence each) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (SEEDS / "kadhimi-ambassadors.txt").read_text(encoding="utf-8")
    made = []
    for i in range(count):
        path = folder / f"story{i}.txt"
        path.write_text(f"Story number {i} begins here today.\n{text}", encoding="utf-8")
        made.append(path)
    return made


class Server:
    """A `summarize serve` process with its log in a file (and its own ``umask``, if given)."""

    def __init__(
        self,
        sockets: Path,
        log: Path,
        *args: str,
        settings: Sequence[str] = ECHO,
        umask: int = -1,
    ):
        self.log = log
        self.settings = list(settings)
        self.env = environment(sockets)
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "summarize", "serve", *self.settings, "-vv", *args],
                stdout=out,
                stderr=out,
                env=self.env,
                umask=umask,
            )
        self.socket = self.wait_for("serving on ").split("serving on ", 1)[1].strip()

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, needle: str) -> str:
        """The first log line with ``needle``, once the server has written it."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if needle in line:
                    return line
            if self.process.poll() is not None and needle not in self.text():
                raise AssertionError(f"the server ended: {self.text()}")
            time.sleep(0.05)
        raise AssertionError(f"no {needle!r} in the server's log: {self.text()}")

    def engine_calls(self) -> int:
        return self.text().count("echo generate:")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=TIMEOUT)


def summarize(
    cwd: Path,
    sockets: Path,
    *args: str,
    settings: Sequence[str] = ECHO,
    stdin: bytes = b"",
    umask: int = -1,
    **env: str,
) -> subprocess.CompletedProcess[bytes]:
    """One `summarize` call in ``cwd`` (with its own ``umask`` and more environment variables,
    if given), under a timeout."""
    return subprocess.run(
        [sys.executable, "-m", "summarize", *args[:1], *settings, *args[1:]],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=environment(sockets, **env),
        timeout=TIMEOUT,
        check=False,
        umask=umask,
    )


def start_caller(
    cwd: Path,
    sockets: Path,
    *args: str,
    settings: Sequence[str] = ECHO,
    mode: str = "--server",
    umask: int = -1,
) -> subprocess.Popen[bytes]:
    """A `summarize run --server` call (or another ``mode``) left running, to interrupt it or
    to run several."""
    return subprocess.Popen(
        [sys.executable, "-m", "summarize", "run", mode, *settings, *args],
        cwd=cwd,
        env=environment(sockets),
        stderr=subprocess.PIPE,
        umask=umask,
    )


def timeless(text: bytes) -> str:
    """stderr without timings, and without the model loading a served run does not do."""
    lines = text.decode().splitlines()
    kept = [line for line in lines if "loading models" not in line and "models loaded" not in line]
    return re.sub(r"\(\d+\.\d s\)", "(_ s)", "\n".join(kept))


class FakeServer:
    """A server for the echo settings that answers every run with the ``replies`` given
    (messages, or frames as raw bytes), to see what a client makes of them; ``None`` among
    them: say nothing more and keep the connection open, as a frozen server does."""

    def __init__(self, sockets: Path, replies: Sequence[dict[str, object] | bytes | None]):
        sockets.mkdir(mode=0o700, parents=True, exist_ok=True)
        config = load_config(None, ECHO_SETTINGS)
        self.path = sockets / f"{settings_identity(config).server[:16]}.sock"
        self.replies = list(replies)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(8)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.05)  # a closed listener does not wake a blocked accept
        while not self.done.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(TIMEOUT)
                request = receive(conn)
                if request and request.get("stdin"):
                    receive_bytes(conn, int(str(request["stdin"])))
                for reply in self.replies:
                    if reply is None:
                        self.done.wait(TIMEOUT)
                        break
                    with contextlib.suppress(OSError):
                        if isinstance(reply, bytes):
                            conn.sendall(struct.pack(">I", len(reply)) + reply)
                        else:
                            send(conn, reply)

    def close(self) -> None:
        self.done.set()
        self.thread.join(timeout=TIMEOUT)
        self.listener.close()
