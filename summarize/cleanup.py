"""Scraped-page furniture: which lines are menus, links, prompts and footers, not the article."""

from __future__ import annotations

import re

__all__ = ["clean_lines", "continues", "furniture_lines", "has_article_text", "reads_like_prose"]

SENTENCE_END = re.compile(r"[.!?…:;\"'”’»)\]]$")
# A wrapped line's tail that cannot end a sentence or a headline: the next line goes on with it.
_OPEN_END = re.compile(
    r"(?:[,(\[“‘«-]|\b(?i:a|an|the|of|to|in|on|at|by|for|with|from|into|and|or|but|than|as))$"
)

# Whole lines that are site furniture rather than article text: exact phrases, and where a
# phrase names something ("More from Reuters", "© 2024 Acme Corp."), only a capitalised name,
# so that a sentence that starts with the same words ("More from the minister came on
# Friday.") is never matched. Checked only against short lines (see _FURNITURE_MAX_WORDS).
_NAME = r"[A-Z0-9][\w&'’.,-]*(?: (?:[A-Z0-9&][\w&'’.,-]*|of|the|and|for|de)){0,5}"
_NEWSLETTER = rf"(?:our|the) (?:free |daily |weekly )?(?:newsletters?|emails?|alerts?)|{_NAME}"
_YEARS = r"\d{4}(?: ?[-–] ?\d{4})?"
_RESERVED = r"(?: ?(?i:all rights reserved)\.?)?"
_SOCIAL = r"facebook|twitter|x|whatsapp|linkedin|telegram|instagram|reddit|e-?mail|copy link"
# Headings of lists of other stories: the headlines under them are links, not the article.
_LIST_HEADING = (
    r"most (?:read|popular|viewed|shared)|trending(?: now)?|top stories|latest(?: news)?"
    r"|recommended|editor'?s picks|you (?:may|might) also like|more on this story"
    r"|related(?: articles| stories| news| content| topics)?|more (?:stories|news)"
)
_FURNITURE = re.compile(
    r"(?i:advertisement|advert|sponsored(?: content)?|tweet|print(?: this (?:article|page))?"
    r"|share(?: this(?: article| story| page)?)?"
    r"|share (?:on|via) (?:facebook|twitter|x|whatsapp|linkedin|telegram|e-?mail)"
    r"|e-?mail(?: this(?: article| story)?)?|read more:?|read also:?|see also:?"
    rf"|(?:{_LIST_HEADING}):?"
    r"|(?:click|tap) here(?: to \w+(?: more| the (?:full )?(?:story|article|video))?)?"
    r"|subscribe(?: now)?|sign up(?: now)?|follow us|all rights reserved\.?"
    r"|skip to (?:main )?content|back to top|(?:accept|manage)(?: all)? cookies"
    r"|(?:this|our) (?:web)?site uses cookies(?: to improve your (?:browsing )?experience)?\.?"
    r"|loading(?:\.\.\.|…)?|comments?|\d+ comments?"
    # Added with the labelled set (tests/data/cleanup): page chrome and consent buttons.
    r"|comments \(\d+\)|join the conversation|copy link|menu|open (?:navigation|menu)"
    r"|listen to this article|\d+ min(?:ute)?s? read|newsletter(?: sign-?up)?"
    r"|we use cookies|cookie (?:settings|policy)|accept(?: all)?|reject(?: all)?|i agree"
    r"|privacy policy|terms (?:of use|and conditions)|contact us|about us"
    r"|enter your e-?mail(?: address)?|download (?:our|the) app)"
    rf"|(?i:more from) {_NAME}|(?i:follow us on) {_NAME}"
    rf"|(?i:subscribe to|sign up for) (?:{_NEWSLETTER})"
    rf"|(?i:copyright)(?: ?(?:©|\(c\)))? ?{_YEARS}(?: {_NAME})?{_RESERVED}"
    rf"|(?:(?i:copyright) ?)?(?:©|\(c\))(?: ?{_YEARS})?(?: ?{_NAME})?{_RESERVED}"
    r"|(?i:tags?|topics?): [^.!?]{1,80}"
)
_FURNITURE_MAX_WORDS = 8

