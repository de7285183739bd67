"""Furniture shapes removed, sentences of the same words kept; pages with no article fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarize import run
from summarize.cleanup import clean_lines, furniture_lines, has_article_text
from summarize.config import load_config
from summarize.errors import ConfigError, InputError
from summarize.text import parse
from tests.conftest import ECHO

BEFORE = "The council met on Tuesday to vote on the budget."
AFTER = "It passed by ten votes after a long debate."

# Lines of the shapes added for the labelled set, each removed between two sentences.
FURNITURE = [
    "Home | World | Business | Sport",
    "Home › Culture › Heritage",
    "Home > News > Transport",
    "Privacy policy | Cookie policy | Terms of use",
    "Facebook Twitter WhatsApp Email",
    "Share: Facebook | X | LinkedIn | Email",
    "By Layla Hassan",
    "By Omar Saleh and Dina Farouk",
    "By Hussein Ali, Basra correspondent",
    "By Karwan Ahmed in Sulaymaniyah",
    "Sports correspondent",
    "Published 14 March 2025",
    "3 April 2025 | 09:41 GMT",
    "Updated: 12:05 GMT, 9 May 2025",
    "2 hours ago",
    "Read more: Basra fuel shortages ease as new depot opens",
    "Read also: What a stronger dinar means for importers",
    "Video: Dust turns Baghdad sky orange",
    "Sponsored: Try the new Tigris Bank savings account",
    "Photo: Ahmed Karim/Reuters",
    "Image: Department of Antiquities",
    "(Photo by Jane Doe/AFP)",
    "Sign up for our newsletter to get the top stories every morning.",
    "Get the latest news delivered to your inbox",
    "By signing up you agree to our terms and privacy policy.",
    "Download the Sport Today app",
    "Available on the App Store and Google Play",
    "We use cookies to personalise content and ads. By using this site, you consent to our "
    "cookie policy.",
    "Listen to this article",
    "4 min read",
    "Comments (14)",
    "Most read",
    "You may also like",
]

# Real sentences (and one short subheading) that start like those lines: all kept.
SENTENCES = [
    "By Monday the talks had collapsed.",
    "By Friday, Iraq had paid 3 billion dinars.",
    "By John Smith's own account, the deal failed.",
    "Published figures show a rise of 4 percent.",
    "Updated maps were handed to the teams.",
    "Photo: the minister at the site.",
    "Photos by Reuters showed the damage.",
    "Watch: the minister's speech was cut short.",
    "Video footage showed the blast.",
    "Related: a second case was filed.",
    "Read more: prices fell.",
    "Get the facts before you vote, the ad said.",
    "Download speeds doubled in Baghdad.",
    "Download the App, officials urged drivers.",
    "We use cookies to track ads, the company admitted.",
    "This site uses cookies, the court found, and users must agree.",
    "Facebook and Twitter were blocked.",
    "Sign up for the army fell by half.",
    "Latest figures show growth.",
    "Trending topics on Twitter included the vote.",
    "Home owners were told to leave.",
    "More than 200 people were hurt.",
    "Sponsored by the UN, the talks resumed.",
    "Written by hand, the letter was delivered.",
    "Follow-up talks are planned for May.",
    "Related costs rose by a tenth.",
    # A dateline that opens the first paragraph, a photo caption, a sign-off: article text.
    "BAGHDAD, March 3 (Reuters) - Oil prices fell on Monday.",
    "Fishermen unload their catch in Basra. Photo: Reuters",
    "Reporting by Layla Hassan; editing by Omar Saleh",
]


@pytest.mark.parametrize(
    ("line", "furniture"), [(f, True) for f in FURNITURE] + [(s, False) for s in SENTENCES]
)
def test_furniture_goes_and_a_sentence_that_starts_like_it_stays(
    line: str, furniture: bool
) -> None:
    kept, removed = clean_lines([BEFORE, line, AFTER])
    assert removed == ([line] if furniture else [])
    assert (line in kept) is not furniture and kept[0] == BEFORE and kept[-1] == AFTER


def test_a_wrapped_paragraph_that_starts_like_a_byline_is_kept() -> None:
    lines = [BEFORE, "By Friday, Iraq had", "paid the workers.", AFTER]
    assert clean_lines(lines) == (lines, [])
    lines = [BEFORE, "The ministry paid the workers, and", "By Friday, Iraq had", AFTER]
    assert clean_lines(lines)[1] == []  # ends a wrapped line
    # On its own, the same line has the shape of a byline.
    assert clean_lines([BEFORE, "By Friday, Iraq had", AFTER])[1] == ["By Friday, Iraq had"]


def test_a_title_repeated_with_the_site_name_is_removed() -> None:
    title = "Central bank holds rates as inflation cools"
    lines = [title, f"{title} | The Daily Ledger", BEFORE, f"{title} - Nation Wire"]
    assert clean_lines(lines)[1] == lines[1:2] + lines[3:]


def test_labels_above_the_first_paragraph_go_when_a_headline_is_there() -> None:
    lines = ["Menu", "Middle East", "Flood relief reaches villages", "Sami Nouri", BEFORE]
    assert clean_lines(lines)[1] == ["Menu", "Middle East", "Sami Nouri"]
    # A short headline in sentence case, or no longer line to be the headline: all kept.
    for kept in (["Oil shock", "Prices jump as output falls", BEFORE], ["World", BEFORE]):
        assert clean_lines(kept) == (kept, [])


def test_a_story_list_goes_but_a_subheading_before_prose_stays() -> None:
    lines = [BEFORE, "Most read", "Oil rises again", "Gas falls", "A city waits", AFTER]
    assert clean_lines(lines)[1] == ["Most read", "Oil rises again", "Gas falls"]
    # At the end of the page, the whole list goes; a "Read more:" heads one link.
    assert clean_lines([BEFORE, "Related", "Oil rises again", "Gas falls"])[1] == [
        "Related",
        "Oil rises again",
        "Gas falls",
    ]
    lines = [BEFORE, "Read more:", "Oil rises again", "Gas falls", AFTER]
    assert clean_lines(lines)[1] == ["Read more:", "Oil rises again"]


def test_a_story_list_before_the_article_begins_is_left_alone() -> None:
    lines = ["Most read", "Oil rises again on Monday", "Gas falls in Basra", BEFORE]
    assert clean_lines(lines)[1] == ["Most read"]


# Pages with no article: each fails with the reason, and passes when so configured.
NO_ARTICLE = {
    "navigation": "Home | World | Business\nWorld\nMiddle East\nOpinion\nVideo\n",
    "headlines": (
        "Latest news\nHeatwave forces schools to close early\nIraq and Jordan sign power deal\n"
        "What causes the dust storms?\nFive things to know about the budget\n"
    ),
    "cookies and footer": (
        "We use cookies to improve your experience. By using this site you agree to our use "
        "of cookies.\nAccept all\nPrivacy policy\nTerms of use\n© 2025 Gulf Courier\n"
    ),
    "shafaq": "Shafaq Live\nRadio radio icon\n",
    "menu words": "Sport\nFootball\nLive scores\nFixtures\nTables\n",
}


@pytest.mark.parametrize("text", NO_ARTICLE.values(), ids=NO_ARTICLE.keys())
def test_a_page_with_no_article_text_fails_saying_why(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(text.encode(), "page.txt", require_article=True)
    message = str(caught.value)
    assert message.startswith("page.txt: ")
    assert "no article text found" in message or "nothing left to summarize" in message


def test_the_no_article_message_is_exact_and_names_the_key() -> None:
    with pytest.raises(InputError) as caught:
        parse(b"Shafaq Live\nRadio radio icon\n", "page.txt", require_article=True)
    assert str(caught.value) == (
        "page.txt: no article text found (only short lines without sentences); "
        "set input.require_article = false to process it anyway"
    )
    doc = parse(b"Shafaq Live\nRadio radio icon\n", "page.txt", require_article=False)
    assert doc.sentences == ["Shafaq Live", "Radio radio icon"]


@pytest.mark.parametrize(
    "text",
    [
        "Oil prices fell on Monday. Markets closed lower.",
        "Oil prices fall\n\nOil prices fell on Monday.\nTraders blamed weak demand.\n",
        "The minister resigned, officials said!",
        '"We will not stop," she said.',
        # A hard-wrapped sentence whose lines are each too short to be prose.
        "The talks lasted\nfor hours and\nended late.",
    ],
)
def test_a_short_real_article_passes(text: str) -> None:
    assert parse(text.encode(), "a.txt", require_article=True).sentences


@pytest.mark.parametrize(
    ("sentences", "expected"),
    [
        (["Oil prices fell on Monday."], True),
        (["Prices fell sharply again!"], True),
        (["Oil prices fell.”"], True),
        (["Prices fell."], False),  # two words
        ([" ".join(["word"] * 20)], True),  # a long run without punctuation
        ([" ".join(["word"] * 19)], False),
        (["What causes the dust storms?"], False),  # a headline asks
        (["Read more about it:"], False),
        (["Oil prices fall sharply on Monday"], False),
        ([], False),
    ],
)
def test_article_text_is_a_statement_or_a_long_run(sentences: list[str], expected: bool) -> None:
    assert has_article_text(sentences) is expected


def test_a_run_fails_a_menu_page_and_writes_the_article(tmp_path: Path) -> None:
    (tmp_path / "menu.txt").write_text(NO_ARTICLE["shafaq"], encoding="utf-8")
    (tmp_path / "story.txt").write_text(f"{BEFORE}\n{AFTER}\n", encoding="utf-8")
    report = run(load_config(None, ECHO[1::2]), [str(tmp_path)])
    assert [r.reason for r in report.failures] == [
        f"{tmp_path / 'menu.txt'}: no article text found (only short lines without "
        "sentences); set input.require_article = false to process it anyway"
    ]
    assert not (tmp_path / "menu.ar.txt").exists()
    assert (tmp_path / "story.ar.txt").read_text(encoding="utf-8").startswith(BEFORE)
    settings = [*ECHO[1::2], "input.require_article=false"]
    assert run(load_config(None, settings), [str(tmp_path)]).failures == []
    assert (tmp_path / "menu.ar.txt").exists()


def test_require_article_must_be_true_or_false() -> None:
    with pytest.raises(ConfigError, match=r"input\.require_article must be true or false"):
        load_config(None, ["input.require_article=yes"])


# --- Cases found by mutation testing: each pins a boundary or a neighbour check in cleanup.py.


def test_the_wrapped_paragraph_guard_looks_at_both_neighbours_wherever_the_line_is() -> None:
    wrapped = "By Friday, Iraq had"
    # Second line, continuing the first; second to last, continued by the last.
    assert clean_lines(["The ministry paid the workers, and", wrapped, AFTER])[1] == []
    assert clean_lines([BEFORE, wrapped, "paid the workers."])[1] == []
    # First and last lines have no neighbour on one side: nothing continues there.
    assert clean_lines(["published 3 May 2025", BEFORE])[1] == ["published 3 May 2025"]
    assert clean_lines([BEFORE, "By Layla Hassan", "The vote on the new budget was held on"])[
        1
    ] == ["By Layla Hassan"]
    last = "The vote on the new budget was held on"
    assert clean_lines(["By Layla Hassan", BEFORE, last])[1] == ["By Layla Hassan"]
    link = "Read more: Where the money for the dam goes to"
    assert clean_lines([BEFORE, link])[1] == [link]


@pytest.mark.parametrize(("words", "removed"), [(60, True), (61, False)])
def test_a_cookie_notice_goes_up_to_sixty_words(words: int, removed: bool) -> None:
    notice = " ".join(
        ["We use cookies", *["ab"] * (words - 11), "so you agree to our use of cookies."]
    )
    assert len(notice.split()) == words
    assert clean_lines([BEFORE, notice, AFTER])[1] == ([notice] if removed else [])


@pytest.mark.parametrize(
    ("lines", "removed"),
    [
        # A label that continues the line before it, or goes on into the next, is text.
        (["Oil prices fall as the", "Gulf Output", BEFORE], []),
        (["Oil prices fall sharply", "World", "leaders met on Monday to talk."], []),
        # Two-word lines only: no headline among them, so no label either.
        (["World", "Middle East", BEFORE], []),
        # A label that starts with a digit, or in lower case; on the first line, whatever
        # the last line of the page is.
        (["9 Lives", "Oil prices fall sharply", BEFORE], ["9 Lives"]),
        (["sport", "Oil prices fall sharply", BEFORE], ["sport"]),
        (
            ["World", "Oil prices fall sharply", BEFORE, "The vote on the budget was held on"],
            ["World"],
        ),
    ],
)
def test_labels_above_the_first_paragraph_edge_cases(lines: list[str], removed: list[str]) -> None:
    assert clean_lines(lines)[1] == removed


def test_story_lists_edge_cases() -> None:
    long_items = ["Date exports hit a record high this year", "Palm groves return after the war"]
    lines = [
        BEFORE,
        "Read more:",
        "Oil rises again",
        "Gas falls in Basra as new fields open",
        AFTER,
        "Most read",
        "What causes the dust storms?",
        " ".join(["word"] * 20),
        "Power cuts go on",
        "Officials expect a second vote in June.",
        "Related",
        *long_items,
    ]
    assert clean_lines(lines)[1] == [
        "Read more:",
        "Oil rises again",
        "Most read",
        "What causes the dust storms?",
        " ".join(["word"] * 20),
        "Related",
        *long_items,
    ]
    # A "Read more:" label heads one link, even at the end of the page.
    link, headline = "Oil rises again today in Basra", "Gas falls in Basra as new fields open"
    assert clean_lines([BEFORE, "Read more:", link, headline])[1] == ["Read more:", link]
    # A line of 21 words is no headline: the list stops before it.
    lines = [BEFORE, "Most read", "Oil rises again", " ".join(["word"] * 21), AFTER]
    assert clean_lines(lines)[1] == ["Most read"]


def test_a_list_heading_before_the_article_does_not_start_a_list_even_after_a_prompt() -> None:
    cookie = "We use cookies. By using this site you agree to our use of cookies."
    lines = [cookie, "Most read", "Oil rises again", "Gas falls in Basra", BEFORE]
    assert clean_lines(lines)[1] == [cookie, "Most read"]


def test_furniture_lines_are_the_indices_of_the_lines_clean_lines_removes() -> None:
    lines = ["Home | World", "Oil prices fall", "", "Prices fell on Monday.", "Share this article"]
    kept, removed = clean_lines(lines)
    assert furniture_lines(lines) == {0, 4}
    assert removed == ["Home | World", "Share this article"]
    assert kept == lines[1:4]
