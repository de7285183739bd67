"""A run request as the server reads it: each field checked before anything is planned."""

from __future__ import annotations

import pytest

from summarize.protocol import VERSION, ProtocolError
from summarize.run_request import parse_request

BASE = {
    "type": "run", "version": VERSION, "settings": "s", "cwd": "/", "paths": ["a.txt"],
    "umask": 0o022,
}  # fmt: skip


def test_requests_are_checked_field_by_field() -> None:
    base = {**BASE, "paths": ["-"]}
    with pytest.raises(ProtocolError, match="stdin"):
        parse_request(base, "s", 10)
    for size in ("aGk=", -1, 11, True, 2.0):
        with pytest.raises(ProtocolError, match="stdin is not a number of bytes up to 10"):
            parse_request({**base, "stdin": size}, "s", 10)
    with pytest.raises(ProtocolError, match="force"):
        parse_request({**base, "stdin": 0, "force": "yes"}, "s", 10)
    request = parse_request({**base, "stdin": 10, "umask": 0o077}, "s", 10)
    assert (request.stdin_size, request.paths, request.force) == (10, ["-"], False)
    assert request.umask == 0o077


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"version": 0}, "protocol version"),
        ({"settings": "t"}, "not this server's"),
        ({"cwd": "rel"}, "absolute"),
        ({"paths": []}, "paths"),
        ({"paths": "a.txt"}, "paths"),
        ({"paths": ["a\0"]}, "NUL"),
        ({"exclude": "r.jsonl"}, "exclude"),
        ({"output_dir": 3}, "output_dir"),
        ({"log_levels": {"summarize": "DEBUG"}}, "log_levels"),
        ({"strict": 1}, "strict"),
        ({"fail_fast": "no"}, "fail_fast"),
        ({"command": "rm -rf"}, "unknown fields"),
        ({"umask": None}, "umask"),
        ({"umask": "077"}, "umask"),
        ({"umask": 0o1000}, "umask"),
        ({"umask": -1}, "umask"),
        ({"umask": False}, "umask"),
    ],
)
def test_a_bad_field_is_named(change: dict[str, object], why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        parse_request({**BASE, **change}, "s", 0)
