"""News-like English articles of varied length, made up offline, for the benchmarks.

Deterministic for a given seed. Each article is a headline followed by paragraphs of one to
three sentences, one paragraph per line with a blank line between, like a scraped news page
after cleanup. The repository's ``seeds/`` articles are mixed in as they are.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

__all__ = ["arabic_sentences", "english_sentences", "make_article", "make_corpus", "seed_sentences"]

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

_PEOPLE = [
    "Prime Minister Mustafa Al-Kadhimi",
    "President Barham Salih",
    "Foreign Minister Fuad Hussein",
    "Finance Minister Ali Allawi",
    "the mayor of Basra",
    "Governor Asaad Al-Eidani",
    "Speaker Mohammed al-Halbousi",
    "the ambassador of Japan",
    "the ambassador of Germany",
    "the United Nations envoy Jeanine Hennis-Plasschaert",
    "Health Minister Hassan al-Tamimi",
    "Oil Minister Ihsan Abdul Jabbar",
    "the central bank governor",
    "a senior military commander",
    "the spokesman of the Joint Operations Command",
    "Electricity Minister Majid Hantoush",
    "Transport Minister Nasser al-Shibli",
    "the head of the Kurdistan Regional Government",
    "a member of the parliamentary security committee",
    "the director of the Baghdad airport",
    "Education Minister Ali Hamid Mukhlif",
    "the chief executive of the Iraqi Drilling Company",
    "Agriculture Minister Mohammed Karim",
    "the chairman of the Integrity Commission",
]
_GROUPS = [
    "the cabinet",
    "the parliament",
    "the Ministry of Oil",
    "the Ministry of Health",
    "the Ministry of Electricity",
    "the central bank",
    "the security forces",
    "the federal court",
    "the provincial council",
    "the World Bank",
    "the International Monetary Fund",
    "a delegation of investors",
    "the farmers' union",
    "the teachers' union",
    "local officials",
    "residents of the old city",
    "the electoral commission",
    "the Red Crescent",
    "a group of engineers",
    "the port authority",
    "the national airline",
    "aid agencies",
]
_PLACES = [
    "Baghdad",
    "Basra",
    "Mosul",
    "Erbil",
    "Najaf",
    "Karbala",
    "Kirkuk",
    "Sulaymaniyah",
    "Nasiriyah",
    "Ramadi",
    "Fallujah",
    "Diyala",
    "Anbar",
    "Dhi Qar",
    "Maysan",
    "Wasit",
    "Babylon",
    "Duhok",
    "the Green Zone",
    "the southern provinces",
    "the Nineveh Plains",
    "the border crossing at Qaim",
]
_TOPICS = [
    "the security of diplomatic missions",
    "the new budget for schools and roads",
    "the shortage of electricity during the summer",
    "the reconstruction of the old market",
    "oil exports through the southern ports",
    "the price of drinking water",
    "salaries of public employees",
    "the return of displaced families",
    "a new railway line to the Turkish border",
    "the fight against corruption",
    "the vaccination campaign",
    "the early elections",
    "the drought along the Euphrates",
    "the protection of archaeological sites",
    "a loan for new power stations",
    "the repair of bridges damaged in the war",
    "unemployment among young graduates",
    "the control of weapons outside the state",
    "trade with neighbouring countries",
    "a plan to build ten thousand homes",
    "the rising cost of food",
    "the reopening of the airport",
]
_VERBS = [
    "announced",
    "said",
    "confirmed",
    "warned",
    "stressed",
    "denied",
    "explained",
    "reported",
    "promised",
    "revealed",
    "added",
    "insisted",
    "acknowledged",
    "argued",
    "noted",
    "declared",
]
_DAYS = [
    "on Monday",
    "on Tuesday",
    "on Wednesday",
    "on Thursday",
    "on Friday",
    "on Saturday",
    "on Sunday",
    "late on Sunday",
    "earlier this week",
    "last month",
    "this morning",
]
_ACTIONS = [
    "held a meeting with {group} to discuss {topic}",
    "approved a plan worth {money} for {topic}",
    "visited {place} to inspect work on {topic}",
    "signed an agreement with {group} on {topic}",
    "called for an urgent investigation into {topic}",
    "received a report from {group} about {topic}",
    "opened a new office in {place} dedicated to {topic}",
    "asked {group} to present proposals on {topic} within {number} days",
    "criticised the slow progress on {topic} in {place}",
    "set up a committee of {number} experts to follow {topic}",
]
_FACTS = [
    "More than {number} people were affected in {place}, according to {group}.",
    "The project is expected to cost about {money} and to take {number} months.",
    "Officials in {place} said that the work would begin before the end of the year.",
    "{group_cap} said it had received {number} complaints since the start of the month.",
    "The figures published by {group} show a rise of {percent} percent compared with last year.",
    "Prices in the markets of {place} rose by {percent} percent in the past {number} weeks.",
    "About {number} families have returned to their homes in {place} since the spring.",
    "The decision was welcomed by {group}, which had long asked for action on {topic}.",
    "Critics in {place} said the plan did not go far enough and came too late.",
    "The first phase covers {number} villages in {place} and will be finished next year.",
    "Talks between {group} and {group2} are expected to resume next week in {place}.",
    "No group has claimed responsibility for the attack, which took place near {place}.",
]
_QUOTES = [
    '"We will not allow anyone to threaten {topic}", {person} said.',
    '"The state is determined to protect its citizens and its guests", {person} added.',
    '"This is a first step, and more will follow in the coming weeks", {person} told reporters.',
    '"Our people deserve better services and we intend to deliver them", {person} said.',
    '"We need the support of our partners to succeed", {person} stressed.',
]


def _fill(template: str, rng: random.Random) -> str:
    group, group2 = rng.sample(_GROUPS, 2)
    return template.format(
        person=rng.choice(_PEOPLE),
        group=group,
        group2=group2,
        group_cap=group[0].upper() + group[1:],
        place=rng.choice(_PLACES),
        topic=rng.choice(_TOPICS),
        number=rng.choice([3, 5, 7, 12, 15, 20, 25, 40, 60, 150, 300, 1200, 4500]),
        percent=rng.choice([2, 4, 7, 9, 11, 15, 23]),
        money=rng.choice(
            ["2 million dollars", "15 billion dinars", "300 million dollars", "1.2 billion dollars"]
        ),
    )


def _sentence(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        who = rng.choice(_PEOPLE)
        action = _fill(rng.choice(_ACTIONS), rng)
        sentence = f"{who} {rng.choice(_DAYS)} {action}"
        if rng.random() < 0.5:
            verb = rng.choice(["discussed", "reviewed", "raised"])
            link = rng.choice(["while", "after", "as"])
            sentence += f", {link} " + _fill("{group} " + verb + " {topic} in {place}", rng)
        return sentence[0].upper() + sentence[1:] + "."
    if kind < 0.65:
        person = rng.choice(_PEOPLE)
        return (
            f"{person[0].upper() + person[1:]} {rng.choice(_VERBS)} that "
            f"{_fill('{group} would continue to work on {topic} in {place}', rng)}."
        )
    if kind < 0.85:
        return _fill(rng.choice(_FACTS), rng)
    return _fill(rng.choice(_QUOTES), rng)


def seed_sentences() -> list[str]:
    """The lines of the repository's seed articles."""
    return [
        line.strip()
        for path in sorted(SEEDS.glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def english_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` made-up news sentences (for training the benchmark tokenizers)."""
    rng = random.Random(seed)
    return [_sentence(rng) for _ in range(count)]


def make_article(rng: random.Random, words: int) -> str:
    """One article of about ``words`` words: a headline, then one paragraph per line."""
    topic = rng.choice(_TOPICS)
    headline = f"{topic[0].upper() + topic[1:]} on the agenda in {rng.choice(_PLACES)}"
    paragraphs: list[str] = []
    total = len(headline.split())
    while total < words:
        sentences = [_sentence(rng) for _ in range(rng.choice([1, 2, 2, 3]))]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += len(paragraph.split())
    return "\n\n".join([headline, *paragraphs]) + "\n"


def _trim(text: str, max_words: int) -> str:
    """``text`` cut after the last whole paragraph within ``max_words`` (at least one)."""
    kept: list[str] = []
    words = 0
    for paragraph in text.split("\n\n"):
        words += len(paragraph.split())
        if kept and words > max_words:
            break
        kept.append(paragraph)
    return "\n\n".join(kept).rstrip("\n") + "\n"


def make_corpus(
    count: int, seed: int = 0, min_words: int = 120, max_words: int = 600
) -> Iterator[str]:
    """``count`` articles: the repository's seed articles first, then made-up ones.

    A seed article longer than ``max_words`` is cut after its last whole paragraph that fits.

    Lengths are spread evenly (in a shuffled order) between ``min_words`` and ``max_words``,
    so a small sample is as varied as a large one.
    """
    seeds = sorted(SEEDS.glob("*.txt"))
    for path in seeds[:count]:
        yield _trim(path.read_text(encoding="utf-8"), max_words)
    rng = random.Random(seed)
    remaining = count - min(count, len(seeds))
    lengths = [
        min_words + (max_words - min_words) * i // max(remaining - 1, 1) for i in range(remaining)
    ]
    rng.shuffle(lengths)
    for words in lengths:
        yield make_article(rng, words)


# Plain Modern Standard Arabic, recombined to train the target-side tokenizer of the Marian
# stand-in. Its outputs are never read; the pieces only have to decode to Arabic text.
_AR_WORDS = [
    "أعلن",
    "رئيس",
    "الوزراء",
    "يوم",
    "الأربعاء",
    "أن",
    "الحكومة",
    "عقدت",
    "اجتماعا",
    "مع",
    "سفراء",
    "الدول",
    "الصديقة",
    "لبحث",
    "أمن",
    "البعثات",
    "الدبلوماسية",
    "في",
    "العراق",
    "وقال",
    "إن",
    "الدولة",
    "عازمة",
    "على",
    "حماية",
    "مواطنيها",
    "وضيوفها",
    "وأضاف",
    "أن",
    "الهجمات",
    "لا",
    "تستهدف",
    "البعثات",
    "الدولية",
    "فقط",
    "بل",
    "المواطنين",
    "الأبرياء",
    "أيضا",
    "ومن",
    "جهتهم",
    "أكد",
    "السفراء",
    "دعمهم",
    "للعراق",
    "وشعبه",
    "واحترام",
    "سيادته",
    "والحوار",
    "لتحقيق",
    "الاستقرار",
    "والسلام",
    "وافق",
    "مجلس",
    "الوزراء",
    "على",
    "خطة",
    "جديدة",
    "لبناء",
    "المدارس",
    "والطرق",
    "في",
    "المحافظات",
    "الجنوبية",
    "بتكلفة",
    "تزيد",
    "على",
    "مليوني",
    "دولار",
    "وقالت",
    "وزارة",
    "الصحة",
    "إن",
    "حملة",
    "التطعيم",
    "ستبدأ",
    "الأسبوع",
    "المقبل",
    "في",
    "بغداد",
    "والبصرة",
    "والموصل",
    "وأربيل",
    "وارتفعت",
    "أسعار",
    "المواد",
    "الغذائية",
    "في",
    "الأسواق",
    "المحلية",
    "بنسبة",
    "كبيرة",
    "خلال",
    "الشهر",
    "الماضي",
    "ويطالب",
    "السكان",
    "بتحسين",
    "خدمات",
    "الكهرباء",
    "والماء",
    "قبل",
    "حلول",
    "فصل",
    "الصيف",
    "وعاد",
    "آلاف",
    "النازحين",
    "إلى",
    "منازلهم",
    "في",
    "المدينة",
    "القديمة",
    "بعد",
    "انتهاء",
    "أعمال",
    "إعادة",
    "الإعمار",
    "وقع",
    "البنك",
    "المركزي",
    "اتفاقا",
    "مع",
    "صندوق",
    "النقد",
    "الدولي",
    "لتمويل",
    "محطات",
    "الكهرباء",
    "الجديدة",
    "وإصلاح",
    "الجسور",
    "المتضررة",
    "في",
    "الحرب",
]


def arabic_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` Arabic word salads (for training the benchmark's target-side tokenizer)."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(_AR_WORDS, k=rng.randint(6, 20))) + "." for _ in range(count)]
