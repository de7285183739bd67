"""Throughput and memory of `summarize` against the naive transformers baseline and raw CTranslate2.

    python benchmarks/throughput.py [--quick] [--device cpu|cuda] [--json-out PATH]

Contenders, all on the same articles, with the same models, beam size and output lengths:

  a  naive baseline: one generate() call per article (summary) and per sentence (translation),
     which is what transformers' summarization/translation pipelines did per input (transformers
     5 removed those pipelines; the calls below are their __call__ for one text);
  b  this tool, transformers backend: summarize.run(config, [dir], models=...);
  c  this tool, CTranslate2 backend (when summarize.backends.ct2 and ctranslate2 are there);
  d  raw CTranslate2 translate_batch on the very batches c (else b) sent to its engine, already
     tokenized, nothing around it.

Models are random stand-ins with the published architectures of the default models (see
standins.py); loading time is reported separately and never counted. Output lengths are fixed
(summary 80 tokens; translation ceil(1.2 x source tokens)), and the stand-ins cannot end early,
so every contender generates the same tokens; the tokens each one asked for and got are counted
and printed. Then: peak RSS of the tool over 100 and 1,000 articles (echo backend, labelled
so), and a no-op rerun over 10,000 up-to-date articles, with whether it imported torch.

Built models, conversions and the 10,000-article tree are cached (``--cache-dir``, default
``~/.cache/summarize-benchmarks``); the first run spends a few minutes building them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import corpus  # noqa: E402
import standins  # noqa: E402

SUMMARY_TOKENS = 80
TRANSLATION_RATIO = 1.2
BEAMS = 4
PREFIX = ">>ara<<"
TARGETS = {"b/a": 4.0, "c/a": 15.0, "c/d": 0.9, "noop_seconds": 3.0, "rss_growth_mb": 300.0}


@dataclass(frozen=True)
class Plan:
    """How much work each part does."""

    articles: int  # corpus for b, c, d
    min_words: int
    max_words: int
    baseline_articles: int  # a is timed on this many of them and projected to all
    rss_articles: tuple[int, int] = (100, 1000)
    rss_words: tuple[int, int] = (140, 600)
    noop_articles: int = 10_000
    noop_runs: int = 2
    repeats: int = 1  # c and d: the fastest of this many runs counts


# On a 2-core CPU: --quick about 2 minutes, the full run under 10 (once the cache is built).
QUICK = Plan(
    articles=2, min_words=60, max_words=120, baseline_articles=1, rss_words=(40, 90), noop_runs=1
)
FULL = Plan(
    articles=5,
    min_words=80,
    max_words=340,
    baseline_articles=3,
    rss_words=(80, 240),
    noop_runs=3,
    repeats=2,
)


# --- what one contender did -----------------------------------------------------------------


@dataclass
class Tally:
    """Tokens one engine generated: asked for (the work) and decoded (incl. batch padding)."""

    rows: int = 0
    requested: int = 0
    decoded: int = 0
    stopped_early: int = 0  # rows that ended before their call's length limit
    calls: int = 0

    def add(self, other: Tally) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class Result:
    key: str
    label: str
    articles: int
    seconds: float
    cpu_seconds: float
    load_seconds: float
    summary: Tally = field(default_factory=Tally)
    translation: Tally = field(default_factory=Tally)
    verified: str = ""
    note: str = ""
    # a only, when timed on a sample: seconds per summary and per translated token, and from
    # them its seconds for the whole corpus's work (tokens as b asked for them)
    per_summary: float = 0.0
    per_token: float = 0.0
    projected_seconds: float | None = None
    projected_tokens: int | None = None
    # b, c: the seconds the tool's report gives each stage (summed over articles)
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.summary.requested + self.translation.requested

    @property
    def work_seconds(self) -> float:
        """Seconds for the whole corpus (measured, or projected for a sampled baseline)."""
        return self.projected_seconds if self.projected_seconds is not None else self.seconds

    @property
    def work_tokens(self) -> int:
        """Tokens of the whole corpus (measured, or projected for a sampled baseline)."""
        return self.projected_tokens if self.projected_tokens is not None else self.tokens

    def as_dict(self, corpus_articles: int) -> dict[str, Any]:
        return {
            "label": self.label,
            "articles": self.articles,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "load_seconds": round(self.load_seconds, 3),
            "articles_per_minute": round(60 * self.articles / self.seconds, 3),
            "tokens_per_second": round(self.tokens / self.seconds, 2),
            "summary_tokens_per_second": _rate(self.summary.requested, self.seconds),
            "translation_tokens_per_second": _rate(self.translation.requested, self.seconds),
            "tokens": {
                "summary": dataclasses.asdict(self.summary),
                "translation": dataclasses.asdict(self.translation),
                "total_requested": self.tokens,
            },
            "verified": self.verified,
            "projected_seconds_for_corpus": (
                None if self.projected_seconds is None else round(self.projected_seconds, 2)
            ),
            "projected_tokens_for_corpus": self.projected_tokens,
            "corpus_articles_per_minute": round(60 * corpus_articles / self.work_seconds, 3),
            "corpus_tokens_per_second": round(self.work_tokens / self.work_seconds, 2),
            "tool_stage_seconds": self.stages or None,
            "note": self.note,
        }


def _rate(tokens: int, seconds: float) -> float:
    return round(tokens / seconds, 2) if seconds else 0.0


# --- the corpus ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    path: Path
    text: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def write_corpus(
    folder: Path, count: int, min_words: int, max_words: int, seed: int
) -> list[Article]:
    """``count`` articles as files in ``folder``; the repository's seed article first."""
    from summarize.text import parse

    folder.mkdir(parents=True, exist_ok=True)
    articles = []
    for i, text in enumerate(corpus.make_corpus(count, seed, min_words, max_words)):
        # Store seed articles as the tool would see them after cleanup (no repeated title, no
        # site furniture), so that the baseline, which does no cleanup, gets the same text.
        doc = parse(text.encode("utf-8"), f"article {i}")
        clean = "\n\n".join(" ".join(sentences) for sentences in doc.paragraphs) + "\n"
        path = folder / f"article{i:05d}.txt"
        path.write_text(clean, encoding="utf-8")
        articles.append(Article(path, clean))
    return articles


