"""From bytes to clean paragraphs of sentences: decoding, normalising, boilerplate, segmentation."""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from summarize.cleanup import clean_lines, continues, furniture_lines, has_article_text
from summarize.errors import InputError

__all__ = [
    "Document",
    "Layout",
    "Paragraph",
    "clean_lines",
    "decode",
    "decode_lines",
    "detect_language",
    "lay_out",
    "paragraph_lines",
    "parse",
    "segment_paragraph",
    "sentence_spans",
    "split_paragraphs",
    "split_sentences",
]

# Characters that are spaces in all but name: no-break, narrow, figure, ideographic, tabs.
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
# Invisible characters scraped pages are full of: zero-width, soft hyphen, BOM, word joiner.
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
# Binary formats that end up renamed to .txt in scraped dumps, by their first bytes.
_FILE_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or a .docx/.xlsx/.epub document)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\xd0\xcf\x11\xe0", "a Microsoft Office document"),
)
# Byte-order marks and their codecs. UTF-32 comes first: its little-endian
# mark begins with the UTF-16 one, so the other order would read UTF-32 as UTF-16 with NULs.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Characters handed to the sentence segmenter at once: its time per character is flat up to
# a few thousand characters and grows with the length after that.
_WINDOW = 2000
# A sure sentence end: a lower-case word of four letters or more (not "Mr." nor "U.S.") and a
# full stop, maybe closing quotes or brackets, spaces, then a capital.
_SAFE_CUT = re.compile(r"(?<=[a-z]{4}[.!?])[\"'”’»)\]]{0,2}\s+(?=[\"'“‘«(\[]?[A-Z])")
_WHITESPACE = re.compile(r"\s+")
# Characters of an article the language check reads: plenty to tell, cheap on huge files.
_LANGUAGE_SAMPLE = 20_000


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of the cleaned text, and its sentences as [start, end) spans of ``text``.

    The spans are in order and apart only by whitespace, or by nothing where a sentence ends
    without a space ("5%.Markets"): a sentence is never given a space its source did not have.
    ``lines`` are the indices of the normalised text's lines the paragraph joins.
    """

    text: str
    spans: tuple[tuple[int, int], ...]
    lines: tuple[int, ...] = ()

    @property
    def sentences(self) -> list[str]:
        return [self.text[start:end] for start, end in self.spans]

    @property
    def gaps(self) -> list[str]:
        """What stands before each sentence, after the one before it: the glue that puts the
        paragraph back together (:func:`summarize.chunking.reassemble`) character for character."""
        ends = [0, *(end for _, end in self.spans[:-1])]
        return [self.text[end:start] for end, (start, _) in zip(ends, self.spans, strict=True)]


@dataclass(frozen=True)
class Document:
    """An article ready for the models: paragraphs of sentences, and what cleanup removed."""

    paragraphs: list[Paragraph]
    removed: list[str] = field(default_factory=list)
    characters: int = 0

    @property
    def sentences(self) -> list[str]:
        return [s for paragraph in self.paragraphs for s in paragraph.sentences]

    @property
    def text(self) -> str:
        """The cleaned text the spans of flags count in: the paragraphs, a blank line apart."""
        return "\n\n".join(p.text for p in self.paragraphs)


@dataclass(frozen=True)
class Layout:
    """A normalised text's lines, the ones cleanup removed, and the paragraphs the rest make.

    The one derivation of the cleaned text from the input's lines: the read stage segments its
    paragraphs, the review shows them with the removed lines where they stood.
    """

    lines: tuple[str, ...]
    removed: frozenset[int]
    #: the indices of the lines each paragraph joins
    groups: tuple[tuple[int, ...], ...]

    @property
    def paragraphs(self) -> list[str]:
        return [" ".join(self.lines[i] for i in group) for group in self.groups]

    def removed_lines(self) -> list[str]:
        return [self.lines[i] for i in sorted(self.removed)]

    def removed_before(self) -> list[tuple[int, str]]:
        """Each removed line with the index of the paragraph it stood before (the number of
        paragraphs, after the last)."""
        firsts = [group[0] for group in self.groups]
        return [(sum(f < i for f in firsts), self.lines[i]) for i in sorted(self.removed)]


def lay_out(lines: Sequence[str], removed: Set[int] = frozenset()) -> Layout:
    """The paragraphs the ``lines`` not ``removed`` make (see :func:`split_paragraphs`): a
    removed line between two halves of a wrapped sentence does not keep them apart."""
    kept = [i for i in range(len(lines)) if i not in removed]
    groups = paragraph_lines([lines[i] for i in kept])
    return Layout(
        tuple(lines), frozenset(removed), tuple(tuple(kept[i] for i in group) for group in groups)
    )


def parse(
    data: bytes, name: str, *, cleanup: bool = True, require_article: bool = False
) -> Document:
    """Decode, normalise, clean and segment one article; raise InputError naming ``name``.

    With ``require_article``, a text with no sentence that reads like prose (a page of menus
    and headlines only, see :func:`summarize.cleanup.has_article_text`) is an InputError too.
    """
    lines = decode_lines(data, name)
    layout = lay_out(lines, furniture_lines(lines) if cleanup else frozenset())
    paragraphs = [
        segment_paragraph(text, group)
        for text, group in zip(layout.paragraphs, layout.groups, strict=True)
    ]
    sentences = [s for p in paragraphs for s in p.sentences]
    removed = layout.removed_lines()
    if not paragraphs:
        if removed:
            raise InputError(
                f"{name}: nothing left to summarize: all {len(removed)} line(s) look like "
                "site boilerplate (set input.cleanup = false to keep them)"
            )
        raise InputError(f"{name}: empty: the file holds no text")
    if require_article and not has_article_text(sentences):
        raise InputError(
            f"{name}: no article text found (only short lines without sentences); "
            "set input.require_article = false to process it anyway"
        )
    return Document(paragraphs, removed, sum(len(s) for s in sentences))


def decode_lines(data: bytes, name: str) -> list[str]:
    """The lines of an article's text, decoded and normalised: what cleanup and layout read."""
    return normalize(decode(data, name)).split("\n")


