"""Every file name the file system allows: one article, its outputs never taken for articles, and
its name on one line wherever it is printed or reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarize.cli import main
from summarize.config import load_config
from summarize.discovery import Skipped, display_name, find_inputs
from summarize.errors import UsageError
from summarize.outputs import KINDS, name_too_long, output_paths
from summarize.settings import Config
from summarize.templates import format_name
from tests.conftest import ECHO, SEEDS

pytestmark = pytest.mark.skipif(
    sys.platform == "darwin", reason="macOS refuses file names that are not UTF-8"
)

GOOD = (SEEDS / "kadhimi-ambassadors.txt").read_bytes()
TIMEOUT = 120
NAME_MAX = 255
#: the shipped templates, and ones that keep the extension ({name}) with odd literals
CONFIGS = [
    Config(),
    load_config(
        None,
        [
            "output.summary={name}.summary.txt",
            "output.summary_ar={name}.(s).ar.txt",
            "output.article_ar=ar-{stem}.txt",
            "output.sidecar={name}.{{x}}.json",
        ],
    ),
]

# Bytes that have tripped name handling: line ends and other controls, regex and format
# syntax, dots and dashes, bytes that are not UTF-8, and letters that Unicode normalises.
_ODD = [b"\n", b"\r", b"\t", b"\x1b", b"\x7f", b"{", b"}", b"{stem}", b".", b"..", b"-", b"*",
        b"?", b"[", b"]", b"(", b")", b"\\", b"$", b"^", b"|", b"+", b" ", b"\xe9", b"\xff",
        b"\xc3", "é".encode(), unicodedata.normalize("NFD", "é").encode(), "\u2028".encode(),
        "\x85".encode(), b"a", b"summary", b"ar", b"ref", b"summarize", b"json", b"txt",
        b"md"]  # fmt: skip
_EXTENSIONS = [b".txt", b".md", b"", b".TXT", b".summary.txt", b".txt\n", b".txt."]
stems = st.one_of(
    st.lists(st.sampled_from(_ODD), min_size=1, max_size=12).map(b"".join),
    st.binary(min_size=1, max_size=40),
    st.text(min_size=1, max_size=20).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.integers(200, 251).map(lambda n: b"x" * n),  # near NAME_MAX with the extension
)
file_names = st.builds(bytes.__add__, stems, st.sampled_from(_EXTENSIONS)).filter(
    lambda n: b"/" not in n and b"\0" not in n and n not in (b".", b"..") and len(n) <= NAME_MAX
)


def what_the_run_leaves(article: Path, config: Config) -> list[Path]:
    """The files a run leaves next to ``article``, and the references a user adds there."""
    outputs = output_paths(article, config.output)
    if name_too_long(outputs) is not None:
        return []  # the run fails the article and writes nothing
    references = [
        article.with_name(format_name(kind.reference(config.eval), article)) for kind in KINDS
    ]
    return [*outputs.texts(), outputs.sidecar, outputs.claim, *references]


def found(folder: Path, config: Config) -> tuple[list[Path | None], list[Skipped]]:
    skipped: list[Skipped] = []
    jobs = find_inputs([str(folder)], config.input, config.reserved_names, skipped=skipped)
    return [job.path for job in jobs], skipped


@settings(max_examples=300, deadline=None)
@given(name=file_names, which=st.sampled_from(range(len(CONFIGS))))
def test_an_article_s_outputs_are_never_articles_whatever_its_name(name: bytes, which: int) -> None:
    """For every name: what a search finds is the same before and after the run wrote the
    article's outputs, sidecar and claim and the user added references; none of them is an
    input, or a file left out with a warning; each of them named on the command line is
    refused as the tool's own, while the article named there is taken."""
    config = CONFIGS[which]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        article = folder / os.fsdecode(name)
        article.write_bytes(GOOD)
        before = found(folder, config)
        if before != ([article], []):
            return  # not an article of a search (hidden, another extension, named like ours)
        left = what_the_run_leaves(article, config)
        for path in left:
            path.write_bytes(b"written by the run")
        assert found(folder, config) == before
        assert [job.path for job in find_inputs([str(article)], config.input, ())] == [article]
        for path in left:
            if path.name.startswith("."):
                continue  # the claim: hidden, never named by a user
            with pytest.raises(UsageError, match="named like the tool's own files"):
                find_inputs([str(path)], config.input, config.reserved_names)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (b"new\nline.txt", "new\\nline.txt"),
        (b"cr\r.txt", "cr\\r.txt"),
        (b"esc\x1b[31m.txt", "esc\\x1b[31m.txt"),
        (b"caf\xe9.txt", "caf\\xe9.txt"),
        ("line\u2028sep.txt".encode(), "line\\u2028sep.txt"),
        ("nel\x85.txt".encode(), "nel\\x85.txt"),
        ("café.txt".encode(), "café.txt"),
        ("evil\u202etxt.exe".encode(), "evil\\u202etxt.exe"),
        ("isolate\u2067x\u2069.txt".encode(), "isolate\\u2067x\\u2069.txt"),
        ("zero\u200bwidth\ufeff.txt".encode(), "zero\\u200bwidth\\ufeff.txt"),
        ("tag\U000e0041.txt".encode(), "tag\\U000e0041.txt"),
    ],
    ids=[
        "newline", "cr", "escape", "not-utf8", "line-separator", "next-line", "utf8",
        "right-to-left-override", "bidi-isolates", "zero-width", "tag-character",
    ],
)  # fmt: skip
def test_a_name_is_shown_on_one_line_that_any_encoder_accepts(name: bytes, shown: str) -> None:
    assert display_name(os.fsdecode(name)) == shown
    assert display_name(shown) == shown  # a shown name (in a report) shows as itself
    assert shown.encode("ascii", "backslashreplace")
    assert len(shown.splitlines()) == 1


