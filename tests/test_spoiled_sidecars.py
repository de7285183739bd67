"""A spoiled sidecar, key by key and byte by byte, through the command line: review still writes
its page (the outputs at the configured names, a warning to check them by eye), and run redoes
the article, never crashing on it."""

from __future__ import annotations

import functools
import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from summarize.cli import main
from tests.conftest import ECHO
from tests.html_tree import Element, parse_html

ARTICLE = (
    "The city council approved a new budget on Monday after a long debate.\n\n"
    "Schools will receive more money, and two new libraries will open next year.\n"
)
#: a flag as the tool writes it (repaired, so the article stays done), for keys inside flags
FLAG = {"output": "article_ar", "segment": 1, "span": [72, 148], "check": "script",
        "value": 0.2, "threshold": 0.8, "attempts": 2, "repaired": True,
        "output_span": [72, 148]}  # fmt: skip
#: where a spoiled value goes: a key of the sidecar, or a key inside one
PLACES = [
    ("tool",), ("created",), ("input",), ("input", "size"), ("input", "mtime_ns"),
    ("input", "sha256"), ("input", "path"), ("signature",), ("settings",),
    ("settings", "guards"), ("settings", "guards", "checks"), ("engines",),
    ("engines", "summarizer"), ("engines", "summarizer", "model"), ("outputs",),
    ("outputs", "summary"), ("counts",), ("counts", "characters"), ("map_reduce",),
    ("seconds",), ("seconds", "read"), ("removed_lines",), ("warnings",), ("notes",),
    ("flags",), ("flags", 0), ("flags", 0, "span"), ("flags", 0, "segment"),
    ("flags", 0, "value"), ("flags", 0, "attempts"), ("flags", 0, "output_span"),
]  # fmt: skip
#: numbers JSON can spell that no sidecar holds (written as they are, not through json.dumps)
ODD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "-0.0", "1e-400",
               "1" + "0" * 5000, "-" + "9" * 4000, "18446744073709551616", "0.5"]  # fmt: skip
#: JSON text too deeply nested for any reader
DEEP = "[" * 100_000 + "]" * 100_000
#: 28 lists deep, so 32 levels under the deepest place spoiled (the reader's bound)
NESTED: object = functools.reduce(lambda inner, _: [inner], range(27), [])
RAW = [*ODD_NUMBERS, DEEP]
_MARK = "\0spoiled\0"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
HUGE_TEXT = st.integers(100_000, 1_000_000).map(lambda n: "é\0\\" * (n // 3))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one article done by run, its sidecar holding one (repaired) flag."""
    folder = tmp_path_factory.mktemp("pristine") / "news"
    folder.mkdir()
    (folder / "calm.txt").write_text(ARTICLE, encoding="utf-8")
    assert main(["run", str(folder), *ECHO, "-q"]) == 0
    sidecar = folder / "calm.summarize.json"
    record = json.loads(sidecar.read_text(encoding="utf-8"))
    sidecar.write_text(json.dumps({**record, "flags": [FLAG]}), encoding="utf-8")
    return folder


@pytest.fixture
def spoil(pristine: Path) -> Iterator[SpoiledRun]:
    with tempfile.TemporaryDirectory(dir=pristine.parent) as scratch:
        yield SpoiledRun(pristine, Path(scratch))


class SpoiledRun:
    """A fresh copy of the pristine folder per example, its sidecar replaced; review, then run."""

    def __init__(self, pristine: Path, scratch: Path) -> None:
        self.pristine, self.scratch, self.count = pristine, scratch, 0

    def record(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.text())
        return data

    def text(self) -> str:
        return (self.pristine / "calm.summarize.json").read_text(encoding="utf-8")

    def check(self, content: bytes) -> tuple[Element, dict[str, str]]:
        """The article's section on the review page, and its line in run's report."""
        self.count += 1
        folder = self.scratch / str(self.count) / "news"
        shutil.copytree(self.pristine, folder)  # the input's mtime kept, as the sidecar says
        (folder / "calm.summarize.json").write_bytes(content)
        page = folder.parent / "page.html"
        assert main(["review", str(folder), *ECHO, "-q", "-o", str(page)]) == 0
        (section,) = parse_html(page.read_text(encoding="utf-8")).find_all("section")
        report = folder.parent / "run.jsonl"
        assert main(["run", str(folder), *ECHO, "-q", "--report", str(report)]) == 0
        line = json.loads(report.read_text(encoding="utf-8").splitlines()[0])
        shutil.rmtree(folder.parent)
        return section, line


def spoiled(record: dict[str, object], place: tuple[str | int, ...], raw: str) -> bytes:
    """The record with the value at ``place`` replaced by the JSON text ``raw``."""
    data = json.loads(json.dumps(record))
    holder = data
    for key in place[:-1]:
        holder = holder[key]
    holder[place[-1]] = _MARK
    return json.dumps(data).replace(json.dumps(_MARK), raw).encode("utf-8")


def json_type(value: object) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}[type(value)]  # fmt: skip


def expect_page_and_redo(
    section: Element, line: dict[str, str], content: bytes, spoil: SpoiledRun
) -> dict[str, object] | None:
    """What every spoiling must give; the record the spoiled sidecar holds, None when Python's
    json cannot read it as an object (then nothing in it can be trusted, and run redoes it)."""
    redone = line["status"] == "done"
    assert redone or line["status"] == "skipped", line
    try:
        record = json.loads(content.decode("utf-8"))
    except (ValueError, RecursionError):
        record = None
    if not isinstance(record, dict):
        assert redone and line["reason"] == "sidecar unreadable", line
        shows_the_outputs_and_asks_for_a_look(section, spoil.pristine)
        return None
    # Review calls the article out of date exactly when run redoes it (judged against the
    # settings the sidecar records, so a changed signature is run's reason alone).
    if record.get("signature") == spoil.record()["signature"]:
        assert redone == ("st-out-of-date" in section.classes), (line, section.classes)
    return record


def shows_the_outputs_and_asks_for_a_look(section: Element, folder: Path) -> None:
    assert "st-out-of-date" in section.classes
    assert "by eye" in section.find("ul", "warnings").text
    summary = (folder / "calm.summary.txt").read_text(encoding="utf-8").strip()
    assert summary in section.find("div", "summary").text


@pytest.mark.parametrize("place", PLACES, ids=lambda p: ".".join(map(str, p)))
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=JSON | HUGE_TEXT | st.sampled_from(RAW))
@example(value=None).via("a key present but null")
@example(value="Infinity").via("an infinite number")
@example(value="NaN").via("not a number")
@example(value="1" + "0" * 5000).via("an integer too long to read")
@example(value=DEEP).via("nested too deep to read")
@example(value=NESTED).via("nested, within the reader's bound of 32 levels")
def test_any_value_under_any_key_gives_a_page_and_a_redo(
    spoil: SpoiledRun, place: tuple[str | int, ...], value: object
) -> None:
    raw = value if isinstance(value, str) and value in RAW else json.dumps(value)
    content = spoiled(spoil.record(), place, raw)
    section, line = spoil.check(content)
    if expect_page_and_redo(section, line, content, spoil) is None:
        return
    read = json.loads(raw)
    wrong_type = read is not None and json_type(read) != json_type(_at(spoil.record(), place))
    # No count, time or position is infinite (a measurement may be).
    infinite = isinstance(read, float) and not math.isfinite(read)
    if wrong_type or (infinite and place != ("flags", 0, "value")):
        assert line["status"] == "done" and line["reason"] == "sidecar malformed", line
        shows_the_outputs_and_asks_for_a_look(section, spoil.pristine)