def decode(data: bytes, name: str) -> str:
    """UTF-8 with or without BOM, or UTF-16 or UTF-32 with BOM; anything else is an InputError.

    A NUL character anywhere, not only near the start, fails the file as binary data: no text
    article holds one, and the models would copy it into the outputs.
    """
    for magic, kind in _FILE_SIGNATURES:
        if data.startswith(magic):
            raise InputError(f"{name}: {kind}, not a text article")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode_wide(data, name, bom, encoding)
    offset = data.find(b"\x00")
    if offset >= 0:
        raise InputError(_binary(name, offset))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(codecs.BOM_UTF8) else 0)
        raise InputError(
            f"{name}: not valid UTF-8 at byte {offset}; re-encode the file as UTF-8"
        ) from None


def _decode_wide(data: bytes, name: str, bom: bytes, encoding: str) -> str:
    """Text after a UTF-16/32 byte-order mark; errors name the byte offset in the file."""
    body = data[len(bom) :]
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        label = encoding.upper().rsplit("-", 1)[0]
        raise InputError(f"{name}: not valid {label} at byte {len(bom) + exc.start}") from None
    index = text.find("\x00")
    if index >= 0:
        # Characters before the NUL may take two units each (UTF-16 surrogate pairs).
        raise InputError(_binary(name, len(bom) + len(text[:index].encode(encoding))))
    return text


def _binary(name: str, offset: int) -> str:
    return f"{name}: binary data (NUL byte at offset {offset}), not a text article"