def copy_corpus(articles: list[Article], folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for a in articles:
        shutil.copy2(a.path, folder / a.path.name)
    return folder


def requested_translation(tokens: int) -> int:
    """New tokens asked for a source of ``tokens`` tokens (prefix and </s> included)."""
    return math.ceil(tokens * TRANSLATION_RATIO)


def share(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder), each at least 1."""
    weight = sum(weights) or 1
    exact = [total * w / weight for w in weights]
    parts = [max(1, math.floor(x)) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - math.floor(exact[i]), reverse=True)
    i = 0
    while sum(parts) < total:
        parts[order[i % len(order)]] += 1
        i += 1
    return parts


# --- engine-level counters (the harness's own eyes; they add no measurable time) ------------


def count_hf_generate(model: Any, tally: Tally, requested: Callable[[int], int]) -> None:
    """Wrap ``model.generate`` to count, per row, the tokens generated up to EOS."""
    inner = model.generate
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos])

    def generate(*args: Any, **kwargs: Any) -> Any:
        out = inner(*args, **kwargs)
        sequences = out if hasattr(out, "tolist") else out.sequences
        config = kwargs.get("generation_config")
        limit = kwargs.get("max_new_tokens") or getattr(config, "max_new_tokens", None)
        mask = kwargs.get("attention_mask")
        sources = mask.sum(dim=1).tolist() if mask is not None else [0] * len(sequences)
        tally.calls += 1
        for row, source in zip(sequences[:, 1:].tolist(), sources, strict=True):
            length = next((i + 1 for i, t in enumerate(row) if t in eos_ids), len(row))
            tally.rows += 1
            tally.decoded += length
            tally.requested += requested(int(source))
            if limit is not None and length < limit:
                tally.stopped_early += 1
        return out

    model.generate = generate


class CountingTranslator:
    """Stands in front of a ctranslate2.Translator and counts what translate_batch returns."""

    def __init__(self, inner: Any, tally: Tally, requested: Callable[[int], int]) -> None:
        self._inner = inner
        self._tally = tally
        self._requested = requested

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def translate_batch(self, source: Any, *args: Any, **kwargs: Any) -> Any:
        results = self._inner.translate_batch(source, *args, **kwargs)
        limit = kwargs.get("max_decoding_length", 256)
        tally = self._tally
        tally.calls += 1
        for tokens, result in zip(source, results, strict=True):
            hypothesis = result.hypotheses[0]
            ended = bool(hypothesis) and hypothesis[-1] in ("</s>",)
            length = len(hypothesis) + (0 if ended or len(hypothesis) >= limit else 1)
            tally.rows += 1
            tally.decoded += length
            tally.requested += self._requested(len(tokens))
            if len(hypothesis) < limit:
                tally.stopped_early += 1
        return results


def _summary_request(_source: int) -> int:
    return SUMMARY_TOKENS


def _find(obj: Any, match: Callable[[Any], bool]) -> str | None:
    for name, value in vars(obj).items():
        if match(value):
            return name
    return None


def attach_counters(backend: Any, tally: Tally, requested: Callable[[int], int]) -> str:
    """Count at the engine under a tool backend; returns how, or '' when it cannot."""
    with contextlib.suppress(ImportError):
        import torch

        name = _find(backend, lambda v: isinstance(v, torch.nn.Module) and hasattr(v, "generate"))
        if name:
            count_hf_generate(getattr(backend, name), tally, requested)
            return f"transformers generate() of {type(backend).__name__}.{name}"
    # A ctranslate2.Translator, or anything that stands in front of one.
    name = _find(backend, lambda v: callable(getattr(v, "translate_batch", None)))
    if name:
        setattr(backend, name, CountingTranslator(getattr(backend, name), tally, requested))
        return f"ctranslate2 translate_batch() of {type(backend).__name__}.{name}"
    return ""


class Recorder:
    """A tool backend that remembers every generate() call (texts and options), for d."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[tuple[list[str], Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        result: list[int] = self._inner.count_tokens(texts)
        return result

    def generate(self, texts: Sequence[str], options: Any) -> Any:
        self.calls.append((list(texts), options))
        return self._inner.generate(texts, options)


# --- a: the naive baseline ----------------------------------------------------------------------


def run_baseline(
    articles: list[Article], all_articles: list[Article], dirs: dict[str, Path], device: str
) -> Result:
    import pysbd
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    started = time.perf_counter()
    s_tok = AutoTokenizer.from_pretrained(dirs["summarizer"])
    s_model = AutoModelForSeq2SeqLM.from_pretrained(dirs["summarizer"]).to(device).eval()
    t_tok = AutoTokenizer.from_pretrained(dirs["translator"])
    t_model = AutoModelForSeq2SeqLM.from_pretrained(dirs["translator"]).to(device).eval()
    load = time.perf_counter() - started
    _warm_up_hf([(s_model, s_tok), (t_model, t_tok)], device)
    summary, translation = Tally(), Tally()
    count_hf_generate(s_model, summary, _summary_request)
    # Per sentence, the baseline asks for exactly the tokens below: no automatic rule.
    asked: list[int] = []
    count_hf_generate(t_model, translation, lambda _source: asked.pop(0))
    segmenter = pysbd.Segmenter(language="en", clean=False)

    def pipeline_call(model: Any, tokenizer: Any, text: str, **kwargs: Any) -> str:
        # What SummarizationPipeline / TranslationPipeline.__call__ did for one text.
        inputs = tokenizer(text, return_tensors="pt").to(device)
        with torch.no_grad():
            output = model.generate(**inputs, **kwargs)
        decoded: str = tokenizer.decode(output[0], skip_special_tokens=True)
        return decoded

    def translate(paragraph: str) -> str:
        sentences = [s.strip() for s in segmenter.segment(paragraph) if s.strip()]
        # Same total per paragraph as the tool asks for its segment (one per paragraph here),
        # shared out over the sentences.
        total = requested_translation(len(t_tok(f"{PREFIX} {paragraph}").input_ids))
        weights = [len(t_tok(f"{PREFIX} {s}").input_ids) for s in sentences]
        out = []
        for sentence, n in zip(sentences, share(total, weights), strict=True):
            asked.append(n)
            out.append(
                pipeline_call(
                    t_model,
                    t_tok,
                    f"{PREFIX} {sentence}",
                    num_beams=BEAMS,
                    min_new_tokens=n,
                    max_new_tokens=n,
                )
            )
        return " ".join(out)

    summary_seconds = 0.0
    cpu = time.process_time()
    started = time.perf_counter()
    for article in articles:
        text = article.path.read_text(encoding="utf-8")
        paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
        t0 = time.perf_counter()
        summary_text = pipeline_call(
            s_model,
            s_tok,
            " ".join(paragraphs),
            num_beams=BEAMS,
            min_new_tokens=SUMMARY_TOKENS,
            max_new_tokens=SUMMARY_TOKENS,
            no_repeat_ngram_size=3,
            length_penalty=2.0,
            early_stopping=True,
        )
        summary_seconds += time.perf_counter() - t0
        for paragraph in paragraphs:
            translate(paragraph)
        if summary_text.strip():
            translate(summary_text.strip())
    seconds = time.perf_counter() - started
    result = Result(
        "a",
        "naive: one generate() per article / per sentence (transformers)",
        len(articles),
        seconds,
        time.process_time() - cpu,
        load,
        summary,
        translation,
        verified="counted at model.generate()",
    )
    # Its calls are independent, so its time on all articles is its time per summary plus
    # its time per translated token, times the corpus's work (known from b).
    result.note = f"timed on {len(articles)} of {len(all_articles)} articles"
    result.per_summary = summary_seconds / max(len(articles), 1)
    result.per_token = (seconds - summary_seconds) / max(translation.requested, 1)
    return result


def _warm_up_hf(pairs: list[tuple[Any, Any]], device: str) -> None:
    import torch

    for model, tokenizer in pairs:
        inputs = tokenizer(f"{PREFIX} Warm up.", return_tensors="pt").to(device)
        with torch.no_grad():
            model.generate(**inputs, num_beams=2, min_new_tokens=2, max_new_tokens=2)


def project_baseline(a: Result, corpus_articles: int, corpus_translation_tokens: int) -> None:
    """a's time for the whole corpus: per summary, and per translated token (as b asked)."""
    if a.articles >= corpus_articles:
        return
    a.projected_seconds = corpus_articles * a.per_summary + corpus_translation_tokens * a.per_token
    a.projected_tokens = corpus_articles * SUMMARY_TOKENS + corpus_translation_tokens
    a.note += (
        f"; projected to all {corpus_articles} ({a.projected_tokens} tokens): "
        f"{a.per_summary:.2f} s per summary, {1000 * a.per_token:.1f} ms per translated token "
        f"-> {a.projected_seconds:.1f} s"
    )


# --- b and c: the tool ----------------------------------------------------------------------


def tool_overrides(dirs: dict[str, Path], device: str, backend: str, threads: int) -> list[str]:
    return [
        f"summarizer.model={json.dumps(str(dirs['summarizer']))}",
        f"translator.model={json.dumps(str(dirs['translator']))}",
        f"summarizer.backend={backend}",
        f"translator.backend={backend}",
        f"summarizer.num_beams={BEAMS}",
        f"translator.num_beams={BEAMS}",
        f"summarizer.min_length={SUMMARY_TOKENS}",
        f"summarizer.max_length={SUMMARY_TOKENS}",
        f"translator.max_length_ratio={TRANSLATION_RATIO}",
        "translator.max_length_extra=0",
        f"runtime.device={device}",
        f"runtime.threads={threads}",
    ]


def run_tool(
    key: str,
    label: str,
    backend: str,
    articles: list[Article],
    work: Path,
    dirs: dict[str, Path],
    device: str,
    threads: int,
    extra: Sequence[str] = (),
    repeats: int = 1,
) -> tuple[Result, dict[str, Recorder]]:
    from summarize import Models, load_config, load_models, run
    from summarize.backends import GenerateOptions

    config = load_config(None, [*tool_overrides(dirs, device, backend, threads), *extra])
    started = time.perf_counter()
    loaded = load_models(config)
    load = time.perf_counter() - started
    for engine in (loaded.summarizer, loaded.translator):
        engine.generate([f"{PREFIX} Warm up."], GenerateOptions(max_new_tokens=2, num_beams=2))
    summary, translation = Tally(), Tally()
    how = [
        attach_counters(loaded.summarizer, summary, _summary_request),
        attach_counters(loaded.translator, translation, requested_translation),
    ]
    recorders = {
        "summarizer": Recorder(loaded.summarizer),
        "translator": Recorder(loaded.translator),
    }
    models = Models(recorders["summarizer"], recorders["translator"])
    times = []
    for _ in range(repeats):  # the fastest of the repeats counts (the same work each time)
        for tally in (summary, translation):
            tally.__dict__.update(Tally().__dict__)
        for recorder in recorders.values():
            recorder.calls.clear()
        folder = copy_corpus(articles, work / key)
        cpu = time.process_time()
        started = time.perf_counter()
        report = run(config, [str(folder)], models=models)
        times.append((time.perf_counter() - started, time.process_time() - cpu))
        if report.exit_code != 0:
            failed = "; ".join(r.reason for r in report.failures)[:500]
            raise RuntimeError(f"{key}: the tool reported failures: {failed}")
    seconds, cpu = min(times)
    result = Result(
        key,
        label,
        len(articles),
        seconds,
        cpu,
        load,
        summary,
        translation,
        verified=" and ".join(h for h in how if h) or "not verified (engine not found)",
        note=report.summary_line() + _repeats_note(times),
    )
    stages: dict[str, float] = {}
    for r in report.results:
        for stage, value in (getattr(r, "seconds", None) or {}).items():
            stages[stage] = stages.get(stage, 0.0) + value
    result.stages = {k: round(v, 2) for k, v in stages.items()}
    if not all(how):
        # No engine-level count: fall back to the calls the pipeline made.
        _tally_from_calls(recorders, result)
    return result, recorders


def _tally_from_calls(recorders: dict[str, Recorder], result: Result) -> None:
    for role, tally in (("summarizer", result.summary), ("translator", result.translation)):
        if tally.rows:
            continue
        recorder = recorders[role]
        for texts, options in recorder.calls:
            tally.calls += 1
            tally.rows += len(texts)
            sources = recorder.count_tokens(texts)
            tally.requested += sum(
                SUMMARY_TOKENS if role == "summarizer" else requested_translation(n)
                for n in sources
            )
            tally.decoded += len(texts) * options.max_new_tokens


# --- d: raw CTranslate2 -------------------------------------------------------------------------


def run_raw_ct2(
    repeats: int,
    recorders: dict[str, Recorder],
    articles: int,
    dirs: dict[str, Path],
    cache: Path,
    device: str,
    compute_type: str,
    threads: int,
) -> Result:
    import ctranslate2
    from transformers import AutoTokenizer, GenerationConfig

    started = time.perf_counter()
    engines = {}
    batches: dict[str, list[tuple[list[list[str]], Any]]] = {}
    prefixes: dict[str, list[str] | None] = {}
    for role in ("summarizer", "translator"):
        quantized = standins.convert_ct2(
            dirs[role], cache / f"{dirs[role].name}-ct2-{compute_type}", compute_type
        )
        engines[role] = ctranslate2.Translator(
            str(quantized), device=device, compute_type=compute_type, intra_threads=threads
        )
        tokenizer = AutoTokenizer.from_pretrained(dirs[role])
        forced = GenerationConfig.from_pretrained(dirs[role]).forced_bos_token_id
        prefixes[role] = None if forced is None else [tokenizer.convert_ids_to_tokens(forced)]
        batches[role] = [
            ([tokenizer.convert_ids_to_tokens(ids) for ids in tokenizer(texts).input_ids], options)
            for texts, options in recorders[role].calls
        ]
    load = time.perf_counter() - started
    for engine in engines.values():
        engine.translate_batch([["▁Warm", "</s>"]], beam_size=2, max_decoding_length=2)
    times = []
    for _ in range(repeats):
        tallies = {"summarizer": Tally(), "translator": Tally()}
        cpu = time.process_time()
        started = time.perf_counter()
        for role in ("summarizer", "translator"):
            requested = _summary_request if role == "summarizer" else requested_translation
            engine = CountingTranslator(engines[role], tallies[role], requested)
            for source, options in batches[role]:
                engine.translate_batch(
                    source,
                    target_prefix=[prefixes[role]] * len(source) if prefixes[role] else None,
                    beam_size=options.num_beams,
                    max_decoding_length=options.max_new_tokens,
                    min_decoding_length=options.max_new_tokens,
                    no_repeat_ngram_size=options.no_repeat_ngram_size,
                    length_penalty=options.length_penalty,
                    max_input_length=0,
                )
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    seconds, cpu = min(times)
    return Result(
        "d",
        f"raw ctranslate2 translate_batch ({compute_type}), the tool's batches, pre-tokenized",
        articles,
        seconds,
        cpu,
        load,
        tallies["summarizer"],
        tallies["translator"],
        verified="counted at translate_batch()",
        note=_repeats_note(times).lstrip("; "),
    )


def _repeats_note(times: list[tuple[float, float]]) -> str:
    if len(times) < 2:
        return ""
    return "; best of " + ", ".join(f"{t:.1f}" for t, _ in times) + " s"


# --- memory and the no-op rerun -------------------------------------------------------------


# Started from this (large) process, a child's ru_maxrss would include our own RSS at fork
# time; started from this small wrapper, it counts only the wrapper's few MB.
_PEAK_WRAPPER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{usage.ru_maxrss} {proc.returncode}")
"""


def measure(
    cmd: list[str], env: dict[str, str], stderr_path: Path, *, peak: bool = False
) -> tuple[float, float | None, int]:
    """Run ``cmd``; return (seconds, peak RSS in MB when ``peak``, exit code)."""
    report = stderr_path.with_suffix(".peak")
    if peak:
        cmd = [sys.executable, "-c", _PEAK_WRAPPER, str(report), *cmd]
    with stderr_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
        seconds = time.perf_counter() - started
    if not peak:
        return seconds, None, proc.returncode
    kilobytes, code = report.read_text().split()
    return seconds, int(kilobytes) / 1024, int(code)


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_memory(plan: Plan, cache: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    low, high = plan.rss_words
    articles = write_corpus(
        cache / f"rss-{plan.rss_articles[1]}-{low}-{high}", plan.rss_articles[1], low, high, seed=11
    )
    out: dict[str, Any] = {
        "label": "echo backend (no model): memory of the pipeline itself, --force",
        "words_per_article": [low, high],
        "runs": {},
    }
    for count in plan.rss_articles:
        folder = copy_corpus(articles[:count], work / f"rss{count}")
        cmd = [
            sys.executable,
            "-m",
            "summarize",
            "run",
            str(folder),
            "--force",
            "--set",
            "summarizer.backend=echo",
            "--set",
            "translator.backend=echo",
        ]
        seconds, rss, code = measure(cmd, env, work / f"rss{count}.err", peak=True)
        out["runs"][str(count)] = {
            "peak_rss_mb": round(rss or 0.0, 1),
            "seconds": round(seconds, 2),
            "exit_code": code,
            "summary_line": _last_line(work / f"rss{count}.err"),
        }
        shutil.rmtree(folder)
    small, large = (out["runs"][str(n)]["peak_rss_mb"] for n in plan.rss_articles)
    out["growth_mb"] = round(large - small, 1)
    return out


def run_noop(
    plan: Plan, cache: Path, work: Path, dirs: dict[str, Path], env: dict[str, str]
) -> dict[str, Any]:
    """A tree of up-to-date articles, then `python -m summarize run DIR` on it, timed."""
    from summarize import Models, load_config, run
    from summarize.backends import load_backend

    count = plan.noop_articles
    tree = cache / f"noop-{count}"
    config_file = cache / "noop.toml"
    # The real configuration (transformers backend, the stand-in models): a no-op rerun must
    # neither load them nor import torch.
    lines = [
        "[summarizer]",
        f"model = {json.dumps(str(dirs['summarizer']))}",
        "[translator]",
        f"model = {json.dumps(str(dirs['translator']))}",
        "[runtime]",
        'device = "cpu"',
    ]
    config_file.write_text("\n".join(lines) + "\n")
    config = load_config(config_file)
    if not (tree / ".written").is_file():
        rng_articles = list(corpus.make_corpus(count, seed=5, min_words=8, max_words=30))
        for i, text in enumerate(rng_articles):
            folder = tree / f"part{i // 1000:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"a{i:05d}.txt").write_text(text, encoding="utf-8")
        (tree / ".written").write_text("")
    # The first run: same settings, outputs made by the echo backend (no model), so that the
    # sidecars carry the signature of the real configuration. A no-op when already done.
    echo = Models(
        load_backend("echo", "echo", "main", config.runtime, role="summarizer"),
        load_backend("echo", "echo", "main", config.runtime, role="translator"),
    )
    started = time.perf_counter()
    first = run(config, [str(tree)], models=echo)
    first_seconds = time.perf_counter() - started
    cmd = [sys.executable, "-m", "summarize", "run", str(tree), "-c", str(config_file)]
    runs = []
    for i in range(plan.noop_runs):
        seconds, _, code = measure(cmd, env, work / f"noop{i}.err")
        runs.append(
            {
                "seconds": round(seconds, 3),
                "exit_code": code,
                "summary_line": _last_line(work / f"noop{i}.err"),
            }
        )
    _, _, code = measure(
        [sys.executable, "-X", "importtime", *cmd[1:]], env, work / "importtime.err"
    )
    imported = set()
    for line in (work / "importtime.err").read_text(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line:
            imported.add(line.rsplit("|", 1)[1].strip())
    heavy = sorted(
        m for m in imported if m.split(".")[0] in {"torch", "transformers", "ctranslate2"}
    )
    return {
        "articles": count,
        "command": " ".join(["python", *cmd[1:]]),
        "first_run": {
            "seconds": round(first_seconds, 2),
            "summary_line": first.summary_line(),
            "note": "in-process, echo engines under the real configuration",
        },
        "runs": runs,
        "seconds": min(r["seconds"] for r in runs),
        "torch_imported": any(m.split(".")[0] == "torch" for m in imported),
        "heavy_modules_imported": heavy[:20],
        "modules_imported": len(imported),
    }


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 2 minutes on a 2-core CPU")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--json-out", type=Path, default=HERE / "results.json")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "summarize-benchmarks",
        help="stand-in models, conversions and article trees (reused between runs)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="CPU threads for every contender (torch, runtime.threads, CTranslate2's "
        "intra_threads); default: all cores. Use fewer when other work shares the machine: "
        "torch's small ops slow down badly when a thread waits for a busy core",
    )
    parser.add_argument("--articles", type=int, help="articles for b, c and d")
    parser.add_argument(
        "--tool-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra setting for the tool's runs b and c, as summarize's --set (repeatable), "
        "e.g. runtime.batch_tokens=1024 (applied after the benchmark's own settings)",
    )
    parser.add_argument("--baseline-articles", type=int, help="articles the baseline is timed on")
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to leave out: a,b,c,d,memory,noop"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    plan = dataclasses.replace(
        plan,
        articles=args.articles or plan.articles,
        baseline_articles=args.baseline_articles or plan.baseline_articles,
    )
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    cache = args.cache_dir.expanduser().resolve()
    cache.mkdir(parents=True, exist_ok=True)
    # The tool's own cache (CTranslate2 conversions) goes beside ours, not into ~/.cache/summarize.
    os.environ.setdefault("SUMMARIZE_CACHE", str(cache / "summarize-cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    _quiet_libraries()
    threads = args.threads
    if args.device == "cpu":
        import torch

        torch.set_num_threads(threads)
    begun = time.perf_counter()
    out: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "plan": dataclasses.asdict(plan),
    }
    placeholder = {"summarizer": Path("<stand-in>"), "translator": Path("<stand-in>")}
    out["tool_settings"] = [
        *tool_overrides(placeholder, args.device, "<backend>", threads),
        *args.tool_set,
    ]
    out["machine"] = _machine(args.device)
    out["machine"]["threads"] = threads
    out["machine"]["cpu_busy_before"] = {}
    say = _printer()

    busy = _cpu_busy()
    if busy > 0.25:
        say(
            f"warning: the CPU is {100 * busy:.0f}% busy before starting: other work shares it, "
            "so timings will be noisy (torch's small ops suffer most; see --threads)"
        )
    say(f"stand-in models in {cache} (built on first use) ...")
    started = time.perf_counter()
    dirs = {
        "summarizer": standins.ensure("summarizer", cache / "distilbart-cnn-12-6"),
        "translator": standins.ensure("translator", cache / "opus-mt-en-ar"),
    }
    out["setup_seconds"] = {"models": round(time.perf_counter() - started, 1)}
    out["models"] = {
        "summarizer": {"path": str(dirs["summarizer"]), **standins.describe(standins.SUMMARIZER)},
        "translator": {"path": str(dirs["translator"]), **standins.describe(standins.TRANSLATOR)},
    }

    with tempfile.TemporaryDirectory(prefix="summarize-bench-") as tmp:
        work = Path(tmp)
        articles = write_corpus(work / "corpus", plan.articles, plan.min_words, plan.max_words, 1)
        out["corpus"] = _describe(articles, dirs)
        say(
            f"corpus: {len(articles)} articles, {out['corpus']['words']} words "
            f"({out['corpus']['min_words']}-{out['corpus']['max_words']} per article)"
        )
        results: dict[str, Result] = {}
        recorders: dict[str, dict[str, Recorder]] = {}
        ct2 = _ct2_status()
        out["ctranslate2"] = ct2
        if "a" not in skip:
            out["machine"]["cpu_busy_before"]["a"] = _cpu_busy()
            sample = _spread(articles, plan.baseline_articles)
            say(f"a: naive baseline on {len(sample)} article(s) ...")
            results["a"] = run_baseline(sample, articles, dirs, args.device)
            say(_line(results["a"]))
        if "b" not in skip:
            out["machine"]["cpu_busy_before"]["b"] = _cpu_busy()
            say("b: the tool, transformers backend ...")
            results["b"], recorders["b"] = run_tool(
                "b",
                "summarize, transformers backend",
                "transformers",
                articles,
                work,
                dirs,
                args.device,
                threads,
                args.tool_set,
            )
            say(_line(results["b"]))
        if "c" not in skip and ct2["tool_backend"]:
            out["machine"]["cpu_busy_before"]["c"] = _cpu_busy()
            say("c: the tool, ctranslate2 backend ...")
            results["c"], recorders["c"] = run_tool(
                "c",
                "summarize, ctranslate2 backend",
                "ctranslate2",
                articles,
                work,
                dirs,
                args.device,
                threads,
                args.tool_set,
                plan.repeats,
            )
            say(_line(results["c"]))
        elif "c" not in skip:
            say(f"c: skipped ({ct2['why_not']})")
        source = "c" if "c" in recorders else "b" if "b" in recorders else None
        if "d" not in skip and ct2["package"] and source:
            out["machine"]["cpu_busy_before"]["d"] = _cpu_busy()
            compute_type = _ct2_compute_type(recorders.get("c"), args.device)
            say(f"d: raw ctranslate2 on the batches of {source} ({compute_type}) ...")
            d = run_raw_ct2(
                plan.repeats,
                recorders[source],
                len(articles),
                dirs,
                cache,
                args.device,
                compute_type,
                threads,
            )
            calls = sum(len(r.calls) for r in recorders[source].values())
            d.note = f"replays the {calls} engine calls of {source}" + (
                f"; {d.note}" if d.note else ""
            )
            results["d"] = d
            say(_line(d))
        elif "d" not in skip:
            say(
                "d: skipped ("
                + (
                    "ctranslate2 is not installed"
                    if not ct2["package"]
                    else "no tool run to replay"
                )
                + ")"
            )
        if "a" in results and "b" in results:
            project_baseline(results["a"], len(articles), results["b"].translation.requested)
        out["contenders"] = {k: r.as_dict(len(articles)) for k, r in results.items()}
        out["ratios"] = _ratios(results)
        out["work_check"] = _work_check(results)
        if "memory" not in skip:
            say("memory: peak RSS of the tool over 100 and 1,000 articles (echo backend) ...")
            out["memory"] = run_memory(plan, cache, work, env)
            say(f"  {out['memory']['runs']}")
        if "noop" not in skip:
            say(f"no-op rerun over {plan.noop_articles} up-to-date articles ...")
            out["noop"] = run_noop(plan, cache, work, dirs, env)
            say(f"  {out['noop']['runs']}, torch imported: {out['noop']['torch_imported']}")
    out["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out["targets"] = _targets(out)
    out["total_seconds"] = round(time.perf_counter() - begun, 1)
    _print_summary(out)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten: {args.json_out}  ({out['total_seconds']} s in all)")
    return 0


def _cpu_busy(seconds: float = 0.5) -> float:
    """Share of all CPUs busy (with anything) over ``seconds``, from /proc/stat; -1 if unknown."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return -1.0
    return round(1 - (idle1 - idle0) / max(total1 - total0, 1), 2)


def _quiet_libraries() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    with contextlib.suppress(ImportError):
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    logging.getLogger("summarize").setLevel(logging.WARNING)


def _printer() -> Callable[[str], None]:
    begun = time.perf_counter()

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {text}", flush=True)

    return say


def _machine(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "device": device,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    for name in ("torch", "transformers", "ctranslate2", "summarize"):
        with contextlib.suppress(Exception):
            module = __import__(name)
            info[name] = getattr(module, "__version__", "?")
    with contextlib.suppress(Exception):
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if device == "cuda":
            info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _describe(articles: list[Article], dirs: dict[str, Path]) -> dict[str, Any]:
    from transformers import AutoTokenizer

    words = [a.words for a in articles]
    s_tok = AutoTokenizer.from_pretrained(dirs["summarizer"])
    t_tok = AutoTokenizer.from_pretrained(dirs["translator"])
    s_tokens = [len(s_tok(" ".join(a.text.split())).input_ids) for a in articles]
    t_tokens = [len(t_tok(a.text).input_ids) for a in articles]
    return {
        "articles": len(articles),
        "words": sum(words),
        "min_words": min(words),
        "max_words": max(words),
        "summarizer_tokens_per_word": round(sum(s_tokens) / sum(words), 3),
        "translator_tokens_per_word": round(sum(t_tokens) / sum(words), 3),
        "longest_summarizer_input": max(s_tokens),
        "note": "seeds/ articles (as cleaned by the tool) and made-up news; all fit the "
        "summarizer's 1024 tokens, so no contender needs map-reduce",
    }


def _spread(articles: list[Article], count: int) -> list[Article]:
    """``count`` articles spread over the range of lengths (median first)."""
    ordered = sorted(articles, key=lambda a: a.words)
    if count >= len(ordered):
        return ordered
    if count == 1:
        return [ordered[(len(ordered) - 1) // 2]]
    return [ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)]


def _ct2_status() -> dict[str, Any]:
    import importlib.util

    def importable(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    status: dict[str, Any] = {"package": importable("ctranslate2")}
    try:
        from summarize.backends import BACKENDS

        registered = "ctranslate2" in BACKENDS
    except ImportError:
        registered = False
    status["tool_backend"] = (
        registered and status["package"] and importable("summarize.backends.ct2")
    )
    if not status["tool_backend"]:
        status["why_not"] = (
            "ctranslate2 is not installed"
            if not status["package"]
            else "summarize has no 'ctranslate2' backend (summarize/backends/ct2.py)"
        )
    return status


def _ct2_compute_type(recorders: dict[str, Recorder] | None, device: str) -> str:
    """The compute type of c's engine, so that d runs the same arithmetic."""
    compute_type = "int8" if device == "cpu" else "float16"
    if recorders:
        inner = recorders["translator"]._inner
        translator = getattr(inner, "translator", None)
        translator = getattr(translator, "_inner", translator)
        compute_type = str(getattr(translator, "compute_type", compute_type))
    return compute_type


def _ratios(results: dict[str, Result]) -> dict[str, Any]:
    ratios: dict[str, Any] = {}
    for top, bottom in (("b", "a"), ("c", "a"), ("c", "d"), ("d", "a"), ("c", "b"), ("d", "b")):
        if top in results and bottom in results:
            t, b = results[top], results[bottom]
            # Same work (tokens asked for), so the ratio of throughputs is that of times.
            speed = (t.work_tokens / t.work_seconds) / (b.work_tokens / b.work_seconds)
            ratios[f"{top}/{bottom}"] = round(speed, 2)
            if t.projected_seconds is None and b.projected_seconds is None:
                # By CPU time too: less sensitive to other work on the machine.
                ratios[f"{top}/{bottom} (cpu time)"] = round(
                    (t.tokens / t.cpu_seconds) / (b.tokens / b.cpu_seconds), 2
                )
    return ratios


def _work_check(results: dict[str, Result]) -> dict[str, Any]:
    check: dict[str, Any] = {}
    for key, r in results.items():
        check[key] = {
            "summary_tokens_per_article": round(r.summary.requested / max(r.articles, 1), 1),
            "translation_tokens_per_article": round(
                r.translation.requested / max(r.articles, 1), 1
            ),
            "rows_stopped_early": r.summary.stopped_early + r.translation.stopped_early,
            "decoded_over_requested": round(
                (r.summary.decoded + r.translation.decoded) / max(r.tokens, 1), 3
            ),
        }
    return check


def _targets(out: dict[str, Any]) -> dict[str, Any]:
    ratios = out.get("ratios", {})
    targets: dict[str, Any] = {}
    for key in ("b/a", "c/a", "c/d"):
        if key in ratios:
            targets[key] = {
                "value": ratios[key],
                "target": f">= {TARGETS[key]}",
                "met": ratios[key] >= TARGETS[key],
            }
    if "noop" in out:
        noop = out["noop"]
        targets["noop"] = {
            "value": noop["seconds"],
            "target": f"< {TARGETS['noop_seconds']} s, no torch",
            "met": noop["seconds"] < TARGETS["noop_seconds"] and not noop["torch_imported"],
        }
    if "memory" in out:
        growth = out["memory"]["growth_mb"]
        targets["rss_growth"] = {
            "value": growth,
            "target": f"< {TARGETS['rss_growth_mb']} MB",
            "met": growth < TARGETS["rss_growth_mb"],
        }
    return targets


def _line(r: Result) -> str:
    return (
        f"  {r.key}: {r.articles} articles in {r.seconds:.1f} s (load {r.load_seconds:.1f} s); "
        f"{60 * r.articles / r.seconds:.2f} articles/min, {r.tokens / r.seconds:.1f} tokens/s; "
        f"summary {r.summary.requested} tokens, translation {r.translation.requested} tokens, "
        f"{r.summary.stopped_early + r.translation.stopped_early} rows stopped early"
    )


def _print_summary(out: dict[str, Any]) -> None:
    print()
    print(
        f"{'':3}{'contender':50} {'art/min':>8} {'tok/s':>8} {'sum t/s':>8} {'tr t/s':>8} "
        f"{'seconds':>8} {'load s':>7} {'corpus art/min':>15}"
    )
    for key, c in out.get("contenders", {}).items():
        print(
            f"{key:3}{c['label'][:50]:50} {c['articles_per_minute']:8.2f} "
            f"{c['tokens_per_second']:8.1f} {c['summary_tokens_per_second']:8.1f} "
            f"{c['translation_tokens_per_second']:8.1f} {c['seconds']:8.1f} "
            f"{c['load_seconds']:7.1f} {c['corpus_articles_per_minute']:15.2f}"
        )
        if c["note"]:
            print(f"{'':5}{c['note']}")
    print("\nwork per article (tokens asked for; every contender should match):")
    for key, w in out.get("work_check", {}).items():
        print(f"   {key}: {w}")
    print("\nratios (throughput on equal work; a projected to the whole corpus when sampled):")
    for key, value in out.get("ratios", {}).items():
        if value is not None:
            print(f"   {key}: {value}")
    if "memory" in out:
        m = out["memory"]
        print(f"\npeak RSS ({m['label']}):")
        for n, run in m["runs"].items():
            print(
                f"   {n:>5} articles: {run['peak_rss_mb']} MB in {run['seconds']} s "
                f"({run['summary_line']})"
            )
        print(f"   growth: {m['growth_mb']} MB")
    if "noop" in out:
        n = out["noop"]
        print(
            f"\nno-op rerun over {n['articles']} up-to-date articles: {n['seconds']} s "
            f"(runs: {[r['seconds'] for r in n['runs']]}; {n['runs'][0]['summary_line']}); "
            f"torch imported: {n['torch_imported']}"
        )
    print("\ntargets:")
    for key, t in out.get("targets", {}).items():
        verdict = "met" if t["met"] else "MISSED"
        print(f"   {key:11} {t['value']!s:>8}  target {t['target']:24} {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
