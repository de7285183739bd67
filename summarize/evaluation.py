"""``summarize eval``: score the outputs against human references with ROUGE, chrF and BLEU."""

from __future__ import annotations

import dataclasses
import functools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.discovery import display_name, find_inputs
from summarize.errors import ConfigError, InputError, UsageError
from summarize.outputs import KINDS, TRANSLATIONS, Outputs, output_paths, read_output_bytes
from summarize.settings import TRANSLATABLE, Config
from summarize.sidecar import read as read_sidecar
from summarize.templates import format_name
from summarize.text import decode, normalize, split_sentences

__all__ = [
    "COLUMNS",
    "ArticleScores",
    "Evaluation",
    "evaluate",
    "format_table",
    "rouge_scores",
    "to_json",
    "translation_scores",
]

_TRANSLATED = tuple(kind.key for kind in TRANSLATIONS)
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_METRICS = {"chrf": "chrF", "bleu": "BLEU"}
#: Score columns, in table order; each value is 0-100.
COLUMNS = (
    *ROUGE_TYPES,
    *(f"{kind.key}.{metric}" for kind in TRANSLATIONS for metric in _METRICS),
)
_HEADERS = {
    "rouge1": "R-1",
    "rouge2": "R-2",
    "rougeL": "R-L",
    "rougeLsum": "R-Lsum",
    **{
        f"{kind.key}.{metric}": f"{kind.short} {name}"
        for kind in TRANSLATIONS
        for metric, name in _METRICS.items()
    },
}
# sacrebleu's "intl" tokenizer (mteval-v14 international) splits on every Unicode punctuation
# and symbol character, so the Arabic comma, semicolon and question mark (، ؛ ؟) become tokens
# of their own; "13a" only knows ASCII punctuation and glues them to the preceding word. The
# SentencePiece tokenizers (flores101/200, spm) would need a model download, which eval avoids.
ARABIC_BLEU_TOKENIZER = "intl"
_INSTALL_HINT = "summarize eval needs sacrebleu and rouge-score: pip install 'summarize[eval]'"


@dataclass(frozen=True)
class ArticleScores:
    """One article: its scores (0-100, by column), and what could not be scored and why."""

    #: the article as display_name shows it (printable, one line)
    path: str
    #: the settings signature from the article's sidecar, None without a readable sidecar
    signature: str | None
    scores: dict[str, float] = field(default_factory=dict)
    #: kinds whose reference exists but whose output does not ("not run yet")
    not_run: tuple[str, ...] = ()
    #: no reference of any kind next to the article (counted, not an error)
    no_reference: bool = False
    #: outputs or references that exist but cannot be read
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """Every article found, the corpus totals, and the signatures needed to compare runs."""

    articles: list[ArticleScores]
    #: ROUGE averaged over articles; chrF and BLEU computed over all articles as one corpus
    totals: dict[str, float]
    #: sacrebleu signature strings of the metrics behind the totals and per-article scores
    metric_signatures: dict[str, str]
    #: articles that contributed to each kind's scores
    scored: dict[str, int]

    @property
    def settings(self) -> list[str]:
        """The distinct settings signatures found in the sidecars, sorted."""
        return sorted({a.signature for a in self.articles if a.signature is not None})

    @property
    def mixed_settings(self) -> bool:
        """Whether the outputs come from runs with different settings (not one comparable run)."""
        return len(self.settings) > 1

    def counts(self) -> dict[str, int]:
        return {
            "articles": len(self.articles),
            "scored": sum(1 for a in self.articles if a.scores),
            "no_reference": sum(1 for a in self.articles if a.no_reference),
            "not_run": sum(1 for a in self.articles if a.not_run),
            "errors": sum(1 for a in self.articles if a.errors),
        }


@dataclass(frozen=True)
class _Pair:
    kind: str
    hypothesis: str
    reference: str


def evaluate(config: Config, paths: Sequence[str], out_dir: Path | None = None) -> Evaluation:
    """Score every article under ``paths`` whose outputs and references both exist.

    Outputs are found with the ``output`` templates (under ``out_dir`` when the run used one),
    references next to the article with the ``eval`` templates. Raises ConfigError when the
    metric libraries are not installed, before any file is read.
    """
    _require_metrics()
    rows: list[ArticleScores] = []
    pairs: list[list[_Pair]] = []
    for job in find_inputs(paths, config.input, config.reserved_names):
        if job.path is None:
            raise UsageError("eval scores files next to their references, not standard input")
        outputs = _all_outputs(config, job.path, job.root, out_dir)
        row, found = _evaluate_article(config, job.path, outputs)
        rows.append(row)
        pairs.append(found)
    totals, signatures = _corpus_totals(rows, pairs)
    kinds = [kind.key for kind in KINDS]  # each has a reference
    scored = {kind: sum(any(p.kind == kind for p in found) for found in pairs) for kind in kinds}
    return Evaluation(rows, totals, signatures, scored)


