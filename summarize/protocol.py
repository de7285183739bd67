"""The warm server's wire and place: framed JSON messages, the socket's private folder, peers."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from summarize import jsontext
from summarize.discovery import display_name
from summarize.errors import UsageError

__all__ = [
    "MAX_MESSAGE",
    "VERSION",
    "ProtocolError",
    "address",
    "peer_allowed",
    "peer_uid",
    "receive",
    "receive_bytes",
    "send",
    "server_dir",
    "socket_path",
]

#: the protocol's version: a client and a server of different versions refuse each other
#: (3: heartbeats, and a server that stops mid-run says so instead of ending the run)
VERSION = 3
#: the largest request the server accepts (its standard input follows it as bytes, up to
#: input.max_bytes; a result of any size comes back, in frames)
MAX_MESSAGE = 64 * 1024 * 1024
_HEADER = struct.Struct(">I")
#: a message goes in frames of at most this many bytes, each after its length; the length's
#: top bit says more frames follow (a message of one frame reads as in version 1, so an old
#: peer still reads the version it is refused for)
_FRAME = 16 * 1024 * 1024
_MORE = 1 << 31
#: overrides where the sockets live (tests: a short folder, as a socket path has at most 107 bytes)
DIR_VARIABLE = "SUMMARIZE_SERVER_DIR"


class ProtocolError(Exception):
    """A message that is cut short, too large, too deep or not a JSON object."""


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    """One message of ASCII JSON, in frames: a 4-byte big-endian length, then that many bytes.

    ASCII (``ensure_ascii``) carries any file name Python holds, lone surrogates included.
    """
    data = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    for start in range(0, len(data), _FRAME):
        frame = data[start : start + _FRAME]
        more = _MORE if start + _FRAME < len(data) else 0
        sock.sendall(_HEADER.pack(len(frame) | more) + frame)


def receive(sock: socket.socket, limit: int | None = MAX_MESSAGE) -> dict[str, Any] | None:
    """The next message, of at most ``limit`` bytes (None: any), or None if the other side
    closed the connection between messages."""
    frames: list[bytes] = []
    size, more = 0, True
    while more:
        header = _exactly(sock, _HEADER.size, at_start=not frames)
        if header is None:
            return None
        (length,) = _HEADER.unpack(header)
        more = bool(length & _MORE)
        size += length & ~_MORE
        if limit is not None and size > limit:
            raise ProtocolError(f"message of {size} bytes or more, over the limit of {limit}")
        frames.append(receive_bytes(sock, length & ~_MORE))
    data = b"".join(frames)
    try:
        # Bounded in depth too: 100,000 '[' are far under the size limit, and json.loads
        # alone would recurse through them until a RecursionError.
        message = jsontext.loads(data, max_bytes=len(data))
    except jsontext.JsonError as exc:
        raise ProtocolError(f"not a JSON message ({exc})") from None
    if not isinstance(message, dict):
        raise ProtocolError("not a JSON object")
    return message


def receive_bytes(sock: socket.socket, size: int) -> bytes:
    """The next ``size`` bytes, which the other side sends after a message that says how many
    (a request's standard input)."""
    data = _exactly(sock, size, at_start=False)
    assert data is not None
    return data


def _exactly(sock: socket.socket, size: int, *, at_start: bool) -> bytes | None:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(size - got, 1 << 20))
        if not chunk:
            if at_start and got == 0:
                return None
            raise ProtocolError("the connection closed in the middle of a message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def server_dir() -> Path:
    """The private folder of this user's sockets: created 0700, refused if anyone else can
    enter it or it is not ours ($SUMMARIZE_SERVER_DIR, else $XDG_RUNTIME_DIR/summarize, else
    summarize-UID in the temporary folder)."""
    chosen = os.environ.get(DIR_VARIABLE)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if chosen:
        folder = Path(os.path.abspath(chosen))  # the server leaves the folder it started in
    elif runtime and os.path.isabs(runtime):
        folder = Path(runtime) / "summarize"
    else:
        folder = Path(tempfile.gettempdir()) / f"summarize-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError as exc:
        raise UsageError(
            f"{display_name(folder)}: cannot make the server folder ({exc.strerror or exc})"
        ) from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise UsageError(
            f"{display_name(folder)}: the server folder is not a folder of this user's"
        )
    if info.st_mode & 0o077:
        raise UsageError(
            f"{display_name(folder)}: the server folder is open to other users (mode "
            f"{stat.S_IMODE(info.st_mode):o}); make it 0700 or remove it"
        )
    return folder


def socket_path(key: str) -> Path:
    """The socket of the server for these settings (``key``: their identity's ``server``
    digest, see summarize.identity): a run with other settings never finds it."""
    return server_dir() / f"{key[:16]}.sock"


#: the longest path a Unix socket address holds (sun_path is 108 bytes on Linux, 104 on macOS,
#: with the terminating NUL)
_MAX_ADDRESS = 103


@contextlib.contextmanager
def address(path: Path) -> Iterator[str]:
    """An address to bind or connect to for the socket at ``path``, however long its folder:
    a path too long for a socket address is reached through the folder's descriptor in
    /proc/self/fd (Linux); elsewhere it is a usage error that names the folder."""
    if len(os.fsencode(path)) <= _MAX_ADDRESS:
        yield str(path)
        return
    if not os.path.isdir("/proc/self/fd"):
        raise UsageError(
            f"{display_name(path.parent)}: the server folder's path is too long for a socket; set "
            f"{DIR_VARIABLE} to a shorter folder"
        )
    try:
        folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    except OSError as exc:
        raise UsageError(f"{display_name(path.parent)}: {exc.strerror or exc}") from None
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


def peer_uid(sock: socket.socket) -> int | None:
    """The user id of the process at the other end (Linux SO_PEERCRED), or None if unknown."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def peer_allowed(uid: int | None, own: int | None = None) -> bool:
    """Only the user who started the server may use it (where the OS names the peer; elsewhere
    the 0700 folder is the guard)."""
    return uid is None or uid == (os.getuid() if own is None else own)