# --- the whole run, twice ---------------------------------------------------------------------

CLI_NAMES = [
    b"new\nline.txt",
    b"cr\rlf\r\n.txt",
    b"caf\xe9.txt",
    b"-dash {stem} [a-z]*(x)+?.txt",
    "nfd-cafe\u0301.txt".encode(),
    b"tab\tbell\x07.md",
    b"x" * (NAME_MAX - 14 - len(".summary.ar.txt")) + b".txt",  # its outputs just fit
]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "summarize", *args],
        capture_output=True, timeout=TIMEOUT, check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8:strict", **(env or {})},
    )  # fmt: skip


def articles(tmp_path: Path, *names: bytes) -> Path:
    """A folder of articles with these names."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        (folder / os.fsdecode(name)).write_bytes(GOOD)
    return folder


def run_report(folder: Path, *args: str) -> tuple[int, list[dict[str, object]], str]:
    """The CLI over ``folder`` with a JSONL report: its exit code, records and stdout."""
    report = folder.parent / "report.jsonl"
    done = cli("run", str(folder), *ECHO, "-q", "--report", str(report), *args)
    assert b"internal error" not in done.stderr, done.stderr
    lines = report.read_text(encoding="utf-8").splitlines()
    return done.returncode, [json.loads(line) for line in lines], done.stdout.decode()


@pytest.mark.parametrize("name", CLI_NAMES, ids=lambda n: repr(n)[2:14])
def test_a_second_run_finds_the_article_up_to_date_and_none_of_its_outputs(
    tmp_path: Path, name: bytes
) -> None:
    """A name holding a newline: the second run took its outputs for new articles (summaries
    of summaries) and refused the article, whose output would overwrite their input (exit 1)."""
    folder = articles(tmp_path, name)
    article = folder / os.fsdecode(name)
    shown = display_name(article)

    code, records, _ = run_report(folder)
    assert code == 0, records
    assert [r["path"] for r in records[:-1]] == [shown]
    assert records[0]["status"] in {"done", "flagged"}
    written = sorted(folder.iterdir())

    code, records, _ = run_report(folder)
    assert code == 0, records
    assert [(r["path"], r["reason"]) for r in records[:-1]] == [(shown, "up to date")]
    assert sorted(folder.iterdir()) == written

    code, _, listing = run_report(folder, "--dry-run")
    assert code == 0
    assert listing.splitlines() == [f"up to date  {shown}"]


def test_review_finds_the_one_article_of_a_name_holding_a_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = articles(tmp_path, b"new\nline.txt")
    assert run_report(folder)[0] == 0
    page = tmp_path / "review.html"
    assert main(["review", str(folder), *ECHO, "-o", str(page)]) == 0
    assert ": 1 article " in capsys.readouterr().err
    assert "new\\nline.txt" in page.read_text(encoding="utf-8")


def test_a_name_that_reverses_its_text_is_shown_escaped_on_the_terminal(tmp_path: Path) -> None:
    """U+202E in a name turned the rest of the line around: ``evil\u202etxt.exe`` showed as
    ``evilexe.txt`` in the progress lines, and a review said it wrote a page of another name."""
    folder = articles(tmp_path, "evil\u202egnp.txt".encode())
    done = cli("run", str(folder), *ECHO, "-v")
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    assert "evil\\u202egnp.txt" in err
    assert "\u202e" not in err
    done = cli("review", str(folder), *ECHO, "-o", str(folder.parent / "p\u202elmth.txt"))
    assert done.returncode == 0, done.stderr
    assert "p\\u202elmth.txt" in done.stderr.decode()
    assert "\u202e" not in done.stderr.decode()


def test_messages_and_reports_name_refused_articles_as_they_are_shown(tmp_path: Path) -> None:
    """Two articles whose outputs collide: the reason named the output with a lone surrogate in
    the report (caf\\udce9.summary.txt) and split its line in two on the terminal."""
    folder = articles(tmp_path, b"caf\xe9\n.txt", b"caf\xe9\n.md")
    code, records, _ = run_report(folder)
    assert code == 1
    reasons = {str(r["path"]): str(r["reason"]) for r in records[:-1]}
    txt, md = f"{folder}/caf\\xe9\\n.txt", f"{folder}/caf\\xe9\\n.md"
    assert reasons[txt] == (
        f"{txt}: refused: its output {folder}/caf\\xe9\\n.summary.txt is also an output of {md}; "
        "rename one, or use {name} (the name with its extension) in the output templates"
    )


# --- names of other files in messages ---------------------------------------------------------

ODD = os.fsdecode(b"caf\xe9\nx")
ODD_SHOWN = "caf\\xe9\\nx"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["config", "show", "-c", "{tmp}/{odd}.toml"],
            {},
            "{tmp}/{shown}.toml: config file not found",
        ),
        (
            ["config", "show", "-c", "{tmp}/{odd}-bad.toml"],
            {},
            "{tmp}/{shown}-bad.toml: unknown section [nope]",
        ),
        (
            ["run", "{tmp}", *ECHO, "--report", "{tmp}/{odd}/r.jsonl"],
            {},
            "--report {tmp}/{shown}/r.jsonl: cannot write it (",
        ),
        (
            ["serve", "--stop"],
            {"SUMMARIZE_SERVER_DIR": "{tmp}/{odd}"},
            "{tmp}/{shown}: cannot make the server folder",
        ),
    ],
    ids=["config-file", "config-error", "report", "server-folder"],
)
def test_errors_name_files_as_every_message_does(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    """Such names were printed with lone surrogates (\\udce9), and their newline split the
    message; a server folder's went to a client the same way."""
    (tmp_path / f"{ODD}-bad.toml").write_text("[nope]\n", encoding="utf-8")
    os.mkfifo(tmp_path / f"{ODD}")  # neither a folder nor a file to read or write under
    tmp = str(tmp_path)

    def fill(text: str) -> str:
        return text.replace("{tmp}", tmp).replace("{odd}", ODD).replace("{shown}", ODD_SHOWN)

    done = cli(*map(fill, args), env={k: fill(v) for k, v in env.items()})
    assert done.returncode == 2
    [line] = done.stderr.decode("utf-8").splitlines()
    assert line.startswith(f"summarize: error: {fill(message)}")