def normalize(text: str) -> str:
    """NFC, one kind of newline, one kind of space, no invisible characters, no trailing blanks."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _INVISIBLE.sub("", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def split_paragraphs(lines: list[str]) -> list[str]:
    """Each line is a paragraph, except that a hard-wrapped line continues into the next.

    A line continues when it does not end like a sentence and either the next one starts in
    lower case or it ends on a word that cannot end a sentence ("the", "of", a comma): scraped
    articles put one paragraph per line, wrapped text breaks mid-sentence. A next line that
    starts otherwise (a digit, a quote, a capital) may begin a sentence of its own after a
    headline ("Oil prices fall" / "2024 was a bad year."), so it is not glued on.
    """
    return lay_out(lines).paragraphs


def paragraph_lines(lines: Sequence[str]) -> list[list[int]]:
    """The indices of the lines each paragraph of :func:`split_paragraphs` is made of."""
    groups: list[list[int]] = []
    current: list[int] = []
    for i, line in enumerate(lines):
        if current and line and continues(lines[current[-1]], line):
            current.append(i)
            continue
        if current:
            groups.append(current)
        current = [i] if line else []
    if current:
        groups.append(current)
    return groups


def segment_paragraph(text: str, lines: Sequence[int] = ()) -> Paragraph:
    """``text`` as a paragraph of its sentences (``lines``: the lines it joins, if known)."""
    return Paragraph(text, tuple(sentence_spans(text)), tuple(lines))


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph (see :func:`sentence_spans`)."""
    return [paragraph[start:end] for start, end in sentence_spans(paragraph)]


def sentence_spans(paragraph: str) -> list[tuple[int, int]]:
    """Where the sentences of one paragraph are, [start, end), by pysbd's rule-based English
    segmenter (no downloads).

    Each sentence is a slice of ``paragraph`` with its surrounding whitespace left out, so no
    character is lost, repeated or added whatever the segmenter does. The segmenter's time
    grows faster than linearly with its input, so a long paragraph goes to it in windows of
    bounded size cut where a sentence surely ends (else between words).
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for window in _windows(paragraph, _WINDOW):
        for piece in _segment(window):
            start = offset + len(piece) - len(piece.lstrip())
            end = offset + len(piece.rstrip())
            if start < end:
                spans.append((start, end))
            offset += len(piece)
    return spans


def _windows(text: str, size: int) -> list[str]:
    """Consecutive slices of ``text`` that together are exactly ``text``, each at most ``size``
    characters unless it is a single word (with the whitespace after it)."""
    windows: list[str] = []
    start = 0
    while len(text) - start > size:
        cut = _cut(text, start, start + size)
        windows.append(text[start:cut])
        start = cut
    windows.append(text[start:])
    return [w for w in windows if w]


def _cut(text: str, start: int, end: int) -> int:
    """Where to end a window that starts at ``start`` and should end by ``end``: after the last
    sentence end in its second half, else after its last space, else after the word there."""
    middle = start + (end - start) // 2
    cuts = [m.end() for m in _SAFE_CUT.finditer(text, middle, end)]
    if cuts:
        return cuts[-1]
    cuts = [m.end() for m in _WHITESPACE.finditer(text, start + 1, end)]
    if cuts:
        return cuts[-1]
    after = _WHITESPACE.search(text, end)
    return after.end() if after else len(text)


def _segment(window: str) -> list[str]:
    """The segmenter's sentences as slices of ``window``, found by counting the non-space
    characters of each: the segmenter drops characters in some inputs (``":.?!"`` gives
    ``[":."]``), and a slice can neither drop nor repeat any."""
    if len(window) > _WINDOW:
        return [window]  # one word longer than a window: nothing to split
    pieces = _segmenter().segment(window)
    slices: list[str] = []
    start = 0
    for piece in pieces[:-1]:
        end = _advance(window, start, sum(not c.isspace() for c in piece))
        slices.append(window[start:end])
        start = end
    slices.append(window[start:])
    return slices


def _advance(text: str, start: int, count: int) -> int:
    """The index just after the ``count``-th non-space character of ``text`` from ``start``."""
    index = start
    while count > 0 and index < len(text):
        count -= not text[index].isspace()
        index += 1
    return index


@functools.lru_cache(maxsize=1)
def _segmenter() -> Any:
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def detect_language(text: str) -> tuple[str, float]:
    """The most likely language of ``text`` (ISO 639-1) and its probability, by py3langid."""
    language, probability = _identifier().classify(text[:_LANGUAGE_SAMPLE])
    return str(language), float(probability)


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
