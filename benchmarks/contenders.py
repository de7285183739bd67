"""The four contenders: a naive baseline, the tool with each backend, and raw CTranslate2."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import standins
from harness import (
    BEAMS,
    PREFIX,
    REQUESTED,
    SUMMARY_TOKENS,
    TRANSLATION_RATIO,
    Article,
    CountingBackend,
    Result,
    Tally,
    copy_corpus,
    count_rows,
    requested_translation,
    timed,
)

ROLES = ("summarizer", "translator")

# --- a: the naive baseline ----------------------------------------------------------------------


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
    segmenter = pysbd.Segmenter(language="en", clean=False)

    def pipeline_call(
        model: Any, tokenizer: Any, text: str, tally: Tally, new: int, **kw: Any
    ) -> str:
        # What SummarizationPipeline / TranslationPipeline.__call__ did for one text; it asks
        # for exactly ``new`` tokens (no automatic rule), and counts the tokens it got.
        inputs = tokenizer(text, return_tensors="pt").to(device)
        with torch.no_grad():
            output = model.generate(**inputs, min_new_tokens=new, max_new_tokens=new, **kw)
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        row = output[0, 1:].tolist()
        length = next((i + 1 for i, t in enumerate(row) if t in eos_ids), len(row))
        count_rows(tally, [length], [new], [length < new])
        decoded: str = tokenizer.decode(output[0], skip_special_tokens=True)
        return decoded

    def translate(paragraph: str) -> str:
        sentences = [s.strip() for s in segmenter.segment(paragraph) if s.strip()]
        # Same total per paragraph as the tool asks for its segment (one per paragraph here),
        # shared out over the sentences.
        total = requested_translation(len(t_tok(f"{PREFIX} {paragraph}").input_ids))
        weights = [len(t_tok(f"{PREFIX} {s}").input_ids) for s in sentences]
        return " ".join(
            pipeline_call(t_model, t_tok, f"{PREFIX} {sentence}", translation, n, num_beams=BEAMS)
            for sentence, n in zip(sentences, share(total, weights), strict=True)
        )

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
            summary,
            SUMMARY_TOKENS,
            num_beams=BEAMS,
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
        verified="counted on the output of each model.generate() call",
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


def spread(articles: list[Article], count: int) -> list[Article]:
    """``count`` articles spread over the range of lengths (median first)."""
    ordered = sorted(articles, key=lambda a: a.words)
    if count >= len(ordered):
        return ordered
    if count == 1:
        return [ordered[(len(ordered) - 1) // 2]]
    return [ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)]


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
        # Random stand-ins fail the guards' checks on every segment: the checks still run, but
        # retries would be work the other contenders never do.
        "guards.repair_rounds=0",
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
) -> tuple[Result, dict[str, CountingBackend]]:
    """The tool through its public API, its engines wrapped in counting backends."""
    from summarize import Models, load_config, load_models, run
    from summarize.backends import GenerateOptions

    config = load_config(None, [*tool_overrides(dirs, device, backend, threads), *extra])
    started = time.perf_counter()
    loaded = load_models(config)
    load = time.perf_counter() - started
    # A run with one role turned off (see per_model.py) loads only the other engine.
    counting = {
        role: CountingBackend(engine, REQUESTED[role])
        for role, engine in zip(ROLES, (loaded.summarizer, loaded.translator), strict=True)
        if engine is not None
    }
    for engine in counting.values():
        engine.inner.generate(["Warm up."], GenerateOptions(max_new_tokens=2, num_beams=2))
    models = Models(counting.get("summarizer"), counting.get("translator"))
    reports = []

    def prepare() -> None:  # the same work each time; the fastest run counts
        for engine in counting.values():
            engine.calls.clear()
        copy_corpus(articles, work / key)

    def tool_run() -> None:
        report = run(config, [str(work / key)], models=models)
        if report.exit_code != 0:
            failed = "; ".join(r.reason for r in report.failures)[:500]
            raise RuntimeError(f"{key}: the tool reported failures: {failed}")
        reports.append(report)

    seconds, cpu, repeated = timed(tool_run, repeats, prepare)
    report = reports[-1]
    engines = " and ".join(sorted({type(e.inner).__name__ for e in counting.values()}))
    tallies = {role: engine.tally() for role, engine in counting.items()}
    result = Result(
        key,
        label,
        len(articles),
        seconds,
        cpu,
        load,
        tallies.get("summarizer", Tally()),
        tallies.get("translator", Tally()),
        verified=f"counted at the Backend interface (CountingBackend over {engines})",
        note=report.summary_line() + repeated,
    )
    stages: dict[str, float] = {}
    for r in report.results:
        for stage, value in (getattr(r, "seconds", None) or {}).items():
            stages[stage] = stages.get(stage, 0.0) + value
    result.stages = {k: round(v, 2) for k, v in stages.items()}
    return result, counting


def ct2_status() -> dict[str, Any]:
    """Whether the ctranslate2 package and the tool's backend for it are there."""
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


