"""The server's wire and place: framing and its limit, the private folder, the peer check."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import struct
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarize import protocol, server_replies
from summarize.config import load_config
from summarize.errors import UsageError
from summarize.identity import settings_identity
from summarize.report import ArticleResult, Flag, Status
from summarize.settings import Config
from tests.serving import socket_folder


def test_messages_round_trip_any_file_name() -> None:
    left, right = socket.socketpair()
    with left, right:
        message = {"paths": ["caf\u00e9.txt", "bad\udcff.txt"], "n": 3}
        protocol.send(left, message)
        assert protocol.receive(right) == message
        left.close()
        assert protocol.receive(right) is None  # closed between messages


def test_an_oversized_or_cut_message_is_refused() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack(">I", 1000) + b"x" * 10)
        with pytest.raises(protocol.ProtocolError, match="over the limit"):
            protocol.receive(right, limit=100)
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack(">I", 10) + b"{}")
        left.close()
        with pytest.raises(protocol.ProtocolError, match="closed in the middle"):
            protocol.receive(right)
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack(">I", 2) + b"[]")
        with pytest.raises(protocol.ProtocolError, match="not a JSON object"):
            protocol.receive(right)


def test_a_message_over_the_request_limit_goes_in_frames_to_whom_takes_it() -> None:
    """A result's texts are as long as its article (Arabic is six bytes a letter once
    escaped): one over 64 MiB was refused by send, and the caller 'lost the server'."""
    message = {"texts": {"article_ar": "\u0627" * (11 * 2**20 + 1)}}
    for limit, taken in ((None, True), (protocol.MAX_MESSAGE, False)):
        left, right = socket.socketpair()
        with left, right:
            right.settimeout(60)  # a send that fails must fail the test, not hang it
            writer = threading.Thread(target=_send_and_close, args=(left, message))
            writer.start()
            try:
                if taken:
                    assert protocol.receive(right, limit=limit) == message
                else:
                    with pytest.raises(protocol.ProtocolError, match="over the limit of 67108864"):
                        protocol.receive(right, limit=limit)
            finally:
                right.close()
                writer.join(timeout=60)


def _send_and_close(sock: socket.socket, message: dict[str, Any]) -> None:
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            protocol.send(sock, message)
    finally:
        sock.close()


def test_only_the_same_user_is_allowed() -> None:
    assert protocol.peer_allowed(1000, own=1000)
    assert not protocol.peer_allowed(1001, own=1000)
    assert not protocol.peer_allowed(0, own=1000)  # not even root
    left, right = socket.socketpair()
    with left, right:
        assert protocol.peer_uid(right) == os.getuid()
        assert protocol.peer_allowed(protocol.peer_uid(right))


def key(config: Config) -> str:
    return settings_identity(config).server


def test_the_folder_is_private_and_named_by_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket_folder() as folder:
        monkeypatch.setenv("SUMMARIZE_SERVER_DIR", str(folder))
        assert protocol.server_dir() == folder
        assert folder.stat().st_mode & 0o777 == 0o700
        default, other = load_config(None, []), load_config(None, ["output.summary={stem}.s.txt"])
        assert key(default) == key(load_config(None, []))
        assert key(default) != key(other)  # not in the outputs' identity, still apart
        assert protocol.socket_path("a" * 64) != protocol.socket_path("b" * 64)
        assert len(str(protocol.socket_path(key(default)))) < 107
        folder.chmod(0o755)
        with pytest.raises(UsageError, match="open to other users"):
            protocol.server_dir()
        folder.chmod(0o700)
        link = folder.parent / "link"
        link.symlink_to(folder)
        monkeypatch.setenv("SUMMARIZE_SERVER_DIR", str(link))
        with pytest.raises(UsageError, match="not a folder of this user's"):
            protocol.server_dir()


def test_the_runtime_folder_is_used_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket_folder() as folder:
        folder.mkdir(mode=0o700)
        monkeypatch.delenv("SUMMARIZE_SERVER_DIR", raising=False)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
        assert protocol.server_dir() == Path(folder) / "summarize"


TEXT = st.text(max_size=12)
FLAGS = st.builds(
    Flag,
    output=st.sampled_from(["summary", "summary_ar", "article_ar"]),
    segment=st.integers(0, 99),
    span=st.tuples(st.integers(0, 999), st.integers(0, 999)),
    check=TEXT,
    value=st.floats(allow_nan=False),
    threshold=st.floats(allow_nan=False),
    attempts=st.integers(1, 9),
    repaired=st.booleans(),
    output_span=st.none() | st.tuples(st.integers(0, 999), st.integers(0, 999)),
)
#: every field of ArticleResult, as the server may have to send it
RESULT_FIELDS = {
    "name": TEXT,
    "status": st.sampled_from(Status),
    "reason": TEXT,
    "outputs": st.lists(TEXT, max_size=4).map(tuple),
    "seconds": st.dictionaries(TEXT, st.floats(0, 1e6)),
    "warnings": st.lists(TEXT, max_size=3).map(tuple),
    "texts": st.none() | st.dictionaries(TEXT, TEXT, max_size=3),
    "flags": st.lists(FLAGS, max_size=3).map(tuple),
}


def test_the_wire_test_covers_every_field_of_a_result() -> None:
    # A field added to ArticleResult must be sent by the server and tried here.
    assert set(RESULT_FIELDS) == {f.name for f in dataclasses.fields(ArticleResult)}


@given(st.fixed_dictionaries(RESULT_FIELDS))
def test_results_survive_the_wire(fields: dict[str, Any]) -> None:
    result = ArticleResult(**fields)
    # as it goes over the wire
    message = json.loads(json.dumps(server_replies.encode(server_replies.Result(result))))
    assert server_replies.parse_reply(message) == server_replies.Result(result)


@pytest.mark.parametrize(
    "reply",
    [
        server_replies.Alive(),
        server_replies.LogLine("summarize.progress", 20, "done a.txt"),
        server_replies.Started(3),
        server_replies.Refused("refused: why"),
        server_replies.Ended(),
        server_replies.Stopped("the server was stopped by signal 15"),
        server_replies.Stopping(42),
        server_replies.ServerStatus(42, "echo", "echo", 1.5),
    ],
)
def test_every_reply_survives_the_wire_and_is_refused_with_a_field_more(
    reply: server_replies.Reply,
) -> None:
    message = json.loads(json.dumps(server_replies.encode(reply)))
    assert server_replies.parse_reply(message) == reply
    with pytest.raises(protocol.ProtocolError, match="missing or unknown: extra"):
        server_replies.parse_reply({**message, "extra": 1})
