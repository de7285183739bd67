"""The checks of generated text, against their default thresholds, on Arabic and English."""

from __future__ import annotations

from pathlib import Path

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


# An instruction model's failures, as it writes them (cleaned of chat artefacts: what is left).
REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "I cannot translate this text.",
    "I am unable to summarize this article.",
    "Sorry, I can't assist with translating this.",
    "As an AI language model, I do not translate news.",
    "عذراً، لا أستطيع ترجمة هذا النص.",
    "أعتذر، لا يمكنني المساعدة في هذا الطلب.",
    "لا يمكنني ترجمة هذا المحتوى.",
]


@pytest.mark.parametrize("reply", REFUSALS)
def test_a_refusal_fails_as_a_translation_and_as_a_summary(reply: str) -> None:
    assert "refusal" in failed(BASRA_EN, reply)
    assert "refusal" in [f.check for f in check_summary(reply, ARTICLE, DEFAULTS)]


QUOTED = "“I'm sorry, but I can't comment on an ongoing investigation,” the minister said."
QUOTED_AR = "قال الوزير: «أنا آسف، لكن لا أستطيع التعليق على تحقيق جارٍ»."
REPORTED = "I'm sorry, but I can't comment on an ongoing investigation, the minister said."
REPORTED_AR = "عذراً، لا أستطيع التعليق على تحقيق جارٍ، قال الوزير."
HOSPITAL = "Unfortunately, the hospital cannot take more patients."
HOSPITAL_AR = "للأسف، لا يمكن للمستشفى استقبال المزيد من المرضى."
STORY = f"The minister was asked about the inquiry on Monday. {QUOTED} He left without answering."


@pytest.mark.parametrize(
    ("source", "output"),
    [
        (QUOTED, QUOTED_AR),  # a translated quotation of someone declining
        (REPORTED, REPORTED_AR),  # ... that opens the translation
        (HOSPITAL, HOSPITAL_AR),  # no one refuses: "cannot" said of a hospital
    ],
)
def test_a_refusal_in_the_news_is_not_the_models(source: str, output: str) -> None:
    assert failed(source, output) == []


@pytest.mark.parametrize(
    "summary",
    [
        QUOTED,  # a summary that opens with the article's quotation (BART copies sentences)
        REPORTED,
        "The minister would not comment: “I'm sorry, but I can't comment,” he said.",
    ],
)
def test_a_summary_quoting_a_refusal_from_its_article_is_not_flagged(summary: str) -> None:
    assert "refusal" not in [f.check for f in check_summary(summary, STORY, DEFAULTS)]


@pytest.mark.parametrize(
    "reply",
    [
        "This article discusses a new hospital that the government plans to open in Basra.",
        "The text is about the prime minister's plans for Basra.",
        "In this passage, the prime minister announces a hospital.",
        "يتناول المقال خطط الحكومة لافتتاح مستشفى جديد في البصرة.",
        "النص يتحدث عن مستشفى جديد في البصرة.",
        "يتحدث هذا النص عن خطط رئيس الوزراء.",
    ],
)
def test_an_answer_about_the_text_instead_of_its_translation_fails(reply: str) -> None:
    assert "about_text" in failed(BASRA_EN, reply)


# News that speaks of a text: an agreement's, a report's.
SPEAKS_OF_TEXTS = {
    "The text says that both sides will withdraw their forces.": (
        "ينص النص على أن الطرفين سيسحبان قواتهما."
    ),
    "The article describes the abuses in detail, the lawyers said.": (
        "يصف المقال الانتهاكات بالتفصيل، حسبما قال المحامون."
    ),
    "The report describes widespread abuses in the camps.": (
        "يصف التقرير انتهاكات واسعة في المخيمات."
    ),
}


@pytest.mark.parametrize(("source", "output"), SPEAKS_OF_TEXTS.items())
def test_a_source_that_speaks_about_a_text_is_translated_without_a_flag(
    source: str, output: str
) -> None:
    assert failed(source, output) == []


def test_a_summary_may_speak_about_its_article() -> None:
    summary = "The article describes a budget for three new schools in Basra."
    assert check_summary(summary, ARTICLE, DEFAULTS) == []


