"""Articles run through the real pipeline with a model-free translator that writes Arabic script.

Shared by the review page's tests and its benchmark (``benchmarks/review_page.py``): the echo
summarizer, and a translator that knows the Arabic of a few sentences (those of the page in the
README's screenshot) and spells any other Latin letter with an Arabic one (same length, all
Arabic script, so the guards pass it), except in segments that hold ``UNTRANSLATED``, which come
back as they went in and are flagged by the script and identical checks.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path

from summarize.backends import GenerateOptions, Generation
from summarize.backends.echo import EchoBackend
from summarize.config import load_config
from summarize.console import ResultSink, report_sink
from summarize.engines import Models
from summarize.pipeline import run
from summarize.report import Report

#: the settings of a run with these engines (their names go into the sidecar's signature)
SETTINGS = [
    "summarizer.backend=echo",
    "summarizer.model=echo",
    "translator.backend=echo",
    "translator.model=lexicon",
]
UNTRANSLATED = "UNTRANSLATED"
_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
_SPELLING = str.maketrans(
    string.ascii_letters,
    "".join(_LETTERS[i % len(_LETTERS)] for i in range(len(string.ascii_letters))),
)

#: sentences the lexicon knows (its other "translations" are letter for letter)
PHRASES = {
    "Flood warnings issued across the valley": "صدور تحذيرات من الفيضانات في أنحاء الوادي",
    "Heavy rain is expected in the valley for three more days.": (
        "يُتوقع هطول أمطار غزيرة في الوادي لثلاثة أيام أخرى."
    ),
    "Emergency teams are ready, officials said.": "قال مسؤولون إن فرق الطوارئ على أهبة الاستعداد.",
    "City council approves new budget": "مجلس المدينة يقر ميزانية جديدة",
    "The city council approved a new budget on Monday after a long debate.": (
        "وافق مجلس المدينة على ميزانية جديدة يوم الاثنين بعد نقاش طويل."
    ),
    "Schools will receive more money, and two new libraries will open next year.": (
        "ستحصل المدارس على مزيد من الأموال، وستُفتتح مكتبتان جديدتان العام المقبل."
    ),
    "The mayor said the plan keeps taxes where they are.": (
        "وقال رئيس البلدية إن الخطة تُبقي الضرائب على حالها."
    ),
    "A page with markup in it": "صفحة فيها رموز",
}
CALM = """Home | World | Business
City council approves new budget
By Layla Hassan
The city council approved a new budget on Monday after a long debate.
Share this article
Schools will receive more money, and two new libraries will open next year.
The mayor said the plan keeps taxes where they are.
Most read
"""
FLAGGED = """Flood warnings issued across the valley
Heavy rain is expected in the valley for three more days.
UNTRANSLATED residents near the river were asked to move to higher ground.
Emergency teams are ready, officials said.
"""
HOSTILE = """A page with markup in it
The text <script>alert("x")</script> must show as text, not run.
This line closes a </div> and a </section> that were never opened & "quotes" too.
"""
BINARY = b"\x00\x01not text at all"


class Lexicon:
    """A translator without a model: Latin letters spelled in Arabic script, one for one."""

    model_id, device, dtype = "lexicon", "cpu", "none"
    engine, family = "lexicon", "Latin letters spelled in Arabic script"
    max_input_tokens = max_output_tokens = 100_000
    context_tokens = 0

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + 1 for t in texts]

    def generate(self, texts: Sequence[str], options: GenerateOptions) -> list[Generation]:
        return [Generation(spell(t), hit_limit=False) for t in texts]


def spell(text: str) -> str:
    """The lexicon's "translation" of ``text``: unchanged where it says UNTRANSLATED."""
    if UNTRANSLATED in text:
        return text
    for english, arabic in PHRASES.items():
        text = text.replace(english, arabic)
    return text.translate(_SPELLING)


def write_corpus(folder: Path, *, hostile_name: str = 'evil<b>"x".txt') -> dict[str, Path]:
    """The review tests' articles: clean with furniture, flagged, hostile, and not text."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "calm": folder / "calm.txt",
        "flagged": folder / "flagged.txt",
        "hostile": folder / hostile_name,
        "binary": folder / "binary.txt",
    }
    paths["calm"].write_text(CALM, encoding="utf-8")
    paths["flagged"].write_text(FLAGGED, encoding="utf-8")
    paths["hostile"].write_text(HOSTILE, encoding="utf-8")
    paths["binary"].write_bytes(BINARY)
    return paths


def run_corpus(
    paths: Sequence[str],
    report: Path | None = None,
    *overrides: str,
    output_dir: Path | None = None,
) -> Report:
    """Run the pipeline over ``paths`` with the echo summarizer and the lexicon, writing the
    outputs, sidecars and (when given) the ``--report`` JSONL file as the command line does."""
    config = load_config(None, [*SETTINGS, *overrides])
    models = Models(EchoBackend("echo"), Lexicon())  # type: ignore[arg-type]
    with report_sink(report) as jsonl:
        result = Report(sink=ResultSink(jsonl))
        run(config, list(paths), models=models, report=result, output_dir=output_dir)
        if jsonl is not None:
            jsonl.totals(result)
    return result