# Longer furniture, whole lines of a shape no article sentence has: each is either without a
# sentence end, or speaks to the reader about the site ("our newsletter", "our use of cookies").
_DATE = (
    r"(?:\d{1,2}|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|\d{4}|\d{1,2}:\d{2}"
    r"|gmt|utc|ast|[ap]\.?m\.?|(?:mon|tues|wednes|thurs|fri|satur|sun)day|at|on"
    r"|\d+ (?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?) ago)"
)
_CREDIT_NAME = r"(?:[A-Z][\w'’.-]*|al|el|bin|de|van|von)"
_PERSON = rf"[A-Z][\w'’.-]*(?: {_CREDIT_NAME}){{0,3}}"
_LONG_FURNITURE = re.compile(
    # Navigation bars and breadcrumbs: two or more short items between separators.
    r"[A-Z][^|›»•·.!?/>]{0,30}(?: ?[|›»•·] ?| [/>] )[A-Z][^|›»•·.!?/>]{0,30}"
    r"(?:(?: ?[|›»•·] ?| [/>] )[A-Z][^|›»•·.!?/>]{0,30})*"
    # Share rows: only the names of networks.
    rf"|(?i:(?:share(?: this)?(?: on)?:? )?(?:{_SOCIAL})(?:(?: ?[|•·,] ?| )(?:{_SOCIAL}))+)"
    # Bylines (a judgment call: the reporter's name is not what the article says).
    rf"|(?i:by|written by|words by) {_PERSON}(?:(?:,| and| &) {_PERSON})*"
    r"(?: (?i:staff|desk|reporters?|correspondent))?(?:(?:,| in| -| \|) [A-Z][^.!?]{0,40})?"
    r"|(?:[A-Z][\w'’-]* ){0,3}(?i:correspondent|reporter|editor|writer|columnist)"
    # Datelines on a line of their own: a date or a time, maybe "Published" or "Updated".
    rf"|(?=[^\n]*\d)(?:(?i:published|updated|posted|last updated)(?: on| at)?:? ?)?(?i:{_DATE})"
    rf"(?:,? ?\|? ?(?i:{_DATE}))*"
    r"|(?i:published|updated|posted|last updated)"
    # Inline links to other stories: a label, a colon and a headline (no full stop).
    r"|(?i:read more|read also|also read|see also|related|watch|video|listen|read next"
    r"|sponsored|promoted)\s?: [A-Z0-9\"'‘“][^.!]{0,150}"
    # Photo credits.
    r"|\(?(?i:photo|photograph|picture|image|illustration)s?(?: credit)?(?::| by) "
    r"[A-Z][^.!?]{0,60}\)?"
    # Newsletter, app and cookie prompts, in the site's own voice.
    r"|(?i:sign up|subscribe)(?: now)? (?:to|for) (?i:our|the) [\w' -]{0,40}?"
    r"(?i:newsletters?|e-?mails?|alerts?|briefing|digest)(?: [^.!?]{0,80})?[.!]?"
    r"|(?i:get) [^.!?]{0,60}(?i:(?:to|in) your inbox|on our app)[.!]?"
    r"|(?i:by (?:signing up|subscribing|registering|clicking))[^.!?]{0,80}"
    r"(?i:privacy|terms|policy)[^.!?]{0,40}[.!]?"
    r"|(?i:download|get|install)(?i: the| our)?(?i: free)?(?: [A-Z][\w'’-]*){0,4} (?i:app)[.!]?"
    r"|(?i:available on the app store(?: and google play)?)[.!]?"
    r"|(?i:we use cookies|this (?:web)?site uses cookies)[^\n]{0,300}?"
    r"(?i:you (?:agree|consent|accept)|cookie policy|privacy policy|use of cookies)[^\n]{0,200}"
)
_LONG_FURNITURE_MAX_WORDS = 60
# A repeated title with the site's name after it: "Oil prices fall | The Daily Ledger".
_TITLE_SUFFIX = re.compile(r"(.+?) (?:\||-|–|—) [A-Z][^.!?|]{0,40}")
_LIST_HEADINGS = re.compile(rf"(?i:{_LIST_HEADING}|read more|read also|see also):?")
_LINK_HEADINGS = ("read more", "read also", "see also")
_LIST_ITEM_MAX_WORDS = 20
# A trailing run of lines this short, without sentence punctuation, after the last line of
# prose is site navigation ("Shafaq Live", "Radio radio icon"); longer lines are kept.
_TAIL_MAX_WORDS = 5
# Above the first paragraph, lines this short are section labels and names ("World", "Sami
# Nouri") when a longer line, the headline, is there too.
_LABEL_MAX_WORDS = 2
_DUPLICATE_MAX_WORDS = 25
# A sentence this long is prose even without a full stop (a scraper that dropped them).
_RUN_MIN_WORDS = 20
_STATEMENT_END = re.compile(r"[.!…][\"'”’»)\]]*$")


