"""Model families: each recognised from its own files and asked for Arabic or a summary its way,
on every engine that runs it; what cannot be told, or lacks Arabic, is a load error."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from summarize.backends import GenerateOptions, LoadSpec, load_backend
from summarize.backends.huggingface import RELATIVE_POSITIONS
from summarize.cli import main
from summarize.config import load_config
from summarize.engines import load_engine
from tests.conftest import CONFIGS, ROOT, captured_log
from tests.model_builders import ARCHITECTURES, FAMILIES, build_model

pytestmark = pytest.mark.slow

ENGINES = ("transformers", "ctranslate2")
#: every family on every engine that runs it: CTranslate2 converts all but LED
RUNS = [
    (name, engine)
    for engine in ENGINES
    for name, family in FAMILIES.items()
    if engine == "transformers" or family.ctranslate2
]
#: three lengths (so batches pad), each with its own output from every tiny model
TEXTS = [
    "Hello world. This is a test.",
    "The city council met on Monday to discuss the new budget for schools and roads.",
    "A strong storm hit the northern coast.",
]
OPTIONS = GenerateOptions(max_new_tokens=8, num_beams=2)
WITHOUT_ARABIC = [name for name, family in FAMILIES.items() if family.without_arabic]
FAMILY_ROLES = ("translator", "summarizer")
FOUR = (".summary.txt", ".summary.ar.txt", ".ar.txt", ".summarize.json")
STEM = "kadhimi-ambassadors"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny model of every family, and (``NAME-without-arabic``) the variants whose
    vocabulary lacks the Arabic token, built once."""
    root = tmp_path_factory.mktemp("families")
    built = {name: build_model(root / name, name) for name in FAMILIES}
    for name in WITHOUT_ARABIC:
        built[f"{name}-without-arabic"] = build_model(
            root / f"{name}-without-arabic", name, without_arabic=True
        )
    return built


def spec(engine: str, model: Path, role: str, **asked: str) -> LoadSpec:
    """What load_models builds on a CPU, in float32, one thread, with ``asked`` overrides."""
    return LoadSpec(engine, str(model), role, device="cpu", dtype="float32", threads=1, **asked)


@dataclass
class Sent:
    """What an engine handed to its library in one call: each row's encoder input tokens,
    its generated tokens (from the first one generated), and the call's other arguments."""

    inputs: list[list[str]]
    generated: list[list[str]]
    arguments: dict[str, Any] = field(default_factory=dict)


class ModelSpy:
    """A transformers model that records what ``generate`` is given and gives back."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.__dict__.update(model=model, tokenizer=tokenizer, calls=[])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def generate(self, **arguments: Any) -> Any:
        output = self.model.generate(**arguments)
        tokens = self.tokenizer.convert_ids_to_tokens
        mask = arguments["attention_mask"].tolist()
        inputs = [
            tokens([i for i, m in zip(row, keep, strict=True) if m])
            for row, keep in zip(arguments["input_ids"].tolist(), mask, strict=True)
        ]
        # Row 0 of an output is the decoder's start token, not a generated one.
        generated = [tokens(row[1:]) for row in output.tolist()]
        self.calls.append(Sent(inputs, generated, arguments))
        return output


class TranslatorSpy:
    """A CTranslate2 translator that records what ``translate_batch`` is given and gives back."""

    def __init__(self, translator: Any) -> None:
        self.translator = translator
        self.calls: list[Sent] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.translator, name)

    def translate_batch(self, source: list[list[str]], **arguments: Any) -> Any:
        results = self.translator.translate_batch(source, **arguments)
        queued = bool(arguments.get("asynchronous"))  # the backend queues a wave's batches
        done = [result.result() for result in results] if queued else results
        generated = [list(result.hypotheses[0]) for result in done]
        self.calls.append(Sent([list(row) for row in source], generated, arguments))
        return [Done(result) for result in done] if queued else results


class Done:
    """A result already there, as an asynchronous one gives it once it is done."""

    def __init__(self, result: Any) -> None:
        self._result = result

    def result(self) -> Any:
        return self._result


def spied(backend: Any) -> list[Sent]:
    """Record every call ``backend`` makes to its library from now on."""
    if backend.engine == "transformers":
        backend.model = ModelSpy(backend.model, backend.tokenizer)
        calls: list[Sent] = backend.model.calls
    else:
        backend.translator = TranslatorSpy(backend.translator)
        calls = backend.translator.calls
    return calls


@pytest.fixture(scope="module")
def engines(models: dict[str, Path]) -> Callable[[str, str], Any]:
    """Each family's engine, loaded once (and converted once) for the module."""
    loaded: dict[tuple[str, str], Any] = {}

    def engine(name: str, engine_name: str) -> Any:
        if (name, engine_name) not in loaded:
            role = FAMILIES[name].role
            loaded[name, engine_name] = load_backend(spec(engine_name, models[name], role))
        return loaded[name, engine_name]

    return engine


