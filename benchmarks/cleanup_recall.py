"""How much site furniture cleanup removes, and whether it ever removes article text.

Runs ``summarize.text.clean_lines`` (the cleanup the read stage applies) over the labelled
articles in ``tests/data/cleanup/``: made-up scraped news pages where every non-blank line
starts with ``F `` (furniture: menus, section labels, repeated titles, bylines, datelines,
"Read more:" links, "Most read" lists, share rows, newsletter, app and cookie prompts,
copyright footers, photo credits) or ``A `` (article text: headline, sentences, subheadings).
The labels are stripped before cleanup sees a line. Prints per-article and overall precision
(removed lines that are furniture) and recall (furniture lines removed), then every line it
got wrong. Usage::

    python benchmarks/cleanup_recall.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from summarize.text import clean_lines  # noqa: E402

DATA = ROOT / "tests" / "data" / "cleanup"
FURNITURE, ARTICLE = "F", "A"


@dataclass(frozen=True)
class Labelled:
    """One labelled page: its lines as the tool sees them, and each line's label."""

    name: str
    lines: list[str]
    labels: list[str | None]  # None for a blank line


@dataclass
class Score:
    """Removed lines against the labels, and the lines cleanup got wrong."""

    removed_furniture: int = 0
    removed_article: list[str] = field(default_factory=list)
    kept_furniture: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        removed = self.removed_furniture + len(self.removed_article)
        return self.removed_furniture / removed if removed else 1.0

    @property
    def recall(self) -> float:
        furniture = self.removed_furniture + len(self.kept_furniture)
        return self.removed_furniture / furniture if furniture else 1.0

    def add(self, other: Score) -> None:
        self.removed_furniture += other.removed_furniture
        self.removed_article += other.removed_article
        self.kept_furniture += other.kept_furniture


def load(path: Path) -> Labelled:
    """A labelled page: ``F text`` or ``A text`` per line, blank lines blank."""
    lines: list[str] = []
    labels: list[str | None] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            lines.append("")
            labels.append(None)
            continue
        label, space, text = raw.partition(" ")
        if label not in (FURNITURE, ARTICLE) or not space or not text.strip():
            raise ValueError(f"{path.name}:{number}: expected 'F text' or 'A text', got {raw!r}")
        lines.append(text)
        labels.append(label)
    return Labelled(path.stem, lines, labels)


def load_all(directory: Path = DATA) -> list[Labelled]:
    return [load(path) for path in sorted(directory.glob("*.txt"))]


def score(page: Labelled) -> Score:
    """Clean the page's lines and compare what went with the labels, line by line."""
    kept, removed = clean_lines(page.lines)
    gone = _removed_positions(page.lines, kept)
    result = Score()
    for i, (line, label) in enumerate(zip(page.lines, page.labels, strict=True)):
        if label == FURNITURE and i in gone:
            result.removed_furniture += 1
        elif label == FURNITURE:
            result.kept_furniture.append(line)
        elif label == ARTICLE and i in gone:
            result.removed_article.append(line)
    assert sorted(page.lines[i] for i in gone) == sorted(removed)
    return result


def _removed_positions(lines: list[str], kept: list[str]) -> set[int]:
    """Which positions of ``lines`` are not in ``kept`` (cleanup keeps lines in order)."""
    gone: set[int] = set()
    k = 0
    for i, line in enumerate(lines):
        if k < len(kept) and kept[k] == line:
            k += 1
        else:
            gone.add(i)
    assert k == len(kept), "cleanup kept a line that is not in its input, or moved one"
    return gone


def main() -> int:
    pages = load_all()
    total = Score()
    print(f"{'article':<22} {'furniture':>9} {'removed':>7} {'precision':>9} {'recall':>6}")
    for page in pages:
        result = score(page)
        total.add(result)
        furniture = result.removed_furniture + len(result.kept_furniture)
        removed = result.removed_furniture + len(result.removed_article)
        print(
            f"{page.name:<22} {furniture:>9} {removed:>7} "
            f"{result.precision:>9.2f} {result.recall:>6.2f}"
        )
    print(
        f"{'all ' + str(len(pages)) + ' articles':<22} "
        f"{total.removed_furniture + len(total.kept_furniture):>9} "
        f"{total.removed_furniture + len(total.removed_article):>7} "
        f"{total.precision:>9.2f} {total.recall:>6.2f}"
    )
    for line in total.removed_article:
        print(f"removed article text: {line}")
    for line in total.kept_furniture:
        print(f"kept furniture: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
