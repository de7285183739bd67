"""Instruction-tuned decoder-only models as summarizer and translator: recognised by their chat
template, asked through it on both engines, decoded without sampling, within their context."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from summarize.backends import GenerateOptions, LoadSpec, load_backend
from summarize.cli import main
from summarize.discovery import Job
from summarize.records import Article
from summarize.settings import SummarizerSettings
from summarize.stages.summarize import summarize
from summarize.text import Document, segment_paragraph
from tests.chat_builders import CHAT_TEMPLATE, build_chat_model
from tests.conftest import CONFIGS, ECHO, SEEDS
from tests.model_parts import ARCHITECTURES

pytestmark = pytest.mark.slow

ENGINES = ("transformers", "ctranslate2")
#: three lengths, so that a batch pads its prompts
TEXTS = [
    "Hello world. This is a test.",
    "The city council met on Monday to discuss the new budget for schools and roads.",
    "A strong storm hit the northern coast.",
]
PROMPT = "Say it in Arabic:\n\n{text}"
FOUR = (".summary.txt", ".summary.ar.txt", ".ar.txt", ".summarize.json")
STEM = "kadhimi-ambassadors"
FAMILY = "instruction model (qwen2), prompt through its chat template"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny Qwen2 instruction model, one with a long context, and a base model (no chat
    template), built once."""
    root = tmp_path_factory.mktemp("instruction")
    return {
        "chat": build_chat_model(root / "chat"),
        "long": build_chat_model(root / "long", max_positions=8192),
        "base": build_chat_model(root / "base", chat_template=None),
    }


def spec(engine: str, model: Path, role: str = "translator", prompt: str = PROMPT) -> LoadSpec:
    return LoadSpec(
        engine, str(model), role, device="cpu", dtype="float32", threads=1, prompt=prompt
    )


@pytest.fixture(scope="module")
def engines(models: dict[str, Path]) -> Callable[[str, str], Any]:
    """Each model on each engine, loaded (and converted) once for the module."""
    loaded: dict[tuple[str, str], Any] = {}

    def engine(name: str, engine_name: str) -> Any:
        if (name, engine_name) not in loaded:
            loaded[name, engine_name] = load_backend(spec(engine_name, models[name]))
        return loaded[name, engine_name]

    return engine


@dataclass
class Sent:
    """What an engine handed its library in one call: each row's prompt tokens (padding
    left out), the padding of each row, and the call's other arguments."""

    prompts: list[list[str]]
    padding: list[list[int]] = field(default_factory=list)
    arguments: dict[str, Any] = field(default_factory=dict)


class Spy:
    """A transformers model or a CTranslate2 generator that records what it is given."""

    def __init__(self, inner: Any, tokenizer: Any) -> None:
        self.__dict__.update(inner=inner, tokenizer=tokenizer, calls=[])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, **arguments: Any) -> Any:
        rows, masks = arguments["input_ids"].tolist(), arguments["attention_mask"].tolist()
        prompts = [
            self.tokenizer.convert_ids_to_tokens([i for i, m in zip(r, k, strict=True) if m])
            for r, k in zip(rows, masks, strict=True)
        ]
        self.calls.append(Sent(prompts, masks, arguments))
        return self.inner.generate(**arguments)

    def generate_batch(self, start_tokens: list[list[str]], **arguments: Any) -> Any:
        self.calls.append(Sent([list(row) for row in start_tokens], [], arguments))
        return self.inner.generate_batch(start_tokens, **arguments)


def spied(backend: Any) -> list[Sent]:
    """Record every call ``backend`` makes to its library from now on."""
    name = "model" if backend.engine == "transformers" else "generator"
    spy = Spy(getattr(backend, name), backend.tokenizer)
    setattr(backend, name, spy)
    calls: list[Sent] = spy.calls
    return calls


