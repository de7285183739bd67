"""A run request as the server reads it: each field checked before anything is planned."""

from __future__ import annotations

import pytest

from summarize.protocol import VERSION, ProtocolError
from summarize.run_request import parse_request

BASE = {"type": "run", "version": VERSION, "settings": "s", "cwd": "/", "paths": ["a.txt"]}


def test_requests_are_checked_field_by_field() -> None:
    base = {"type": "run", "version": VERSION, "settings": "s", "cwd": "/", "paths": ["-"]}
    with pytest.raises(ProtocolError, match="stdin"):
        parse_request(base, "s")
    with pytest.raises(ProtocolError, match="base64"):
        parse_request({**base, "stdin": "!!"}, "s")
    with pytest.raises(ProtocolError, match="force"):
        parse_request({**base, "stdin": "", "force": "yes"}, "s")
    request = parse_request({**base, "stdin": "aGk="}, "s")
    assert (request.stdin, request.paths, request.force) == (b"hi", ["-"], False)


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
    ],
)
def test_a_bad_field_is_named(change: dict[str, object], why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        parse_request({**BASE, **change}, "s")
