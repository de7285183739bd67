"""The sidecar's one schema: what the writer builds reads back the same, and the reader never
raises on any content, naming the fields that are not what the tool writes."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from summarize.config import as_dict
from summarize.outputs import output_paths, sidecar_text
from summarize.report import Flag
from summarize.settings import Config, OutputSettings
from summarize.sidecar import (
    MAX_BYTES,
    Engine,
    InputRecord,
    Sidecar,
    Stamp,
    parse,
    read,
    read_stamp,
)

#: names as Python holds them, bytes that are not UTF-8 as lone surrogates
NAMES = st.binary(min_size=1, max_size=12).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")
)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text(max_size=30)
FLAGS = st.builds(
    Flag, output=TEXT, segment=st.integers(), span=st.tuples(st.integers(), st.integers()),
    check=TEXT, value=FINITE, threshold=FINITE, attempts=st.integers(), repaired=st.booleans(),
    output_span=st.none() | st.tuples(st.integers(), st.integers()),
)  # fmt: skip
SIDECARS = st.builds(
    Sidecar,
    input=st.none() | st.builds(InputRecord, size=st.integers(), mtime_ns=st.integers(),
                                sha256=st.text("0123456789abcdef", min_size=64, max_size=64),
                                path=st.none() | TEXT),
    signature=st.none() | TEXT,
    outputs=st.none() | st.dictionaries(st.sampled_from(["summary", "summary_ar", "article_ar"]),
                                        NAMES.map(os.fsdecode)),
    flags=st.lists(FLAGS, max_size=3).map(tuple),
    warnings=st.lists(TEXT, max_size=3).map(tuple),
    notes=st.lists(TEXT, max_size=3).map(tuple),
    removed_lines=st.none() | st.lists(TEXT, max_size=3).map(tuple),
    seconds=st.dictionaries(TEXT, st.floats(min_value=0, allow_infinity=False)),
    engines=st.dictionaries(TEXT, st.builds(Engine, TEXT, TEXT, TEXT)),
    counts=st.dictionaries(TEXT, st.integers()),
    map_reduce=st.none() | st.booleans(),
    settings=st.none() | st.just(as_dict(Config())),
    tool=st.none() | TEXT,
    created=st.none() | TEXT,
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
KEYS = ["tool", "created", "input", "signature", "settings", "engines", "outputs", "counts",
        "map_reduce", "seconds", "removed_lines", "warnings", "notes", "flags"]  # fmt: skip


@given(sidecar=SIDECARS)
def test_what_the_writer_builds_reads_back_the_same(sidecar: Sidecar) -> None:
    text = sidecar_text(sidecar.as_dict())
    assert parse(json.loads(text.encode("utf-8").decode("utf-8"))) == sidecar


@given(data=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), JSON) | JSON)
def test_any_json_reads_without_raising(data: object) -> None:
    sidecar = parse(data)
    assert (sidecar is None) == (not isinstance(data, dict))
    if sidecar is not None:  # what was read is what the tool could write: it reads back the same
        text = sidecar_text(sidecar.as_dict())
        again = parse(json.loads(text))
        assert again is not None and again.malformed == ()
        assert sidecar_text(again.as_dict()) == text


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=200))
@example(content=b"{}")  # random bytes are seldom an object: the cases that must give one
@example(content=b'{"signature": 1, "flags": [null]}')
@example(content=b"[]")
@example(content=b'{"a": NaN}')
def test_any_bytes_read_without_raising(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.summarize.json"
    path.write_bytes(content)
    got = read(path)
    try:
        data = json.loads(content.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        data = None
    # Whatever the bytes: a record exactly when they hold a JSON object, else None, no error.
    assert (got is not None) == isinstance(data, dict)
    assert got is None or got[1] == path.stat().st_mtime_ns


@pytest.mark.parametrize(
    ("record", "malformed"),
    [
        ({"warnings": ["a", 1], "seconds": {"read": "x"}}, ("warnings", "seconds")),
        ({"seconds": {"read": float("inf")}, "counts": {"x": 1.5}}, ("seconds", "counts")),
        ({"flags": [{"span": [0, 1]}, 3]}, ("flags",)),
        ({"outputs": {"summary": "../x"}}, ("outputs",)),
        ({"outputs": {"summary": "\ud800"}}, ("outputs",)),  # no name on disk can be that
        ({"settings": {"guards": {"checks": "empty"}}}, ("settings",)),
        ({"input": {"size": 1, "mtime_ns": 1, "sha256": "no"}}, ("input",)),
        ({"tool": None, "outputs": None, "flags": None}, ()),  # null: not recorded
        ({"unknown": object()}, ()),
    ],
)
def test_a_field_not_as_written_is_named_and_read_as_absent(
    record: dict[str, object], malformed: tuple[str, ...]
) -> None:
    sidecar = parse(record)
    assert sidecar is not None and sidecar.malformed == malformed


def test_flags_read_apart_from_the_ones_that_cannot_be_read() -> None:
    good = {"output": "summary", "segment": 0, "span": [0, 3], "check": "empty", "value": 0,
            "threshold": 1}  # fmt: skip
    spoiled = [{**good, "span": [0, float("inf")]}, {**good, "segment": True}, 3]
    sidecar = parse({"flags": [good, *spoiled, {**good, "value": float("inf")}]})
    assert sidecar is not None
    flag = Flag("summary", 0, (0, 3), "empty", 0.0, 1.0)
    # A measurement may be infinite; a position may not.
    assert sidecar.flags == (flag, replace(flag, value=float("inf")))
    assert sidecar.unreadable_flags == 3 and sidecar.malformed == ("flags",)


def test_names_that_are_not_utf8_are_written_as_escapes_and_read_back_as_the_names(
    tmp_path: Path,
) -> None:
    name = os.fsdecode(b"caf\xe9.summary.txt")
    text = sidecar_text({"outputs": {"summary": name}})
    assert "\\udce9" in text and text.encode("utf-8")
    sidecar = parse(json.loads(text))
    assert sidecar is not None and sidecar.outputs == {"summary": name}
    assert os.fsencode(sidecar.outputs["summary"]) == b"caf\xe9.summary.txt"


def test_names_recorded_as_shown_by_earlier_versions_mean_the_configured_ones() -> None:
    configured = output_paths(Path(os.fsdecode(b"news/caf\xe9.txt")), OutputSettings())
    shown = {"summary": "caf\\xe9.summary.txt", "article_ar": "caf\\xe9.ar.txt"}
    outputs = Sidecar(outputs=shown).written_outputs(configured)
    assert outputs.summary == configured.summary and outputs.article_ar == configured.article_ar
    assert outputs.summary_ar is None  # not written by that run


def test_a_fifo_or_an_oversized_file_reads_as_none_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.json")
    assert read(tmp_path / "fifo.json") is None
    with open(tmp_path / "big.json", "wb") as big:
        big.truncate(MAX_BYTES + 1)  # sparse: nothing is written
    assert read(tmp_path / "big.json") is None
    assert read(tmp_path / "missing.json") is None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(sidecar=SIDECARS)
def test_the_rerun_check_reads_of_a_sealed_sidecar_what_the_full_reader_reads(
    tmp_path: Path, sidecar: Sidecar
) -> None:
    path = tmp_path / "a.summarize.json"
    path.write_bytes(sidecar_text(sidecar.as_dict()).encode("utf-8"))
    found = read(path)
    assert found is not None
    stamp = Stamp(sidecar.input, sidecar.signature, False, found[1], found[0].outputs)
    assert read_stamp(path) == stamp