def expected_input(name: str, model: Path, text: str) -> list[str]:
    """The encoder input that asks a model of ``name`` for Arabic (or a summary), as the
    family is documented to want it (see tests.model_builders.FAMILIES), tokenised here."""
    from transformers import AutoTokenizer

    family = FAMILIES[name]
    tokenizer = AutoTokenizer.from_pretrained(model)
    if family.source_language:
        tokenizer.src_lang = family.source_language
    tokens: list[str] = tokenizer.convert_ids_to_tokens(tokenizer(family.prefix + text).input_ids)
    return tokens


# --- every family, through each engine that runs it ------------------------------------------


@pytest.mark.parametrize(("name", "engine_name"), RUNS)
def test_each_family_is_asked_for_its_job_its_own_way(
    models: dict[str, Path], engines: Callable[[str, str], Any], name: str, engine_name: str
) -> None:
    """The language token or task prefix reaches the encoder (after the source-language token
    the tokenizer marks), and every generated row starts with the forced target language."""
    family = FAMILIES[name]
    backend = engines(name, engine_name)
    calls = spied(backend)
    backend.generate(TEXTS, OPTIONS)
    (sent,) = calls
    assert sent.inputs == [expected_input(name, models[name], text) for text in TEXTS]
    if family.prefix:  # >>ara<<, <2ar>, T5's "summarize: ": first in every row
        spelt = ["".join(row).replace("▁", " ").strip() for row in sent.inputs]
        word = family.prefix.strip().rstrip(":")  # the tiny T5 has no ":" piece: <unk>
        assert all(text.startswith(word) for text in spelt), spelt
    if family.source_language:  # NLLB, M2M100, mBART-50: the source language's own token
        marks = (family.source_language, f"__{family.source_language}__")
        assert all(row[0] in marks for row in sent.inputs)
    if family.target_token:
        assert [row[0] for row in sent.generated] == [family.target_token] * len(TEXTS)
    if name == "led":  # global attention on the first token, and inputs it need not pad
        mask = sent.arguments["global_attention_mask"]
        assert mask[:, 0].tolist() == [1] * len(TEXTS) and mask[:, 1:].sum() == 0
        window = ARCHITECTURES[family.architecture].config["attention_window"]
        assert sent.arguments["input_ids"].shape[1] % window == 0


@pytest.mark.parametrize(("name", "engine_name"), RUNS)
def test_each_family_gives_the_same_outputs_alone_and_batched(
    engines: Callable[[str, str], Any], name: str, engine_name: str
) -> None:
    backend = engines(name, engine_name)
    alone = [backend.generate([text], OPTIONS)[0] for text in TEXTS]
    assert len({g.text for g in alone}) == len(TEXTS)  # each its own, so a reordering shows
    assert backend.generate(TEXTS, OPTIONS) == alone
    assert backend.generate(TEXTS[::-1], OPTIONS) == alone[::-1]


#: (input, output) token limits of the tiny models: positions, or the tokenizer's limit where
#: the model has relative positions (T5); LED's encoder and decoder have their own
LIMITS = {
    "marian": (512, 512), "marian-single": (512, 512), "nllb": (1024, 1024),
    "m2m100": (1024, 1024), "mbart50": (1024, 1024), "madlad": (512, 512),
    "bart": (1024, 1024), "pegasus": (1024, 1024), "t5": (512, 512), "led": (2048, 1024),
}  # fmt: skip