def through_template(model: Path, prompt: str, text: str) -> list[str]:
    """The tokens of ``text`` asked with ``prompt`` through the model's chat template, as a
    user of the model would build them."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    messages = [{"role": "user", "content": prompt.replace("{text}", text)}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    tokens: list[str] = tokenizer.convert_ids_to_tokens(
        tokenizer(rendered, add_special_tokens=False).input_ids
    )
    return tokens


# --- each engine ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine_name", ENGINES)
def test_the_prompt_reaches_the_model_through_its_chat_template(
    models: dict[str, Path], engines: Callable[[str, str], Any], engine_name: str
) -> None:
    backend = engines("chat", engine_name)
    assert backend.family == FAMILY
    calls = spied(backend)
    backend.generate(TEXTS, GenerateOptions(max_new_tokens=6, num_beams=2))
    (sent,) = calls
    expected = [through_template(models["chat"], PROMPT, text) for text in TEXTS]
    assert sent.prompts == expected
    spelt = [backend.tokenizer.convert_tokens_to_string(row) for row in sent.prompts]
    assert spelt == [
        f"<|im_start|>user\nSay it in Arabic:\n\n{text}<|im_end|>\n<|im_start|>assistant\n"
        for text in TEXTS
    ]
    assert backend.count_tokens(TEXTS) == [len(row) for row in expected]
    if engine_name == "transformers":  # padded on the left: every reply starts in one column
        assert all(mask[-1] == 1 for mask in sent.padding)
        assert any(mask[0] == 0 for mask in sent.padding)
    else:  # the prompt is read at once, and left out of the reply
        assert sent.arguments["include_prompt_in_result"] is False


#: Qwen3's switch, as its template has it: without it, the model reasons before it answers
THINKING = CHAT_TEMPLATE + (
    "{% if add_generation_prompt and enable_thinking is defined and enable_thinking is false %}"
    "{{ '<think>\n\n</think>\n\n' }}{% endif %}"
)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_model_that_reasons_first_is_asked_for_the_answer_alone(
    tmp_path: Path, engine_name: str
) -> None:
    model = build_chat_model(tmp_path / "qwen3-like", chat_template=THINKING)
    backend = load_backend(spec(engine_name, model))
    calls = spied(backend)
    backend.generate(TEXTS[:1], GenerateOptions(max_new_tokens=2))
    (sent,) = calls
    spelt = backend.tokenizer.convert_tokens_to_string(sent.prompts[0])
    assert spelt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("beams", [1, 2])
def test_replies_are_the_same_alone_batched_and_on_a_rerun(
    engines: Callable[[str, str], Any], engine_name: str, beams: int
) -> None:
    """The model's generation config samples (temperature 0.7, top_p 0.8, as Qwen2.5-Instruct
    ships): the tool decodes greedily or by beam search, so nothing changes an output."""
    backend = engines("chat", engine_name)
    options = GenerateOptions(max_new_tokens=8, num_beams=beams, repetition_penalty=1.2)
    alone = [backend.generate([text], options)[0] for text in TEXTS]
    assert len({g.text for g in alone}) == len(TEXTS)  # each its own, so a reordering shows
    assert backend.generate(TEXTS, options) == alone
    assert backend.generate(TEXTS[::-1], options) == alone[::-1]
    assert [backend.generate([text], options)[0] for text in TEXTS] == alone


@pytest.mark.parametrize("engine_name", ENGINES)
def test_only_the_reply_is_decoded_and_a_reply_cut_at_its_limit_says_so(
    engines: Callable[[str, str], Any], engine_name: str
) -> None:
    backend = engines("chat", engine_name)
    (short,) = backend.generate([TEXTS[1]], GenerateOptions(max_new_tokens=3))
    (longer,) = backend.generate([TEXTS[1]], GenerateOptions(max_new_tokens=12))
    assert short.hit_limit
    assert longer.text.startswith(short.text)
    assert "council" not in longer.text and "assistant" not in longer.text


class Chatty:
    """A tokenizer whose decoded replies come wrapped as chat models often wrap them."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, *arguments: Any, **named: Any) -> Any:
        return self.inner(*arguments, **named)

    def batch_decode(self, rows: Any, **arguments: Any) -> list[str]:
        return [
            f'<|im_start|>assistant\nSure! Here is the translation:\n"{text.strip()}"<|im_end|>'
            for text in self.inner.batch_decode(rows, **arguments)
        ]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_every_reply_is_cleaned_of_what_the_chat_format_adds(
    engines: Callable[[str, str], Any], engine_name: str
) -> None:
    backend = engines("chat", engine_name)
    options = GenerateOptions(max_new_tokens=6)
    plain = backend.generate(TEXTS, options)
    backend.tokenizer = Chatty(backend.tokenizer)
    try:
        assert backend.generate(TEXTS, options) == plain
    finally:
        backend.tokenizer = backend.tokenizer.inner