def clean_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """Drop scraped-page furniture; return the kept lines (blank ones too) and the removed ones.

    Conservative by design, since dropping real article text is worse than keeping furniture:
    only short lines and lines of a shape no article sentence has are ever candidates, and
    prose (a line ending like a sentence) is never removed unless it exactly repeats an earlier
    short line or speaks to the reader about the site itself (a cookie or newsletter prompt).
    """
    drop = furniture_lines(lines)
    kept = [line for i, line in enumerate(lines) if i not in drop]
    removed = [line for i, line in enumerate(lines) if i in drop]
    return kept, removed


def furniture_lines(lines: list[str]) -> set[int]:
    """The indices of the lines :func:`clean_lines` removes (the review page shows them there)."""
    drop: set[int] = set()
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not line:
            continue
        words = len(line.split())
        key = line.casefold()
        if key in seen and words <= _DUPLICATE_MAX_WORDS:
            drop.add(i)  # a title or a menu item repeated by the page template
        elif _furniture(lines, i, words):
            drop.add(i)
        seen.add(key)
    drop |= _titles_with_site_names(lines, drop)
    drop |= _story_lists(lines, drop)
    drop |= _labels_above_the_first_paragraph(lines, drop)
    drop |= _trailing_furniture(lines, drop)
    return drop


def _furniture(lines: list[str], i: int, words: int) -> bool:
    """A short furniture phrase, or a line of a furniture shape not part of a wrapped paragraph."""
    line = lines[i]
    if words <= _FURNITURE_MAX_WORDS and _FURNITURE.fullmatch(line):
        return True
    if words > _LONG_FURNITURE_MAX_WORDS or not _LONG_FURNITURE.fullmatch(line):
        return False
    before = lines[i - 1] if i > 0 else ""
    after = lines[i + 1] if i + 1 < len(lines) else ""
    return not (before and continues(before, line)) and not (after and continues(line, after))


def _titles_with_site_names(lines: list[str], dropped: set[int]) -> set[int]:
    """Lines that are another line of the page plus `` | Site name``: the page's title."""
    others = {line.casefold() for line in lines if line}
    found: set[int] = set()
    for i, line in enumerate(lines):
        match = _TITLE_SUFFIX.fullmatch(line) if line and i not in dropped else None
        if match and match[1].casefold() in others and not reads_like_prose(line):
            found.add(i)
    return found