def _require_metrics() -> None:
    try:
        import sacrebleu  # noqa: F401
        from rouge_score import rouge_scorer  # noqa: F401
    except ImportError:
        raise ConfigError(_INSTALL_HINT) from None


def _all_outputs(config: Config, source: Path, root: Path | None, out_dir: Path | None) -> Outputs:
    """Every output's path, whether or not the current config asks for it: eval scores files."""
    wanted = dataclasses.replace(config.output, summarize=True, translate=list(TRANSLATABLE))
    return output_paths(source, wanted, out_dir, root)


def _reference_paths(config: Config, source: Path) -> dict[str, Path]:
    return {
        kind.key: source.parent / format_name(kind.reference(config.eval), source) for kind in KINDS
    }


def _evaluate_article(
    config: Config, source: Path, outputs: Outputs
) -> tuple[ArticleScores, list[_Pair]]:
    references = {k: p for k, p in _reference_paths(config, source).items() if p.is_file()}
    found = read_sidecar(outputs.sidecar)
    signature = None if found is None else found[0].signature
    if not references:
        return ArticleScores(display_name(source), signature, no_reference=True), []
    pairs, not_run, errors = [], [], []
    for kind, reference in references.items():
        output = getattr(outputs, kind)
        if not output.is_file():
            not_run.append(kind)
            continue
        try:
            pairs.append(_Pair(kind, _read(config, output), _read(config, reference)))
        except (OSError, InputError) as exc:
            errors.append(str(exc))
    scores = _article_scores(pairs)
    row = ArticleScores(
        display_name(source), signature, scores, tuple(not_run), False, tuple(errors)
    )
    return row, pairs


def _read(config: Config, path: Path) -> str:
    """An output or a reference (written by hand, held to the same bound), never waited on."""
    try:
        data = read_output_bytes(path, config.input)
    except OSError as exc:
        raise InputError(f"{display_name(path)}: cannot read ({exc.strerror or exc})") from None
    return normalize(decode(data, display_name(path))).strip()