@pytest.mark.parametrize("engine_name", ENGINES)
def test_the_context_bounds_the_prompt_and_the_reply_together(
    engines: Callable[[str, str], Any], engine_name: str
) -> None:
    backend = engines("chat", engine_name)
    assert backend.max_input_tokens == backend.context_tokens == 1024
    assert engines("long", engine_name).context_tokens == 8192


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_benchmark_stand_in_never_ends_its_reply(tmp_path: Path, engine_name: str) -> None:
    """The benchmark's stand-ins generate as many tokens as asked on every engine, so that
    every contender does the same work; this one has no output bias to hold the end off."""
    shape = replace(ARCHITECTURES["tiny-qwen2"], vocab_size=700, words_only=True)
    model = build_chat_model(tmp_path / "stand-in", shape, dtype="bfloat16")
    backend = load_backend(spec(engine_name, model))
    replies = backend.generate(TEXTS, GenerateOptions(max_new_tokens=12, num_beams=2))
    assert all(reply.hit_limit for reply in replies)


# --- whole runs -------------------------------------------------------------------------------


def article(path: Path) -> Article:
    text = (SEEDS / f"{STEM}.txt").read_text(encoding="utf-8")
    doc = Document([segment_paragraph(" ".join(text.split()))])
    return Article(Job(path), None, "new", doc=doc)


@pytest.mark.parametrize(("name", "chunks"), [("long", 1), ("chat", 3)])
def test_an_article_goes_in_one_pass_where_it_fits_the_context_else_map_reduce(
    models: dict[str, Path], tmp_path: Path, name: str, chunks: int
) -> None:
    """Summarised with a budget far above the article: the long-context model reads it
    whole; the short one (1,024 positions) in chunks that leave room for the summary."""
    backend = load_backend(spec("transformers", models[name], "summarizer", "{text}"))
    calls = spied(backend)
    settings = SummarizerSettings(max_input_tokens=100_000, max_length=40, min_length=0)
    story = article(tmp_path / "story.txt")
    summarize([story], backend, settings, batch_tokens=100_000)
    assert story.counts.summary_chunks == chunks
    assert story.summary
    for sent in calls:  # no prompt leaves its summary less room than max_length
        longest = max(len(row) for row in sent.prompts)
        assert longest + settings.max_length <= backend.context_tokens
        assert sent.arguments["generation_config"].max_new_tokens <= settings.max_length


def run_args(translator: Path | str, summarizer: Path | str, *extra: str) -> list[str]:
    return [
        "-c", str(CONFIGS / "tiny.toml"),
        "--set", f"translator.model={translator}",
        "--set", f"summarizer.model={summarizer}",
        *(item for setting in extra for item in ("--set", setting)),
    ]  # fmt: skip


#: (the roles the instruction model plays, the engine named (auto: CTranslate2 converts Qwen2))
ROLES = [("summarizer", "auto"), ("translator", "transformers"), ("both", "auto")]


@pytest.mark.parametrize(("roles", "engine"), ROLES)
def test_a_run_over_the_seeds_writes_the_four_outputs_with_an_instruction_model(
    models: dict[str, Path],
    tiny_models: dict[str, Path],
    seeds_copy: Path,
    capsys: pytest.CaptureFixture[str],
    roles: str,
    engine: str,
) -> None:
    chat = models["chat"]
    playing = ("summarizer", "translator") if roles == "both" else (roles,)
    named = {role: chat if role in playing else tiny_models[role] for role in tiny_models}
    # Budgets for the default prompts (about 150 of the tiny tokenizer's tokens): whole
    # paragraphs go in one segment, as the context allows.
    settings = [f"{role}.{key}" for role in playing for key in (f"backend={engine}",
                "max_input_tokens=400")]  # fmt: skip
    args = run_args(named["translator"], named["summarizer"], *settings)
    assert main(["run", str(seeds_copy), *args, "-v"]) == 0
    err = capsys.readouterr().err
    # Playing both roles, the model is loaded once (its weights are most of a run's memory).
    shared = f"translator: the summarizer's {chat}, loaded once for both roles" in err
    assert shared == (roles == "both")
    assert ("loading translator" in err) != shared
    for suffix in FOUR:
        assert (seeds_copy / f"{STEM}{suffix}").read_text(encoding="utf-8").strip()
    sidecar = json.loads((seeds_copy / f"{STEM}.summarize.json").read_text(encoding="utf-8"))
    # The tiny model's gibberish is not Arabic: the warning names the setting that asks it.
    not_arabic = [w for w in sidecar["warnings"] if "the whole text is not in Arabic" in w]
    if "translator" in playing:
        assert not_arabic and all(w.endswith("(see translator.prompt)") for w in not_arabic)
    for role in playing:
        ran = "ctranslate2" if engine == "auto" else engine
        assert sidecar["engines"][role]["family"] == FAMILY
        assert sidecar["engines"][role]["engine"] == ran
    capsys.readouterr()
    # The engine "auto" picked is the one the settings' identity names: nothing to redo.
    assert main(["run", str(seeds_copy), *args]) == 0
    assert "0 articles done, 1 up to date" in capsys.readouterr().err