def _story_lists(lines: list[str], dropped: set[int]) -> set[int]:
    """The headlines under a "Most read" or "Related" heading after the article has begun.

    The run ends at the first line that is not headline-like. When prose comes straight
    after the run, its last line may be the subheading of that prose and is kept, unless
    the heading was a "Read more:" label, which heads one link.
    """
    following = _following(lines, dropped)
    found: set[int] = set()
    started = False
    scanned = -1  # the lines up to here were read as a list already
    for i, line in enumerate(lines):
        if line and i not in dropped and reads_like_prose(line):
            started = True
        if not (started and line and i > scanned and _LIST_HEADINGS.fullmatch(line)):
            continue
        j = following[i]
        if line.casefold().rstrip(":") in _LINK_HEADINGS:
            if j is not None and _headline_like(lines[j]):
                found.add(j)
            continue
        run: list[int] = []
        while j is not None and _headline_like(lines[j]):
            run.append(j)
            j = following[j]
        if j is not None and run:
            run.pop()  # the run ended at prose: its last line may be a subheading
        found.update(run)
        scanned = len(lines) if j is None else j
    return found


def _following(lines: list[str], dropped: set[int]) -> list[int | None]:
    """For each line, the index of the next line that is neither blank nor dropped."""
    following: list[int | None] = [None] * len(lines)
    after: int | None = None
    for i in range(len(lines) - 1, -1, -1):
        following[i] = after
        if lines[i] and i not in dropped:
            after = i
    return following


def _headline_like(line: str) -> bool:
    return len(line.split()) <= _LIST_ITEM_MAX_WORDS and (
        line.endswith("?") or not SENTENCE_END.search(line)
    )


def _labels_above_the_first_paragraph(lines: list[str], dropped: set[int]) -> set[int]:
    """Short lines before the first line of prose, when a longer line (the headline) is there.

    Only a word, or two capitalised words ("Middle East", not a headline like "Oil shock"),
    that neither goes on into the next line nor continues the previous one: a section label,
    a menu entry, a reporter's name.
    """
    first = next(
        (i for i, line in enumerate(lines) if i not in dropped and reads_like_prose(line)), None
    )
    if first is None:
        return set()
    lead = [i for i in range(first) if lines[i] and i not in dropped]
    if not any(len(lines[i].split()) > _LABEL_MAX_WORDS for i in lead):
        return set()
    labels: set[int] = set()
    for i in lead:
        line = lines[i]
        before = lines[i - 1] if i > 0 else ""
        after = lines[i + 1]
        words = line.split()
        if (
            len(words) <= _LABEL_MAX_WORDS
            and (len(words) == 1 or all(w[0].isupper() or w[0].isdigit() for w in words))
            and not SENTENCE_END.search(line)
            and not (before and continues(before, line))
            and not (after and continues(line, after))
        ):
            labels.add(i)
    return labels


def _trailing_furniture(lines: list[str], dropped: set[int]) -> set[int]:
    """The run of short, unpunctuated lines that ends the page, if real prose comes before it."""
    tail: set[int] = set()
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if not line or i in dropped:
            continue
        if len(line.split()) > _TAIL_MAX_WORDS or SENTENCE_END.search(line):
            break
        tail.add(i)
    before = min(tail, default=len(lines))
    has_prose = any(
        reads_like_prose(line) for i, line in enumerate(lines[:before]) if i not in dropped
    )
    return tail if has_prose else set()


def continues(previous: str, line: str) -> bool:
    """Whether ``line`` goes on with ``previous`` (a hard-wrapped paragraph), see
    :func:`summarize.text.split_paragraphs`."""
    if SENTENCE_END.search(previous):
        return False
    return line[0].islower() or line[0] in ",;" or bool(_OPEN_END.search(previous))


def has_article_text(sentences: list[str]) -> bool:
    """Whether any sentence reads like prose: a statement of three words or more ("The vote
    passed."), or a run of words too long for a menu or a headline (text without punctuation).

    Menus, headlines (questions included), labels and buttons have none; a two-sentence
    article has one.
    """
    for sentence in sentences:
        words = len(sentence.split())
        if words >= _RUN_MIN_WORDS or (words >= 3 and _STATEMENT_END.search(sentence)):
            return True
    return False


def reads_like_prose(line: str) -> bool:
    """A line of four words or more that ends like a sentence."""
    return len(line.split()) >= 4 and bool(SENTENCE_END.search(line))