def _article_scores(pairs: list[_Pair]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for pair in pairs:
        if pair.kind in _TRANSLATED:
            chrf, bleu = translation_scores(pair.hypothesis, pair.reference)
            scores[f"{pair.kind}.chrf"] = chrf
            scores[f"{pair.kind}.bleu"] = bleu
        else:
            scores.update(rouge_scores(pair.hypothesis, pair.reference))
    return scores


def rouge_scores(summary: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F1 (0-100) of an English summary, by Google's rouge-score, stemmed."""
    scores = _rouge_scorer().score(_sentence_lines(reference), _sentence_lines(summary))
    return {name: 100.0 * float(scores[name].fmeasure) for name in ROUGE_TYPES}


@functools.lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


def _sentence_lines(text: str) -> str:
    """One sentence per line: rougeLsum splits summaries on newlines only."""
    return "\n".join(s for line in text.splitlines() for s in split_sentences(line))


def translation_scores(hypothesis: str, reference: str) -> tuple[float, float]:
    """Sentence-level chrF and BLEU (0-100) of one Arabic text, the whole text as one segment."""
    chrf, bleu = _sentence_metrics()
    segment, ref = _one_segment(hypothesis), _one_segment(reference)
    return (
        float(chrf.sentence_score(segment, [ref]).score),
        float(bleu.sentence_score(segment, [ref]).score),
    )


def _sentence_metrics() -> tuple[Any, Any]:
    import sacrebleu

    # Sentence-level BLEU needs effective order, or a short text with no 4-gram match scores 0.
    return sacrebleu.CHRF(), sacrebleu.BLEU(tokenize=ARABIC_BLEU_TOKENIZER, effective_order=True)


def _one_segment(text: str) -> str:
    """A whole text on one line: paragraphs of a translation need not align with the reference's."""
    return " ".join(text.split())


def _corpus_totals(
    rows: list[ArticleScores], pairs: list[list[_Pair]]
) -> tuple[dict[str, float], dict[str, str]]:
    totals: dict[str, float] = {}
    for name in ROUGE_TYPES:
        values = [row.scores[name] for row in rows if name in row.scores]
        if values:
            totals[name] = statistics.fmean(values)
    signatures: dict[str, str] = {}
    for kind in _TRANSLATED:
        found = [p for article in pairs for p in article if p.kind == kind]
        if found:
            chrf, bleu, kind_signatures = _corpus_scores(found)
            totals[f"{kind}.chrf"], totals[f"{kind}.bleu"] = chrf, bleu
            signatures.update(kind_signatures)
    return totals, signatures


def _corpus_scores(pairs: list[_Pair]) -> tuple[float, float, dict[str, str]]:
    """Corpus chrF and BLEU over the articles (one segment each), with sacrebleu's signatures."""
    import sacrebleu

    hypotheses = [_one_segment(p.hypothesis) for p in pairs]
    references = [[_one_segment(p.reference) for p in pairs]]
    chrf, bleu = sacrebleu.CHRF(), sacrebleu.BLEU(tokenize=ARABIC_BLEU_TOKENIZER)
    chrf_score = float(chrf.corpus_score(hypotheses, references).score)
    bleu_score = float(bleu.corpus_score(hypotheses, references).score)
    signatures = {"chrF": str(chrf.get_signature()), "BLEU": str(bleu.get_signature())}
    return chrf_score, bleu_score, signatures | _sentence_signatures()


def _sentence_signatures() -> dict[str, str]:
    """Signatures of the per-article metrics (sacrebleu knows them only after one score)."""
    chrf, bleu = _sentence_metrics()
    chrf.sentence_score("x", ["x"])
    bleu.sentence_score("x", ["x"])
    return {
        "chrF (per article)": str(chrf.get_signature()),
        "BLEU (per article)": str(bleu.get_signature()),
    }


def format_table(evaluation: Evaluation) -> str:
    """An aligned plain-text table: one row per article, a TOTAL row, then notes."""
    header = ["article", *(_HEADERS[c] for c in COLUMNS), "note"]
    rows = [[a.path, *_cells(a.scores), _note(a)] for a in evaluation.articles]
    counts = evaluation.counts()
    rows.append(["TOTAL", *_cells(evaluation.totals), f"{counts['scored']} scored"])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = [_format_row(r, widths) for r in [header, *rows]]
    return "\n".join([*lines, *_footer(evaluation)])


def _cells(scores: dict[str, float]) -> list[str]:
    return [f"{scores[c]:.1f}" if c in scores else "-" for c in COLUMNS]


def _note(article: ArticleScores) -> str:
    notes = []
    if article.no_reference:
        notes.append("no reference")
    if article.not_run:
        notes.append(f"not run yet: {', '.join(article.not_run)}")
    if article.errors:
        notes.append(f"{len(article.errors)} unreadable")
    return "; ".join(notes)


def _format_row(cells: list[str], widths: list[int]) -> str:
    first = cells[0].ljust(widths[0])
    numbers = [cell.rjust(width) for cell, width in zip(cells[1:-1], widths[1:], strict=True)]
    return "  ".join([first, *numbers, cells[-1]]).rstrip()


def _footer(evaluation: Evaluation) -> list[str]:
    counts = evaluation.counts()
    lines = [
        f"{counts['articles']} articles: {counts['scored']} scored, "
        f"{counts['no_reference']} without reference, {counts['not_run']} not run yet, "
        f"{counts['errors']} with unreadable files"
    ]
    lines += [f"{a.path}: {error}" for a in evaluation.articles for error in a.errors]
    lines += [f"{name}: {sig}" for name, sig in evaluation.metric_signatures.items()]
    settings = evaluation.settings
    if len(settings) == 1:
        lines.append(f"settings: {settings[0]}")
    elif settings:
        lines.append(f"settings differ: the outputs come from {len(settings)} different runs")
    return lines


def to_json(evaluation: Evaluation) -> dict[str, Any]:
    """Everything in the evaluation as JSON-ready data (scores 0-100, not rounded)."""
    return {
        "articles": [_article_json(a) for a in evaluation.articles],
        "totals": dict(evaluation.totals),
        "scored": dict(evaluation.scored),
        "counts": evaluation.counts(),
        "metric_signatures": dict(evaluation.metric_signatures),
        "settings_signatures": evaluation.settings,
        "mixed_settings": evaluation.mixed_settings,
        "no_reference": [a.path for a in evaluation.articles if a.no_reference],
        "not_run": {a.path: list(a.not_run) for a in evaluation.articles if a.not_run},
    }


def _article_json(article: ArticleScores) -> dict[str, Any]:
    return {
        "path": article.path,
        "signature": article.signature,
        "scores": dict(article.scores),
        "not_run": list(article.not_run),
        "no_reference": article.no_reference,
        "errors": list(article.errors),
    }