def test_a_decoder_only_model_without_a_chat_template_is_refused_at_load(
    models: dict[str, Path], tiny_models: dict[str, Path], seeds_copy: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    args = run_args(models["base"], tiny_models["summarizer"])
    assert main(["run", str(seeds_copy), *args]) == 2
    assert sorted(p.name for p in seeds_copy.iterdir()) == [f"{STEM}.txt"]
    err = capsys.readouterr().err
    assert f"translator.model: {models['base']}: a qwen2 model without a chat template" in err


@pytest.mark.parametrize(
    "setting",
    ["translator.target_language=arz", "translator.source_prefix=>>ara<<",
     "translator.source_language=eng_Latn"],
)  # fmt: skip
def test_a_language_setting_of_another_family_is_refused_for_an_instruction_model(
    models: dict[str, Path], tiny_models: dict[str, Path], seeds_copy: Path,
    capsys: pytest.CaptureFixture[str], setting: str,
) -> None:  # fmt: skip
    """An instruction model is asked in words: a target language set for NLLB or Marian would
    have been ignored, and the run made in the prompt's language instead."""
    key = setting.partition("=")[0]
    args = run_args(models["chat"], tiny_models["summarizer"], setting)
    assert main(["run", str(seeds_copy), *args]) == 2
    assert sorted(p.name for p in seeds_copy.iterdir()) == [f"{STEM}.txt"]
    err = capsys.readouterr().err
    assert f"{key} = " in err and "does not apply to an instruction model" in err
    assert "translator.prompt" in err


@pytest.mark.parametrize("role", ["summarizer", "translator"])
def test_a_budget_the_prompt_leaves_no_room_in_is_refused_at_load(
    models: dict[str, Path], tiny_models: dict[str, Path], seeds_copy: Path,
    capsys: pytest.CaptureFixture[str], role: str,
) -> None:  # fmt: skip
    """configs/tiny.toml's budgets (64 and 32 tokens) are below what the default prompts
    take: every input would have been cut into pieces of a token or two."""
    named = {**tiny_models, role: models["chat"]}
    args = run_args(named["translator"], named["summarizer"])
    assert main(["run", str(seeds_copy), *args]) == 2
    assert sorted(p.name for p in seeds_copy.iterdir()) == [f"{STEM}.txt"]
    err = capsys.readouterr().err
    assert f"{role}.max_input_tokens = " in err and "takes " in err
    assert f"raise {role}.max_input_tokens (at least " in err


@pytest.mark.parametrize("role", ["summarizer", "translator"])
def test_changing_the_prompt_redoes_the_articles(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str], role: str
) -> None:
    assert main(["run", str(seeds_copy), *ECHO, "-q"]) == 0
    capsys.readouterr()
    changed = [*ECHO, "--set", f"{role}.prompt=In one line, please:\n\n{{text}}"]
    assert main(["run", str(seeds_copy), *changed, "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("settings changed ")
    assert main(["run", str(seeds_copy), *changed]) == 0
    assert "1 article done" in capsys.readouterr().err


@pytest.mark.parametrize("prompt", ["Summarize this.", "{text} and {text}"])
def test_a_prompt_without_one_place_for_the_text_is_refused(
    seeds_copy: Path, capsys: pytest.CaptureFixture[str], prompt: str
) -> None:
    assert main(["run", str(seeds_copy), *ECHO, "--set", f"summarizer.prompt={prompt}"]) == 2
    assert "summarizer.prompt: must contain {text} once, where the text goes" in (
        capsys.readouterr().err
    )