# --- d: raw CTranslate2 -------------------------------------------------------------------------


def ct2_compute_type(engines: dict[str, CountingBackend] | None, device: str) -> str:
    """The compute type of c's engine (its Backend's dtype), so that d does the same arithmetic."""
    if engines:
        return engines["translator"].dtype
    return "int8" if device == "cpu" else "float16"


def run_raw_ct2(
    repeats: int,
    engines_of: dict[str, CountingBackend],
    articles: int,
    dirs: dict[str, Path],
    cache: Path,
    device: str,
    compute_type: str,
    threads: int,
) -> Result:
    """translate_batch on exactly the batches another contender's engines were given."""
    import ctranslate2
    from transformers import AutoTokenizer, GenerationConfig

    started = time.perf_counter()
    engines = {}
    batches: dict[str, list[tuple[list[list[str]], Any]]] = {}
    prefixes: dict[str, list[str] | None] = {}
    for role in ROLES:
        quantized = standins.convert_ct2(
            dirs[role], cache / f"{dirs[role].name}-ct2-{compute_type}", compute_type
        )
        engines[role] = ctranslate2.Translator(
            str(quantized), device=device, compute_type=compute_type, intra_threads=threads
        )
        tokenizer = AutoTokenizer.from_pretrained(dirs[role])
        forced = GenerationConfig.from_pretrained(dirs[role]).forced_bos_token_id
        prefixes[role] = None if forced is None else [tokenizer.convert_ids_to_tokens(forced)]
        # The tool's engine puts its family's prefix (Marian's ">>ara<< ") before each text.
        text = _family_prefix(engines_of[role])
        batches[role] = [
            (
                [
                    tokenizer.convert_ids_to_tokens(i)
                    for i in tokenizer([text + t for t in call.texts]).input_ids
                ],
                call.options,
            )
            for call in engines_of[role].calls
        ]
    load = time.perf_counter() - started
    for engine in engines.values():
        engine.translate_batch([["▁Warm", "</s>"]], beam_size=2, max_decoding_length=2)
    tallies: dict[str, Tally] = {}

    def prepare() -> None:
        tallies.update({role: Tally() for role in ROLES})

    def replay() -> None:
        for role in ROLES:
            for source, options in batches[role]:
                limit = options.max_new_tokens
                results = engines[role].translate_batch(
                    source,
                    target_prefix=[prefixes[role]] * len(source) if prefixes[role] else None,
                    beam_size=options.num_beams,
                    max_decoding_length=limit,
                    min_decoding_length=limit,
                    no_repeat_ngram_size=options.no_repeat_ngram_size,
                    length_penalty=options.length_penalty,
                    max_input_length=0,
                )
                hypotheses = [r.hypotheses[0] for r in results]
                count_rows(
                    tallies[role],
                    [_decoded(h, limit) for h in hypotheses],
                    [REQUESTED[role](len(tokens)) for tokens in source],
                    [len(h) < limit for h in hypotheses],
                )

    seconds, cpu, repeated = timed(replay, repeats, prepare)
    return Result(
        "d",
        f"raw ctranslate2 translate_batch ({compute_type}), the tool's batches, pre-tokenized",
        articles,
        seconds,
        cpu,
        load,
        tallies["summarizer"],
        tallies["translator"],
        verified="counted on the output of each translate_batch() call",
        note=repeated.lstrip("; "),
    )


def _family_prefix(engine: CountingBackend) -> str:
    """The text the tool's engine puts before each input (its family's recipe), if any."""
    recipe = getattr(engine.inner, "recipe", None)
    prefix = getattr(recipe, "prefix", "")
    return prefix if isinstance(prefix, str) else ""


def _decoded(hypothesis: list[str], limit: int) -> int:
    """Tokens decoded for one row: the hypothesis, plus its </s> unless cut at the limit."""
    ended = bool(hypothesis) and hypothesis[-1] == "</s>"
    return len(hypothesis) + (0 if ended or len(hypothesis) >= limit else 1)