def test_a_summary_in_place_of_a_translation_is_much_shorter_than_its_source() -> None:
    source = f"{BASRA_EN} {RAIN_EN} {PRICES_EN}"
    (failure,) = check_segment(source, "مستشفى جديد في البصرة وأمطار في الموصل.", False, DEFAULTS)
    assert failure.check == "length_ratio" and failure.value < DEFAULTS.min_length_ratio


@pytest.mark.parametrize(
    ("output", "count"),
    [
        (f"{BASRA_AR}<|im_end|>{RAIN_AR}", 1),
        (f"{BASRA_AR}\nUser: translate the next one\nAssistant: {RAIN_AR}", 2),
        (f"<start_of_turn>{BASRA_AR}<end_of_turn>", 2),
        (f"{BASRA_AR} [/INST]", 1),
    ],
)
def test_chat_residue_cleaning_left_fails_with_its_count(output: str, count: int) -> None:
    (failure,) = [f for f in check_segment(TWO_EN, output, False, DEFAULTS) if f.check == "residue"]
    assert failure.value == count
    assert "residue" in [f.check for f in check_summary(output, ARTICLE, DEFAULTS)]


def test_a_chat_token_the_source_holds_is_not_residue() -> None:
    source = "Models mark a turn's end with <|im_end|>, the engineers said."
    assert failed(source, "تضع النماذج <|im_end|> في نهاية الدور، حسبما قال المهندسون.") == []


@pytest.mark.parametrize("check", ["refusal", "about_text", "residue"])
def test_an_instruction_models_check_left_out_is_not_run(check: str) -> None:
    replies = {"refusal": REFUSALS[5], "about_text": "يتناول المقال", "residue": "<|im_end|>"}
    others = [c for c in DEFAULTS.checks if c != check]
    output = f"{replies[check]} {BASRA_AR}"
    assert check in [f.check for f in check_segment(BASRA_EN, output, False, DEFAULTS)]
    assert check not in [
        f.check for f in check_segment(BASRA_EN, output, False, GuardSettings(checks=others))
    ]


@pytest.mark.parametrize(
    ("output", "check"),
    [
        ("The prime minister said a new hospital will open in Basra next year.", "script"),
        (f"{BASRA_AR} " + "وقال إن الحكومة ستفتتح المستشفى. " * 6, "repetition"),
    ],
)
def test_the_existing_checks_catch_an_instruction_models_other_failures(
    output: str, check: str
) -> None:
    assert check in failed(BASRA_EN, output)


# A seed article, and summaries of it as an instruction model writes them: abstractive, in
# other words than the article's, then one that invents what the article does not say.
SEED = (Path(__file__).parents[1] / "seeds" / "kadhimi-ambassadors.txt").read_text(encoding="utf-8")
FAITHFUL = [
    "Iraq's prime minister told envoys from 25 nations that those behind the recent attacks on "
    "their embassies would be stopped, and that the attacks were also hurting ordinary people, "
    "children among them.",
    "Mustafa Al-Kadhimi met with the envoys of 25 nations after they asked to see him. He said "
    "that those who attack embassies want to weaken Iraq, and that the state will bring them to "
    "justice.",
    "Iraqi Prime Minister Mustafa Al-Kadhimi met the ambassadors of 25 countries on Wednesday to "
    "discuss the security of foreign diplomatic missions. He vowed that the state would enforce "
    "the rule of law and protect embassies, saying the attackers aim to destabilise Iraq.",
]
INVENTED = (
    "The Iraqi leader pledged a crackdown on rogue militias targeting Western embassies, "
    "promising diplomats tougher security after recent rocket strikes."
)


@pytest.mark.parametrize("summary", FAITHFUL)
def test_grounding_passes_an_abstractive_summary_in_its_own_words(summary: str) -> None:
    assert check_summary(summary, SEED, DEFAULTS) == []


def test_grounding_flags_an_abstractive_summary_that_invents() -> None:
    assert [f.check for f in check_summary(INVENTED, SEED, DEFAULTS)] == ["grounding"]
    assert grounded_share(INVENTED, SEED) < 0.3
