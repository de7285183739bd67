"""From bytes to clean paragraphs of sentences: decoding, normalising, boilerplate, segmentation."""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from summarize.errors import InputError

__all__ = [
    "Document",
    "clean_lines",
    "decode",
    "detect_language",
    "parse",
    "split_paragraphs",
    "split_sentences",
]

# Characters that are spaces in all but name: no-break, narrow, figure, ideographic, tabs.
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
# Invisible characters scraped pages are full of: zero-width, soft hyphen, BOM, word joiner.
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
_SENTENCE_END = re.compile(r"[.!?…:;\"'”’»)\]]$")
_CONTINUATION_START = re.compile(r"^[a-z0-9(,;]")

# Whole lines that are site furniture rather than article text. Matched only against short
# lines (see _FURNITURE_MAX_WORDS), never inside a sentence.
_FURNITURE = re.compile(
    r"(advertisement|advert|sponsored( content)?|share( this( article| story)?)?"
    r"|share on (facebook|twitter|x|whatsapp|linkedin)|tweet|print|e-?mail( this)?"
    r"|read more|read also|see also|related( articles| stories| news)?|more from .+"
    r"|(click|tap) here.*|subscribe( now| to .+)?|sign up( for .+)?|follow us( on .+)?"
    r"|all rights reserved\.?|(copyright|©).{0,60}|skip to (main )?content|back to top"
    r"|(accept|manage) cookies|.*uses cookies.*|loading(\.\.\.|…)?|comments?|\d+ comments?)",
    re.IGNORECASE,
)
_FURNITURE_MAX_WORDS = 8
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
# A trailing run of lines this short, without sentence punctuation, after the last line of
# prose is site navigation ("Shafaq Live", "Radio radio icon"); longer lines are kept.
_TAIL_MAX_WORDS = 5
_DUPLICATE_MAX_WORDS = 25
# Characters of an article the language check reads: plenty to tell, cheap on huge files.
_LANGUAGE_SAMPLE = 20_000


@dataclass(frozen=True)
class Document:
    """An article ready for the models: paragraphs of sentences, and what cleanup removed."""

    paragraphs: list[list[str]]
    removed: list[str] = field(default_factory=list)
    characters: int = 0

    @property
    def sentences(self) -> list[str]:
        return [s for paragraph in self.paragraphs for s in paragraph]

    @property
    def text(self) -> str:
        return "\n\n".join(" ".join(p) for p in self.paragraphs)


def parse(data: bytes, name: str, *, cleanup: bool = True) -> Document:
    """Decode, normalise, clean and segment one article; raise InputError naming ``name``."""
    text = normalize(decode(data, name))
    lines = [line for line in text.split("\n")]
    removed: list[str] = []
    if cleanup:
        lines, removed = clean_lines(lines)
    paragraphs = [split_sentences(p) for p in split_paragraphs(lines)]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        if removed:
            raise InputError(
                f"{name}: nothing left to summarize: all {len(removed)} line(s) look like "
                "site boilerplate (set input.cleanup = false to keep them)"
            )
        raise InputError(f"{name}: empty: the file holds no text")
    characters = sum(len(s) for p in paragraphs for s in p)
    return Document(paragraphs, removed, characters)


def decode(data: bytes, name: str) -> str:
    """UTF-8 with or without BOM, or UTF-16 with BOM; anything else is an InputError."""
    for magic, kind in _FILE_SIGNATURES:
        if data.startswith(magic):
            raise InputError(f"{name}: {kind}, not a text article")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: not valid UTF-16 at byte {exc.start}") from None
    if b"\x00" in data[:8192]:
        offset = data.index(b"\x00")
        raise InputError(f"{name}: binary data (NUL byte at offset {offset}), not a text article")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(codecs.BOM_UTF8) else 0)
        raise InputError(
            f"{name}: not valid UTF-8 at byte {offset}; re-encode the file as UTF-8"
        ) from None


def normalize(text: str) -> str:
    """NFC, one kind of newline, one kind of space, no invisible characters, no trailing blanks."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _INVISIBLE.sub("", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def clean_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """Drop scraped-page furniture; return the kept lines (blank ones too) and the removed ones.

    Conservative by design, since dropping real article text is worse than keeping furniture:
    only short lines are ever candidates, and prose (a line ending like a sentence) is never
    removed unless it exactly repeats an earlier short line.
    """
    drop: set[int] = set()
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not line:
            continue
        words = len(line.split())
        key = line.casefold()
        if key in seen and words <= _DUPLICATE_MAX_WORDS:
            drop.add(i)  # a title or a menu item repeated by the page template
        elif words <= _FURNITURE_MAX_WORDS and _FURNITURE.fullmatch(line):
            drop.add(i)
        seen.add(key)
    drop |= _trailing_furniture(lines, drop)
    kept = [line for i, line in enumerate(lines) if i not in drop]
    removed = [line for i, line in enumerate(lines) if i in drop]
    return kept, removed


def _trailing_furniture(lines: list[str], dropped: set[int]) -> set[int]:
    """The run of short, unpunctuated lines that ends the page, if real prose comes before it."""
    tail: set[int] = set()
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if not line or i in dropped:
            continue
        if len(line.split()) > _TAIL_MAX_WORDS or _SENTENCE_END.search(line):
            break
        tail.add(i)
    before = min(tail, default=len(lines))
    has_prose = any(_is_prose(line) for i, line in enumerate(lines[:before]) if i not in dropped)
    return tail if has_prose else set()


def split_paragraphs(lines: list[str]) -> list[str]:
    """Each line is a paragraph, except that a hard-wrapped line continues into the next.

    A line continues when it does not end like a sentence and the next one starts in lower
    case: scraped articles put one paragraph per line, wrapped text breaks mid-sentence.
    """
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
        elif current and not _SENTENCE_END.search(current) and _CONTINUATION_START.match(line):
            current = f"{current} {line}"
        else:
            if current:
                paragraphs.append(current)
            current = line
    if current:
        paragraphs.append(current)
    return paragraphs


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph, by pysbd's rule-based English segmenter (no downloads)."""
    return [s.strip() for s in _segmenter().segment(paragraph) if s.strip()]


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


def _is_prose(line: str) -> bool:
    return len(line.split()) >= 4 and bool(_SENTENCE_END.search(line))