def _at(record: object, place: tuple[str | int, ...]) -> object:
    for key in place:
        record = record[key]  # type: ignore[index]
    return record


SPOILINGS = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.sampled_from(["NUL", "not UTF-8", "lone continuation"]), st.integers(0, 10_000),
              st.just(0)),
)  # fmt: skip


def apply(text: bytes, how: str, at: int, byte: int) -> bytes:
    at = at % (len(text) + 1)
    if how == "truncate":
        return text[:at]
    if how == "flip":
        at = min(at, len(text) - 1)
        return text[:at] + bytes([text[at] ^ byte]) + text[at + 1 :]
    inserted = {
        "insert": bytes([byte]),
        "NUL": b"\0",
        "not UTF-8": b"\xff",
        "lone continuation": b"\x80",
    }
    return text[:at] + inserted[how] + text[at:]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spoiling=SPOILINGS)
@example(spoiling=("truncate", 0, 0)).via("emptied")
@example(spoiling=("truncate", 200, 0)).via("truncated")
@example(spoiling=("NUL", 100, 0)).via("a NUL")
def test_any_spoiled_bytes_give_a_page_and_a_redo(
    spoil: SpoiledRun, spoiling: tuple[str, int, int]
) -> None:
    content = apply(spoil.text().encode("utf-8"), *spoiling)
    expect_page_and_redo(*spoil.check(content), content, spoil)


def test_a_sidecar_naming_another_existing_file_is_out_of_date_for_both(spoil: SpoiledRun) -> None:
    # The Arabic summary recorded under the English summary's name: that file exists, so only
    # the names tell that the sidecar does not vouch for the configured Arabic summary.
    record = spoil.record()
    outputs = {**record["outputs"], "summary_ar": "calm.summary.txt"}  # type: ignore[dict-item]
    section, line = spoil.check(json.dumps({**record, "outputs": outputs}).encode("utf-8"))
    assert (line["status"], line["reason"]) == ("done", "outputs renamed"), line
    assert "st-out-of-date" in section.classes
