"""JSON from outside the tool is refused with a reason, never a RecursionError or MemoryError."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarize import jsontext

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=20,
)


@given(json_values)
def test_any_json_within_bounds_reads_back_as_written(value: object) -> None:
    text = json.dumps(value)
    assert jsontext.loads(text) == value
    assert jsontext.loads(text.encode("utf-8")) == value


@pytest.mark.parametrize("levels", [33, 500, 100_000])
def test_nesting_past_the_bound_is_refused_with_the_reason(levels: int) -> None:
    with pytest.raises(jsontext.JsonError, match="nested deeper than 32 levels"):
        jsontext.loads("[" * levels + "]" * levels)


def test_nesting_at_the_bound_is_read() -> None:
    assert jsontext.depth(jsontext.loads("[" * 32 + "]" * 32)) == 32


def test_an_unclosed_deep_nesting_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(jsontext.JsonError):
        jsontext.loads('{"a":' * 100_000)


def test_text_over_the_size_bound_is_refused_before_parsing() -> None:
    with pytest.raises(jsontext.JsonError, match="larger than 10 bytes"):
        jsontext.loads('"' + "x" * 20 + '"', max_bytes=10)


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"\xff{}", "not UTF-8"), ("{", "not valid JSON"), ("", "not valid JSON")],
)
def test_text_that_is_not_json_names_why(data: str | bytes, reason: str) -> None:
    with pytest.raises(jsontext.JsonError, match=reason):
        jsontext.loads(data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 0), ([], 1), ({"a": [1, {"b": []}]}, 4), ([[], [[[]]]], 4)],
)
def test_depth_counts_arrays_and_objects(value: object, expected: int) -> None:
    assert jsontext.depth(value) == expected
