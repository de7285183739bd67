"""Cheap checks of outputs (no model): loops, wrong script, dropped or invented content, refusal."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from summarize.replies import CHAT_TOKEN
from summarize.settings import GuardSettings

__all__ = [
    "Failure",
    "chat_residue",
    "check_segment",
    "check_summary",
    "describes_text",
    "grounded_share",
    "refuses",
    "repetition_share",
    "script_share",
]

# Words as the checks see them: runs of letters, digits and joining marks (Arabic diacritics).
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# The longest loop unit looked for, in words: a repeated sentence of up to this many words.
_LONGEST_UNIT = 16
# Fewer words than this are never called a loop: "no, no, no" is a fine short answer.
_SHORTEST_LOOP = 8
# A source of fewer words may rightly come back as it is (a name, "COVID-19", a number).
_SHORTEST_IDENTICAL = 3
# Content words are at least this many letters long: shorter ones are mostly function words.
_CONTENT_WORD = 4

# An instruction model's refusal, in English or Arabic, as it opens a reply. Looked for at the
# output's very start (a refusal quoted in a news story is not where the output starts), and
# never held against an output whose source holds one anywhere (a translated or summarised
# quotation of someone declining).
# Refusing is said in the first person: "I can't", not "the hospital cannot".
_NOT_ABLE = (
    r"\bi(?:[ \t]+|['’]m[ \t]+|[ \t]+am[ \t]+)"
    r"(?:can(?:no|['’])t|cannot|unable|not able|won['’]t|will not|must decline)"
)
_TASK = (
    r"(?:help|assist|provide|translate|summari[sz]e|fulfil+|complete|comply|create|generate"
    r"|process|answer|continue|do th(?:at|is))"
)
_NOT_ABLE_AR = r"(?:لا أستطيع|لا يمكنني|لن أتمكن|لا أتمكن|لست قادر)"
_TASK_AR = r"(?:مساعد|المساعدة|ترجم|الترجمة|تلخيص|التلخيص|تقديم|القيام|تنفيذ|الإجابة)"
_REFUSAL = re.compile(
    r"(?:i['’]m(?:[ \t]+(?:so|really|very))?[ \t]+sorry|i am sorry|sorry|unfortunately|apologies"
    rf"|i apologi[sz]e)\b[^.!?\n]{{0,60}}?{_NOT_ABLE}"
    rf"|{_NOT_ABLE}(?:[ \t]+to)?[ \t]+{_TASK}\b"
    r"|as an ai\b|as a(?:n ai)? language model\b"
    rf"|(?:عذر[اً]*|آسف|أنا آسف|أعتذر|نعتذر|للأسف|معذرة)[^.!؟\n]{{0,60}}?{_NOT_ABLE_AR}"
    rf"|{_NOT_ABLE_AR}(?: من)?[ \t]+{_TASK_AR}"
    r"|بصفتي[ \t]+(?:نموذج|ذكاء|مساعد)",
    re.IGNORECASE,
)
# A reply that speaks about its input instead of translating it ("This article discusses…"),
# as it opens a reply; a source that itself speaks so ("The text says that…") is spared.
_TEXT_EN = r"(?:article|text|passage|paragraph|excerpt)"
_SPEAKS_EN = (
    r"(?:is about|discusses|describes|talks about|reports on|explains|covers|deals with"
    r"|highlights|focuses on|is a)"
)
_TEXT_AR = r"(?:المقال|النص|الفقرة|المقطع)"
_SPEAKS_AR = r"(?:يتناول|يتحدث|يناقش|يصف|يدور|يتطرق|يسلط|تتناول|تتحدث|تناقش|تصف|تدور|تتطرق)"
_DESCRIBES = re.compile(
    rf"(?:this|the)(?:[ \t]+news)?[ \t]+{_TEXT_EN}[ \t]+{_SPEAKS_EN}\b"
    rf"|in this {_TEXT_EN}\b|the (?:author|writer) (?:discusses|describes|explains|argues)"
    rf"|this is an? (?:news )?{_TEXT_EN}\b"
    rf"|{_SPEAKS_AR}[ \t]+(?:هذا[ \t]+|هذه[ \t]+)?{_TEXT_AR}"
    rf"|(?:هذا[ \t]+|هذه[ \t]+)?{_TEXT_AR}[ \t]+{_SPEAKS_AR}"
    rf"|في هذا {_TEXT_AR}",
    re.IGNORECASE,
)
# Role markers a chat transcript puts at a line's start, left in the text.
_ROLE_LINE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:user|assistant|system|human|المستخدم|المساعد)[ \t]*[:：]",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Failure:
    """A check an output failed: what was measured, and the threshold it crossed."""

    check: str
    value: float
    threshold: float


def words(text: str) -> list[str]:
    """The words of ``text``, lowercased, punctuation dropped."""
    return [w.casefold() for w in _WORD.findall(text)]


def repetition_share(text: str) -> float:
    """The share of the words that repeat the unit just before them (a loop), 0 to 1.

    "I'm sorry I'm sorry I'm sorry" is 4 of 6 words; a word repeated to the length limit nears
    1; healthy prose, where a word or two recurs now and then, stays near 0.
    """
    tokens = words(text)
    if len(tokens) < _SHORTEST_LOOP:
        return 0.0
    looped = [False] * len(tokens)
    for size in range(1, min(_LONGEST_UNIT, len(tokens) // 2) + 1):
        for start in range(size, len(tokens) - size + 1):
            if tokens[start : start + size] == tokens[start - size : start]:
                looped[start : start + size] = [True] * size
    return sum(looped) / len(tokens)


def script_share(text: str, source: str) -> float:
    """The share of the letters of ``text`` that are Arabic script, 0 to 1; 1 with no letters.

    Names and numbers of ``source`` (its capitalised words and words with digits: "NASA",
    "Artemis", "COVID-19") count as Arabic where the output keeps them; other source words
    left in English do not. Digits and punctuation are not letters.
    """
    allowed = {w.casefold() for w in _WORD.findall(source) if w[0].isupper() or not w.isalpha()}
    arabic = letters = 0
    for word in _WORD.findall(text):
        counted = sum(1 for c in word if c.isalpha())
        letters += counted
        if word.casefold() in allowed:
            arabic += counted
        else:
            arabic += sum(1 for c in word if c.isalpha() and _is_arabic(c))
    return 1.0 if letters == 0 else arabic / letters


def grounded_share(summary: str, article: str) -> float:
    """The share of a summary's content words (4+ letters) that the article has, 0 to 1.

    A word counts as found where the article has it, or a word it begins (plural and tense
    endings a summary adds). 1 when the summary has no content words.
    """
    known = set(words(article))
    stems = {w[: _CONTENT_WORD + 1] for w in known if len(w) > _CONTENT_WORD}
    content = [w for w in words(summary) if len(w) >= _CONTENT_WORD and not w.isdigit()]
    if not content:
        return 1.0
    found = sum(1 for w in content if w in known or w[: _CONTENT_WORD + 1] in stems)
    return found / len(content)


def refuses(output: str, source: str) -> bool:
    """Whether ``output`` opens with a refusal ("I'm sorry, but I can't…", "As an AI…",
    "عذراً، لا أستطيع…") that ``source`` does not hold anywhere."""
    return _opens_with(_REFUSAL, output, source)


def describes_text(output: str, source: str) -> bool:
    """Whether ``output`` opens by speaking about its source ("This article discusses…",
    "يتناول المقال…") where ``source`` does not speak so anywhere."""
    return _opens_with(_DESCRIBES, output, source)


def chat_residue(output: str, source: str) -> list[str]:
    """The chat tokens (``<|im_end|>``) and role markers at a line's start (``User:``) of
    ``output`` that ``source`` does not hold, in order: what cleaning a reply left."""
    found = [m.group().strip() for p in (CHAT_TOKEN, _ROLE_LINE) for m in p.finditer(output)]
    held = {
        m.group().strip().casefold() for p in (CHAT_TOKEN, _ROLE_LINE) for m in p.finditer(source)
    }
    return [item for item in found if item.casefold() not in held]


def check_segment(
    source: str, output: str, hit_limit: bool, settings: GuardSettings
) -> list[Failure]:
    """The checks a translated segment (into Arabic: the script check) fails."""
    checks = settings.checks
    if not source.strip():
        return []
    if not output.strip():
        return [Failure("empty", 0.0, 1.0)] if "empty" in checks else []
    failures = []
    if (
        "identical" in checks
        and _same(source, output)
        and len(words(source)) >= _SHORTEST_IDENTICAL
    ):
        failures.append(Failure("identical", 1.0, 1.0))
    failures += _reply(source, output, settings)
    if "about_text" in checks and describes_text(output, source):
        failures.append(Failure("about_text", 1.0, 1.0))
    if "length_cap" in checks and hit_limit:
        failures.append(Failure("length_cap", 1.0, 1.0))
    failures += _repetition(output, settings)
    if "script" in checks:
        share = script_share(output, source)
        if share < settings.min_script_share:
            failures.append(Failure("script", round(share, 3), settings.min_script_share))
    if "length_ratio" in checks and len(source.strip()) >= settings.min_ratio_chars:
        ratio = len(output.strip()) / len(source.strip())
        if ratio < settings.min_length_ratio:
            failures.append(Failure("length_ratio", round(ratio, 3), settings.min_length_ratio))
        elif ratio > settings.max_length_ratio:
            failures.append(Failure("length_ratio", round(ratio, 3), settings.max_length_ratio))
    return failures


def check_summary(summary: str, article: str, settings: GuardSettings) -> list[Failure]:
    """The checks a summary fails: empty, looping, longer than its article, not grounded in it."""
    checks = settings.checks
    if not summary.strip():
        return [Failure("empty", 0.0, 1.0)] if "empty" in checks else []
    failures = _reply(article, summary, settings) + _repetition(summary, settings)
    ratio = len(summary.strip()) / max(1, len(article.strip()))
    if "summary_length" in checks and ratio > 1.0:
        failures.append(Failure("summary_length", round(ratio, 3), 1.0))
    if "grounding" in checks:
        share = grounded_share(summary, article)
        if share < settings.min_grounded:
            failures.append(Failure("grounding", round(share, 3), settings.min_grounded))
    return failures


def _reply(source: str, output: str, settings: GuardSettings) -> list[Failure]:
    """The checks of what an instruction model answers instead of the text: a refusal, and
    chat residue (its count) that cleaning the reply left."""
    failures = []
    if "refusal" in settings.checks and refuses(output, source):
        failures.append(Failure("refusal", 1.0, 1.0))
    residue = chat_residue(output, source) if "residue" in settings.checks else []
    if residue:
        failures.append(Failure("residue", float(len(residue)), 0.0))
    return failures


def _opens_with(pattern: re.Pattern[str], output: str, source: str) -> bool:
    return pattern.match(output.lstrip()) is not None and pattern.search(source) is None


def _repetition(text: str, settings: GuardSettings) -> list[Failure]:
    if "repetition" not in settings.checks:
        return []
    share = repetition_share(text)
    if share > settings.max_repetition:
        return [Failure("repetition", round(share, 3), settings.max_repetition)]
    return []


def _same(source: str, output: str) -> bool:
    return " ".join(source.split()).casefold() == " ".join(output.split()).casefold()


def _is_arabic(char: str) -> bool:
    return unicodedata.name(char, "").startswith("ARABIC")