@pytest.mark.parametrize(("name", "engine_name"), RUNS)
def test_each_family_has_its_own_limits(
    engines: Callable[[str, str], Any], name: str, engine_name: str
) -> None:
    backend = engines(name, engine_name)
    assert (backend.max_input_tokens, backend.max_output_tokens) == LIMITS[name]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_t5_whose_tokenizer_declares_no_limit_reads_512_tokens(
    tmp_path: Path, engine_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """As MADLAD-400's tokenizer ships: no model_max_length, and relative positions."""
    model = build_model(tmp_path / "t5", "t5", max_positions=int(1e30))
    config = load_config(
        CONFIGS / "tiny.toml",
        [f"summarizer.model={model}", f"summarizer.backend={engine_name}",
         "summarizer.max_input_tokens=1024"],
    )  # fmt: skip
    with captured_log(caplog, "summarize.engines", logging.WARNING) as log:
        backend = load_engine("summarizer", config)
    assert RELATIVE_POSITIONS == 512
    assert (backend.max_input_tokens, backend.max_output_tokens) == (512, 512)
    assert f"summarizer.max_input_tokens = 1024, but {model} reads at most 512" in log.text


# --- what the settings override ----------------------------------------------------------------


def plain_input(model: Path, text: str) -> list[str]:
    """``text`` tokenised by ``model``'s tokenizer as it is, with nothing before it."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    tokens: list[str] = tokenizer.convert_ids_to_tokens(tokenizer(text).input_ids)
    return tokens


#: (family, model variant, overrides, the encoder input's first tokens (None: the text alone),
#: the first token generated (None: not forced))
OVERRIDES = [
    ("nllb", "", {"target_language": "fra_Latn"}, ["eng_Latn"], "fra_Latn"),
    ("nllb", "", {"source_language": "fra_Latn"}, ["fra_Latn"], "arb_Arab"),
    ("m2m100", "", {"target_language": "fr", "source_language": "de"}, ["__de__"], "__fr__"),
    ("m2m100", "", {"target_language": "__fr__"}, ["__en__"], "__fr__"),
    ("mbart50", "", {"target_language": "fr_XX"}, ["en_XX"], "fr_XX"),
    ("madlad", "", {"target_language": "fr"}, ["▁", "<2fr>"], None),
    ("madlad", "", {"source_prefix": "<2de>"}, ["▁", "<2de>"], None),
    ("marian", "-without-arabic", {"target_language": "fra"}, [">>fra<<"], None),
    ("marian", "-without-arabic", {"source_prefix": ">>deu<<"}, [">>deu<<"], None),
    ("marian", "", {"source_prefix": ""}, None, None),
    ("t5", "", {"source_prefix": "headline:"}, ["▁", "he", "a", "d"], None),
    ("t5", "", {"source_prefix": ""}, None, None),
]


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize(("name", "variant", "asked", "starts", "first"), OVERRIDES)
def test_settings_override_what_the_family_decides(
    models: dict[str, Path],
    engine_name: str,
    name: str,
    variant: str,
    asked: dict[str, str],
    starts: list[str] | None,
    first: str | None,
) -> None:
    model = models[name + variant]
    backend = load_backend(spec(engine_name, model, FAMILIES[name].role, **asked))
    calls = spied(backend)
    backend.generate(["Hello world."], GenerateOptions(max_new_tokens=4))
    (sent,) = calls
    if starts is None:
        assert sent.inputs[0] == plain_input(model, "Hello world.")
    else:
        assert sent.inputs[0][: len(starts)] == starts
    if first is not None:
        assert sent.generated[0][0] == first


# --- whole runs ------------------------------------------------------------------------------


def run_args(models: dict[str, Path], translator: str, summarizer: str, *extra: str) -> list[str]:
    return [
        "-c", str(CONFIGS / "tiny.toml"),
        "--set", f"translator.model={models[translator]}",
        "--set", f"summarizer.model={models[summarizer]}",
        *(item for setting in extra for item in ("--set", setting)),
    ]  # fmt: skip


def sidecar(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (folder / f"{STEM}.summarize.json").read_text(encoding="utf-8")
    )
    return data


def refused(seeds: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What a run that stops at load says: exit 2, and nothing written."""
    assert main(["run", str(seeds), *args]) == 2
    assert sorted(p.name for p in seeds.iterdir()) == [f"{STEM}.txt"]
    return capsys.readouterr().err


#: (backend, translator, summarizer, the engine each ran on): a new translator family and a new
#: summarizer family on each engine; "auto" picks CTranslate2 for mBART-50 and transformers
#: for LED, which CTranslate2 does not convert
WHOLE_RUNS = [
    ("transformers", "nllb", "t5", "transformers", "transformers"),
    ("ctranslate2", "m2m100", "pegasus", "ctranslate2", "ctranslate2"),
    ("ctranslate2", "madlad", "t5", "ctranslate2", "ctranslate2"),
    ("auto", "mbart50", "led", "ctranslate2", "transformers"),
]


@pytest.mark.parametrize(("backend", "translator", "summarizer", "ran_t", "ran_s"), WHOLE_RUNS)
def test_a_run_over_the_seeds_writes_the_four_outputs_and_records_the_recipes(
    models: dict[str, Path],
    seeds_copy: Path,
    capfd: pytest.CaptureFixture[str],
    backend: str,
    translator: str,
    summarizer: str,
    ran_t: str,
    ran_s: str,
) -> None:
    settings = [] if backend == "auto" else [f"{r}.backend={backend}" for r in FAMILY_ROLES]
    args = run_args(models, translator, summarizer, *settings)
    assert main(["run", str(seeds_copy), *args, "-v"]) == 0
    err = capfd.readouterr().err
    for suffix in FOUR:
        assert (seeds_copy / f"{STEM}{suffix}").read_text(encoding="utf-8").strip()
    engines = sidecar(seeds_copy)["engines"]
    assert (engines["translator"]["engine"], engines["summarizer"]["engine"]) == (ran_t, ran_s)
    for role in FAMILY_ROLES:
        # What the family decided is logged at load, and recorded as logged.
        assert f"summarize: INFO: {role}: {engines[role]['family']}\n" in err
    # The engine "auto" picked is the one the settings' identity names: nothing to redo.
    assert main(["run", str(seeds_copy), *args]) == 0
    assert "0 articles done, 1 up to date" in capfd.readouterr().err


def test_the_recipe_is_logged_at_load_and_recorded_in_the_sidecar(
    models: dict[str, Path], seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = run_args(models, "nllb", "led", "translator.backend=transformers")
    assert main(["run", str(seeds_copy), *args, "-v"]) == 0
    err = capsys.readouterr().err
    nllb = "NLLB-200 (m2m_100), eng_Latn -> arb_Arab, forced first token"
    led = "LED (led), global attention on the first token"
    assert f"summarize: INFO: translator: {nllb}\n" in err
    assert f"summarize: INFO: summarizer: {led}\n" in err
    assert "summarizer.backend = auto: transformers (CTranslate2 does not convert led" in err
    engines = sidecar(seeds_copy)["engines"]
    assert (engines["translator"]["family"], engines["summarizer"]["family"]) == (nllb, led)


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("name", WITHOUT_ARABIC)
def test_a_model_without_the_target_language_is_a_load_error_naming_the_key(
    models: dict[str, Path],
    seeds_copy: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    engine_name: str,
) -> None:
    model = models[f"{name}-without-arabic"]
    args = run_args(models, "marian", "bart", f"translator.model={model}",
                    f"translator.backend={engine_name}")  # fmt: skip
    err = refused(seeds_copy, args, capsys)
    assert f"translator.model: {model}: " in err
    assert "set translator.target_language to " in err


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize(
    ("role", "name", "key"),
    [
        ("translator", "bart", "translator.source_prefix"),  # a summarizer asked for Arabic
        ("translator", "t5", "translator.source_prefix"),  # a T5 without <2xx> tokens
        ("summarizer", "marian", "summarizer.source_prefix"),
    ],
)
def test_a_model_whose_family_cannot_be_told_is_a_load_error_naming_the_key(
    models: dict[str, Path],
    seeds_copy: Path,
    capsys: pytest.CaptureFixture[str],
    role: str,
    name: str,
    key: str,
    engine_name: str,
) -> None:
    args = run_args(models, "marian", "bart", f"{role}.model={models[name]}",
                    f"{role}.backend={engine_name}")  # fmt: skip
    err = refused(seeds_copy, args, capsys)
    assert f"{role}.model: {models[name]}: " in err and f"set {key}" in err


def test_a_language_token_the_model_does_not_have_is_refused_as_a_prefix(
    models: dict[str, Path], seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'>> ara <<' is split into pieces and asks for no language: the tool used to warn and
    run; a run in the wrong language is never wanted."""
    args = run_args(models, "marian", "bart", "translator.source_prefix=>> ara <<")
    err = refused(seeds_copy, args, capsys)
    assert "translator.source_prefix = '>> ara <<': '>>' is not a token" in err
    assert "(it knows >>ara<<)" in err


def test_ctranslate2_named_for_led_says_it_does_not_convert_it(
    models: dict[str, Path], seeds_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = run_args(models, "marian", "led", "summarizer.backend=ctranslate2")
    err = refused(seeds_copy, args, capsys)
    assert "CTranslate2 does not convert LED models (led); set summarizer.backend = " in err


def test_the_overrides_reach_the_model_from_the_settings(
    models: dict[str, Path], seeds_copy: Path
) -> None:
    """A multi-target Marian model without Arabic, asked for French by the settings."""
    model = models["marian-without-arabic"]
    asked = ["translator.target_language=fra", "summarizer.source_prefix=headline:"]
    args = run_args(models, "marian", "t5", f"translator.model={model}", *asked)
    assert main(["run", str(seeds_copy), *args, "-q"]) == 0
    engines = sidecar(seeds_copy)["engines"]
    assert engines["translator"]["family"].endswith("prefix '>>fra<<'")
    assert engines["summarizer"]["family"] == "T5 (t5), prefix 'headline:'"


def test_without_ctranslate2_auto_runs_on_transformers(
    models: dict[str, Path], seeds_copy: Path
) -> None:
    # A separate interpreter in which `import ctranslate2` fails, as where it is not installed
    # (and whose stderr has all of transformers' warnings: LED's about padding came per call).
    script = (
        "import sys; sys.modules['ctranslate2'] = None; from summarize.cli import main; "
        "raise SystemExit(main(sys.argv[1:]))"
    )
    argv = ["run", str(seeds_copy), *run_args(models, "marian", "led"), "-q"]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], cwd=ROOT, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    engines = sidecar(seeds_copy)["engines"]
    assert (engines["translator"]["engine"], engines["summarizer"]["engine"]) == (
        "transformers",
        "transformers",
    )
    assert "padded" not in done.stderr
