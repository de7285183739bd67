"""How the time to read an article grows with its size, for each shape a scraped file can take.

Times ``summarize.text.parse`` (decoding, cleanup, paragraphs, sentences: everything before
the models) on made-up news text of growing size, up to ``input.max_bytes``, in four shapes:

- ``one line``: the whole article on a single line (a scraper that dropped the newlines);
- ``paragraphs``: one paragraph of one to three sentences per line, blank lines between;
- ``wrapped``: hard-wrapped at 72 columns with no blank line, so it is all one paragraph;
- ``no spaces``: one word as long as the file (base64 pasted into an article).

Time per megabyte that stays flat as the size grows means linear. Timing goals live here,
never in the test suite. Usage::

    .venv/bin/python benchmarks/split_text.py --quick     # up to 300 KB, about a minute
    .venv/bin/python benchmarks/split_text.py             # up to input.max_bytes (10 MB)
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from corpus import english_sentences  # noqa: E402

from summarize.settings import InputSettings  # noqa: E402
from summarize.text import parse  # noqa: E402

QUICK_SIZES = (10_000, 100_000, 300_000)
FULL_SIZES = (10_000, 100_000, 1_000_000, InputSettings().max_bytes)


def _sentences(size: int) -> list[str]:
    """Made-up sentences of ``size`` characters in all, none repeated (cleanup drops repeats)."""
    out: dict[str, None] = {}
    total = 0
    for sentence in english_sentences(size // 40 + 100):
        if total >= size:
            break
        if sentence not in out:
            out[sentence] = None
            total += len(sentence) + 1
    return list(out)


def one_line(size: int) -> str:
    return " ".join(_sentences(size))[:size]


def paragraphs(size: int) -> str:
    sentences = _sentences(size)
    lines: list[str] = []
    start = 0
    while start < len(sentences):
        take = 1 + len(lines) % 3
        lines.append(" ".join(sentences[start : start + take]))
        start += take
    return "\n\n".join(lines)[:size]


def wrapped(size: int) -> str:
    return textwrap.fill(one_line(size), width=72)


def no_spaces(size: int) -> str:
    return "QUJD" * (size // 4)


SHAPES: dict[str, Callable[[int], str]] = {
    "one line": one_line,
    "paragraphs": paragraphs,
    "wrapped": wrapped,
    "no spaces": no_spaces,
}


def measure(text: str) -> tuple[float, int]:
    """Seconds to parse ``text`` and the number of sentences it gave."""
    data = text.encode()
    start = time.perf_counter()
    document = parse(data, "bench.txt")
    return time.perf_counter() - start, len(document.sentences)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 300 KB only")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated shapes")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {unknown}; choose from {list(SHAPES)}")
    print(f"{'shape':<12} {'bytes':>12} {'sentences':>10} {'seconds':>9} {'s/MB':>7}")
    for shape in shapes:
        for size in sizes:
            text = SHAPES[shape](size)
            seconds, count = measure(text)
            per_mb = seconds / (len(text.encode()) / 1e6)
            print(f"{shape:<12} {len(text):>12,} {count:>10,} {seconds:>9.2f} {per_mb:>7.2f}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