def test_a_config_file_s_name_is_shown_as_where_settings_came_from(tmp_path: Path) -> None:
    config = tmp_path / f"{ODD}.toml"
    config.write_text("[summarizer]\nnum_beams = 2\n", encoding="utf-8")
    done = cli("config", "show", "-c", str(config))
    assert done.returncode == 0, done.stderr
    origin = f"# {tmp_path}/{ODD_SHOWN}.toml"
    lines = [x.split() for x in done.stdout.decode("utf-8").splitlines() if origin in x]
    assert lines == [["num_beams", "=", "2", *origin.split()]]


@pytest.mark.parametrize("command", ["config show", "run"])
def test_a_setting_that_is_not_utf8_is_a_config_error(tmp_path: Path, command: str) -> None:
    """config show died with an internal error; a run wrote the summary, then died the same way
    writing the sidecar, which cannot hold the text."""
    (tmp_path / "a.txt").write_bytes(GOOD)
    paths = [str(tmp_path)] if command == "run" else []
    setting = "translator.source_prefix=" + os.fsdecode(b">>\xff<<")
    done = cli(*command.split(), *paths, *ECHO, "--set", setting)
    assert done.returncode == 2
    assert done.stderr.decode("utf-8") == (
        "summarize: error: --set: translator.source_prefix must be UTF-8 text, got '>>\\xff<<'\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
