"""The checks of generated text, against their default thresholds, on Arabic and English."""

from __future__ import annotations

import pytest

from summarize.guards import (
    check_segment,
    check_summary,
    grounded_share,
    repetition_share,
    script_share,
)
from summarize.settings import GuardSettings

DEFAULTS = GuardSettings()

# Written for these tests: English sources and their Arabic translations.
BASRA_EN = "The prime minister said the government will open a new hospital in Basra next year."
BASRA_AR = "قال رئيس الوزراء إن الحكومة ستفتتح مستشفى جديدا في البصرة العام المقبل."
PRICES_EN = "Food prices rose by 12% in 2024, the statistics office said on Sunday."
PRICES_AR = "قال مكتب الإحصاء يوم الأحد إن أسعار الغذاء ارتفعت بنسبة 12% في عام 2024."
NASA_EN = "NASA said the Artemis II crew will fly around the Moon in April."
NASA_AR = "قالت NASA إن طاقم Artemis II سيحلق حول القمر في أبريل."
RAIN_EN = "Heavy rain flooded several streets in Mosul on Tuesday night."
RAIN_AR = "أغرقت أمطار غزيرة عدة شوارع في الموصل ليلة الثلاثاء."
TWO_EN = f"{BASRA_EN} {RAIN_EN}"
TWO_AR = f"{BASRA_AR} {RAIN_AR}"


def failed(source: str, output: str, hit_limit: bool = False) -> list[str]:
    return [f.check for f in check_segment(source, output, hit_limit, DEFAULTS)]


@pytest.mark.parametrize(
    ("source", "output"),
    [
        (BASRA_EN, BASRA_AR),
        (PRICES_EN, PRICES_AR),
        (NASA_EN, NASA_AR),  # Latin names kept from the source
        (RAIN_EN, RAIN_AR),
        (TWO_EN, TWO_AR),
        ("Yes.", "نعم."),  # too short to judge a length ratio
        ("Artemis II", "Artemis II"),  # a name may stay as it is
        ("He said: no, no, no.", "قال: لا، لا، لا."),  # a short repeat is no loop
    ],
)
def test_a_healthy_arabic_translation_passes_every_check(source: str, output: str) -> None:
    assert failed(source, output) == []


@pytest.mark.parametrize(
    ("source", "output", "check"),
    [
        (BASRA_EN, "", "empty"),
        (BASRA_EN, "   \n", "empty"),
        (BASRA_EN, BASRA_EN, "identical"),
        (BASRA_EN, "أنا آسف " * 12, "repetition"),
        (BASRA_EN, "آسف " * 40, "repetition"),
        (BASRA_EN, "قال رئيس الوزراء " + "الحكومة الحكومة الحكومة " * 8, "repetition"),
        # Latin output for Arabic (French here: nothing in it is a name from the source)
        (BASRA_EN, "Le premier ministre a dit que le gouvernement ouvrira un hôpital.", "script"),
        # half Arabic, half untranslated English
        (TWO_EN, f"{BASRA_AR} Heavy rain flooded several roads in the north overnight.", "script"),
        (TWO_EN, BASRA_AR, "length_ratio"),  # a dropped sentence
        (BASRA_EN, f"{BASRA_AR} {RAIN_AR} {PRICES_AR}", "length_ratio"),  # invented ones
    ],
)
def test_a_degenerate_translation_fails_its_check(source: str, output: str, check: str) -> None:
    assert check in failed(source, output)


def test_an_output_cut_at_its_length_cap_fails_even_when_it_reads_well() -> None:
    assert failed(BASRA_EN, BASRA_AR, hit_limit=True) == ["length_cap"]


def test_a_check_left_out_of_the_list_is_not_run() -> None:
    settings = GuardSettings(checks=["empty"])
    assert check_segment(BASRA_EN, BASRA_EN, True, settings) == []


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        (BASRA_AR, 0.0, 0.05),
        ("I'm sorry I'm sorry I'm sorry I'm sorry", 0.7, 1.0),
        ("sorry " * 50, 0.95, 1.0),
        ("The the committee met on Monday and agreed on the budget.", 0.0, 0.15),
        ("a b", 0.0, 0.0),
    ],
)
def test_repetition_share_measures_the_looped_part(text: str, low: float, high: float) -> None:
    assert low <= repetition_share(text) <= high


def test_script_share_counts_latin_names_from_the_source_as_kept() -> None:
    assert script_share(NASA_AR, NASA_EN) == 1.0
    assert script_share(NASA_AR, "The crew will fly around the Moon.") < 0.9
    assert script_share("2024 - 12%", BASRA_EN) == 1.0  # no letters: nothing to judge


ARTICLE = (
    "The city council of Basra approved a budget for three new schools on Monday. "
    "The schools will be built in the northern districts, where classrooms are crowded. "
    "Construction is expected to begin in the spring and to take two years."
)


@pytest.mark.parametrize(
    "summary",
    [
        "Basra's city council approved a budget for three new schools. Construction begins "
        "in the spring.",
        "The schools will be built in the crowded northern districts over two years.",
    ],
)
def test_a_healthy_summary_passes_every_check(summary: str) -> None:
    assert check_summary(summary, ARTICLE, DEFAULTS) == []


@pytest.mark.parametrize(
    ("summary", "check"),
    [
        ("", "empty"),
        ("The council approved the budget. " * 8, "repetition"),
        (ARTICLE + " " + ARTICLE, "summary_length"),
        ("Football fans celebrated a dramatic victory after extra time in Madrid.", "grounding"),
    ],
)
def test_a_degenerate_summary_fails_its_check(summary: str, check: str) -> None:
    assert check in [f.check for f in check_summary(summary, ARTICLE, DEFAULTS)]


def test_grounding_finds_words_the_article_has_with_other_endings() -> None:
    assert grounded_share("Councils approving budgets", ARTICLE) == 1.0
    assert grounded_share("Stadium fireworks", ARTICLE) == 0.0
