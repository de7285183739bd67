"""The settings' identity: equal settings however spelt, every setting that changes an output."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from summarize.cli import main
from summarize.config import NUMBER_RANGES, load_config
from summarize.errors import ConfigError
from summarize.identity import ORDER_FREE, Identity, settings_identity
from summarize.settings import GUARD_CHECKS, Config
from tests.conftest import ECHO, ECHO_SETTINGS, SEEDS
from tests.serving import Server, socket_folder, summarize


def identity(*overrides: str) -> Identity:
    return settings_identity(load_config(None, overrides))


def outputs(*overrides: str) -> str:
    return identity(*overrides).outputs


def touch(path: Path, text: str = "Some news.") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def setting_types() -> dict[str, typing.Any]:
    """Every ``section.key`` with its declared type."""
    found = {}
    for section, cls in typing.get_type_hints(Config).items():
        hints = typing.get_type_hints(cls)
        found |= {f"{section}.{f.name}": hints[f.name] for f in dataclasses.fields(cls)}
    return found


# --- one value, one identity ---------------------------------------------------------------

#: the ECHO settings written otherwise: a float setting as an integer, lists in another order
#: (the checks reversed, with a repeat), the default globs swapped
ECHO_RESPELT = [
    "summarizer.backend=echo",
    "summarizer.model=echo",
    "translator.backend=echo",
    "translator.model=echo",
    'guards.checks=["grounding", "summary_length", "length_ratio", "repetition", "length_cap", '
    '"empty", "empty"]',
    "translator.length_penalty=1",
    "summarizer.length_penalty=2",
    'output.translate=["article", "summary"]',
    'input.globs=["*.md", "*.txt"]',
]
RESPELT = [item for setting in ECHO_RESPELT for item in ("--set", setting)]


def test_a_setting_spelt_otherwise_is_the_same_identity() -> None:
    assert identity(*ECHO_RESPELT) == identity(*ECHO_SETTINGS)
    assert identity("translator.length_penalty=1") == identity()
    assert load_config(None, ["translator.length_penalty=1"]).translator.length_penalty == 1.0


@pytest.mark.parametrize(
    "respelt",
    [
        ["translator.length_penalty=1"],
        ['output.translate=["article", "summary"]'],
        ['guards.checks=["grounding", "empty", "length_cap", "repetition", "length_ratio", '
         '"summary_length", "length_cap"]'],
        RESPELT[1::2],
    ],
)  # fmt: skip
def test_a_rerun_with_settings_spelt_otherwise_finds_the_articles_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], respelt: list[str]
) -> None:
    """`--set translator.length_penalty=1` (the default is 1.0), or a list in another order,
    made every article 'settings changed' and redid it."""
    story = tmp_path / "story.txt"
    story.write_bytes((SEEDS / "kadhimi-ambassadors.txt").read_bytes())
    assert main(["run", str(story), *ECHO, "-q"]) == 0
    sidecar = tmp_path / "story.summarize.json"
    written = sidecar.stat().st_mtime_ns
    capsys.readouterr()
    again = [*ECHO, *(item for setting in respelt for item in ("--set", setting))]
    assert main(["run", str(story), *again, "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("up to date ")
    assert main(["run", str(story), *again]) == 0
    assert "0 articles done, 1 up to date" in capsys.readouterr().err
    assert sidecar.stat().st_mtime_ns == written


def test_a_changed_setting_still_makes_the_articles_out_of_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = tmp_path / "story.txt"
    story.write_bytes((SEEDS / "kadhimi-ambassadors.txt").read_bytes())
    assert main(["run", str(story), *ECHO, "-q"]) == 0
    capsys.readouterr()
    changed = [*ECHO, "--set", "translator.length_penalty=1.5"]
    assert main(["run", str(story), *changed, "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("settings changed ")
    assert main(["run", str(story), *changed]) == 0
    assert "1 article done" in capsys.readouterr().err


def test_a_server_caller_with_the_settings_spelt_otherwise_finds_the_server(
    tmp_path: Path,
) -> None:
    """The socket's name came from the settings as text: a caller writing 1 for 1.0 missed
    the server (exit 2, 'no server runs with these settings')."""
    story = tmp_path / "story.txt"
    story.write_bytes((SEEDS / "kadhimi-ambassadors.txt").read_bytes())
    with socket_folder() as sockets:
        served = Server(sockets, tmp_path / "server.log")
        try:
            done = summarize(tmp_path, sockets, "run", "--server", "story.txt", settings=RESPELT)
        finally:
            served.stop()
    assert done.returncode == 0, done.stderr.decode()
    assert served.engine_calls() > 0
    assert (tmp_path / "story.summarize.json").exists()


# --- every setting: in the outputs' identity or not, always in the server's -----------------

#: a valid other value for every setting (as --set options), and whether it changes the text
#: written for an article: such a setting is in the outputs' identity, every one in the server's
CHANGES: dict[str, tuple[list[str], bool]] = {
    "summarizer.model": (["summarizer.model=other/model"], True),
    "summarizer.revision": (["summarizer.revision=abc123"], True),
    "summarizer.backend": (["summarizer.backend=echo"], True),
    "summarizer.source_prefix": (["summarizer.source_prefix=summarize:"], True),
    "summarizer.max_input_tokens": (["summarizer.max_input_tokens=512"], True),
    "summarizer.num_beams": (["summarizer.num_beams=2"], True),
    "summarizer.min_length": (["summarizer.min_length=10"], True),
    "summarizer.max_length": (["summarizer.max_length=100"], True),
    "summarizer.no_repeat_ngram_size": (["summarizer.no_repeat_ngram_size=2"], True),
    "summarizer.length_penalty": (["summarizer.length_penalty=1.5"], True),
    # Only the ctranslate2 engine quantizes: the one backend = "auto" picks for the default
    # models (see the test below).
    "summarizer.quantization": (["summarizer.quantization=int8"], True),
    "summarizer.prompt": (["summarizer.prompt=Summarize in one sentence:\n\n{text}"], True),
    "translator.model": (["translator.model=other/model"], True),
    "translator.revision": (["translator.revision=abc123"], True),
    "translator.backend": (["translator.backend=echo"], True),
    "translator.source_prefix": (["translator.source_prefix=>>arz<<"], True),
    "translator.source_language": (["translator.source_language=eng_Latn"], True),
    "translator.target_language": (["translator.target_language=arz"], True),
    "translator.max_input_tokens": (["translator.max_input_tokens=128"], True),
    "translator.num_beams": (["translator.num_beams=1"], True),
    "translator.max_length_ratio": (["translator.max_length_ratio=1.5"], True),
    "translator.max_length_extra": (["translator.max_length_extra=8"], True),
    "translator.no_repeat_ngram_size": (["translator.no_repeat_ngram_size=2"], True),
    "translator.length_penalty": (["translator.length_penalty=1.5"], True),
    "translator.quantization": (["translator.quantization=int8"], True),
    "translator.prompt": (["translator.prompt=Translate into Egyptian Arabic:\n\n{text}"], True),
    "guards.checks": (['guards.checks=["empty"]'], True),
    "guards.max_repetition": (["guards.max_repetition=0.3"], True),
    "guards.min_script_share": (["guards.min_script_share=0.7"], True),
    "guards.min_length_ratio": (["guards.min_length_ratio=0.4"], True),
    "guards.max_length_ratio": (["guards.max_length_ratio=1.5"], True),
    "guards.min_ratio_chars": (["guards.min_ratio_chars=20"], True),
    "guards.min_grounded": (["guards.min_grounded=0.4"], True),
    "guards.repair_rounds": (["guards.repair_rounds=0"], True),
    "guards.repair_num_beams": (["guards.repair_num_beams=3"], True),
    "guards.repair_no_repeat_ngram_size": (["guards.repair_no_repeat_ngram_size=2"], True),
    "guards.repair_repetition_penalty": (["guards.repair_repetition_penalty=1.5"], True),
    "runtime.device": (["runtime.device=cpu"], False),
    "runtime.dtype": (["runtime.dtype=float32"], False),
    "runtime.batch_tokens": (["runtime.batch_tokens=100"], False),
    "runtime.threads": (["runtime.threads=1"], False),
    "runtime.wave_size": (["runtime.wave_size=2"], False),
    "runtime.claim_timeout": (["runtime.claim_timeout=60"], False),
    "input.globs": (['input.globs=["*.txt"]'], False),
    "input.exclude": (['input.exclude=["draft*"]'], False),
    "input.cleanup": (["input.cleanup=false"], True),
    "input.require_article": (["input.require_article=false"], False),
    "input.max_bytes": (["input.max_bytes=1000"], False),
    "input.language_check": (["input.language_check=off"], False),
    "output.summary": (["output.summary={stem}.s.txt"], False),
    "output.summary_ar": (["output.summary_ar={stem}.s.ar.txt"], False),
    "output.article_ar": (["output.article_ar={stem}.arabic.txt"], False),
    "output.sidecar": (["output.sidecar={stem}.state.json"], False),
    "output.summarize": (["output.summarize=false", 'output.translate=["article"]'], True),
    "output.translate": (['output.translate=["article"]'], True),
    "eval.summary_reference": (["eval.summary_reference={stem}.r.txt"], False),
    "eval.summary_ar_reference": (["eval.summary_ar_reference={stem}.r.ar.txt"], False),
    "eval.article_ar_reference": (["eval.article_ar_reference={stem}.r.article.txt"], False),
    "ray.actors": (["ray.actors=2"], False),
    "ray.gpus_per_actor": (["ray.gpus_per_actor=1"], False),
    "ray.cpus_per_actor": (["ray.cpus_per_actor=1"], False),
    "ray.connect_timeout": (["ray.connect_timeout=5"], False),
}


def test_every_setting_is_classified() -> None:
    """A new setting must say whether it changes what is written."""
    assert sorted(CHANGES) == sorted(setting_types())


def test_every_list_setting_says_whether_its_order_counts() -> None:
    lists = [name for name, kind in setting_types().items() if typing.get_origin(kind) is list]
    assert sorted(lists) == sorted(ORDER_FREE)


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_each_setting_changes_the_identities_it_belongs_to(name: str) -> None:
    overrides, in_outputs = CHANGES[name]
    assert (outputs(*overrides) != outputs()) is in_outputs
    assert identity(*overrides).server != identity().server


def test_quantization_counts_in_the_outputs_only_where_an_engine_applies_it() -> None:
    ct2, hf = "summarizer.backend=ctranslate2", "summarizer.backend=transformers"
    int8, float32 = "summarizer.quantization=int8", "summarizer.quantization=float32"
    assert outputs(ct2, int8) != outputs(ct2, float32)
    assert outputs(hf, int8) == outputs(hf)
    # "auto" is CTranslate2 where it is installed and the model's config.json cannot be read
    # (a hub model not downloaded yet, as here): the same identity as naming it.
    assert outputs(int8) == outputs(ct2, int8) != outputs()


def test_auto_on_an_apple_gpu_is_transformers_which_alone_runs_there() -> None:
    mps, hf = (
        "runtime.device=mps",
        ("summarizer.backend=transformers", "translator.backend=transformers"),
    )
    assert outputs(mps) == outputs(mps, *hf) == outputs(*hf) != outputs()


def test_the_readable_form_cannot_be_read_as_another_setting() -> None:
    """A value holding the separator must not pass for another field."""
    forged = outputs("summarizer.model=a|summarizer.revision=b", "summarizer.revision=c")
    assert forged != outputs("summarizer.model=a", "summarizer.revision=b|summarizer.revision=c")
    assert '"a|summarizer.revision=b"' in forged


# --- the properties ------------------------------------------------------------------------

FLOATS = sorted(name for name, kind in setting_types().items() if kind is float)


@st.composite
def spellings(draw: st.DrawFn, leave_out: frozenset[str] = frozenset()) -> tuple[list[str], ...]:
    """One configuration, written two ways that mean the same: numbers of float settings as
    ``2`` and ``2.0``, order-free lists in two orders (with a repeat where allowed)."""
    one: list[str] = []
    other: list[str] = []
    for name in FLOATS:
        low, high = NUMBER_RANGES[name]
        if name in leave_out or not draw(st.booleans()):
            continue
        value = draw(st.integers(int(low + 0.99), int(min(high, 5))))
        one.append(f"{name}={value}")
        other.append(f"{name}={value}.0")
    lists = {
        "guards.checks": (GUARD_CHECKS, True),
        "output.translate": (("summary", "article"), False),
        "input.globs": (("*.txt", "*.md", "*.text", "news-*"), True),
        "input.exclude": (("draft*", "*.tmp.txt", "old/*"), True),
    }
    for name, (items, repeats) in lists.items():
        if name in leave_out or not draw(st.booleans()):
            continue
        chosen = draw(st.lists(st.sampled_from(items), min_size=1, unique=True))
        shuffled = draw(st.permutations(chosen))
        if repeats:
            shuffled = [*shuffled, draw(st.sampled_from(chosen))]
        one.append(f"{name}={json.dumps(chosen)}")
        other.append(f"{name}={json.dumps(shuffled)}")
    return one, other


def loaded(overrides: list[str]) -> Config:
    try:
        return load_config(None, overrides)
    except ConfigError:  # a combination the cross-key rules refuse
        assume(False)
        raise


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(spellings())
def test_settings_equal_after_normalising_have_one_identity(pair: tuple[list[str], ...]) -> None:
    one, other = pair
    assert settings_identity(loaded(one)) == settings_identity(loaded(other))


@st.composite
def changes(draw: st.DrawFn) -> tuple[list[str], list[str], bool]:
    """A configuration, and the same with one setting changed (kept off the rest)."""
    name = draw(st.sampled_from(sorted(CHANGES)))
    change, in_outputs = CHANGES[name]
    touched = frozenset(item.split("=", 1)[0] for item in change)
    base, _ = draw(spellings(touched))
    return base, [*base, *change], in_outputs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(changes())
def test_changing_a_setting_changes_the_identities_it_belongs_to(
    case: tuple[list[str], list[str], bool],
) -> None:
    base, changed, in_outputs = case
    before, after = settings_identity(loaded(base)), settings_identity(loaded(changed))
    assert (before.outputs != after.outputs) is in_outputs
    assert before.server != after.server


# --- a local model counts by its content -----------------------------------------------


def fake_model(folder: Path, weights: bytes = b"\x00" * 64, model_type: str = "marian") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = json.dumps({"model_type": model_type})
    (folder / "config.json").write_text(config, encoding="utf-8")
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    return folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def model_outputs(model: Path | str) -> str:
    return outputs(f"translator.model={model}")


def test_new_weights_under_the_same_path_change_the_signature(tmp_path: Path, cache: Path) -> None:
    model = fake_model(tmp_path / "model")
    before = model_outputs(model)
    stat = (model / "model.safetensors").stat()
    (model / "model.safetensors").write_bytes(b"\x01" * 64)  # same size, same mtime
    os.utime(model / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert model_outputs(model) != before


def test_a_relative_and_an_absolute_path_to_one_model_are_the_same_model(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = fake_model(tmp_path / "models" / "opus")
    copy = fake_model(tmp_path / "elsewhere" / "opus-copy")  # the same files, another place
    monkeypatch.chdir(tmp_path / "models")
    assert model_outputs("opus") == model_outputs("./opus") == model_outputs(model)
    assert model_outputs(copy) == model_outputs(model)
    assert str(model) not in model_outputs(model)


def test_a_hub_model_counts_by_id_and_revision(tmp_path: Path, cache: Path) -> None:
    sig = outputs("translator.revision=abc123")
    assert "translator.model=Helsinki-NLP/opus-mt-en-ar|translator.revision=abc123" in sig


@pytest.mark.parametrize(
    ("model_type", "picked", "other"),
    [
        ("marian", "ctranslate2", "transformers"),
        ("m2m_100", "ctranslate2", "transformers"),
        ("t5", "ctranslate2", "transformers"),
        ("led", "transformers", "ctranslate2"),
    ],
)
def test_auto_has_the_identity_of_the_engine_it_picks(
    tmp_path: Path, cache: Path, model_type: str, picked: str, other: str
) -> None:
    """An article done with backend = "auto" is up to date for the engine it ran on, and
    out of date for the other."""
    model = f"summarizer.model={fake_model(tmp_path / 'model', model_type=model_type)}"
    auto = outputs(model)
    assert auto == outputs(model, f"summarizer.backend={picked}")
    assert auto != outputs(model, f"summarizer.backend={other}")


def test_documentation_and_hidden_files_do_not_change_the_model(
    tmp_path: Path, cache: Path
) -> None:
    model = fake_model(tmp_path / "model")
    before = model_outputs(model)
    touch(model / "README.md", "About this model.")
    touch(model / ".cache" / "huggingface" / "download" / "x.metadata", "etag")
    assert model_outputs(model) == before
    touch(model / "vocab.json", "{}")
    assert model_outputs(model) != before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_symlink_loop_in_a_model_folder_does_not_hang_the_run(
    tmp_path: Path, cache: Path
) -> None:
    """The digest read a FIFO (blocking for ever) and walked a symlink loop: a model pointed
    at the wrong folder hung even --dry-run. Such entries count by their kind alone."""
    model = fake_model(tmp_path / "model")
    os.mkfifo(model / "pipe")
    (model / "sub").mkdir()
    (model / "sub" / "up").symlink_to("..")
    article = tmp_path / "a.txt"
    article.write_text("The vote passed on Tuesday. It was close.\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "run", str(article), "--dry-run",
         "--set", f"translator.model={model}"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "SUMMARIZE_CACHE": str(cache)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "a.txt" in done.stdout


def test_file_hashes_are_cached_by_stat_and_a_corrupt_cache_counts_as_empty(
    tmp_path: Path, cache: Path
) -> None:
    model = fake_model(tmp_path / "model")
    expected = model_outputs(model)
    weights = model / "model.safetensors"
    info = weights.stat()
    cache.mkdir(exist_ok=True)
    # A cache entry that matches the file's stat is trusted (no re-hashing on a no-op rerun).
    planted = {str(weights): [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino,
                              "f" * 64]}  # fmt: skip
    (cache / "model-digests.json").write_text(json.dumps({"version": 1, "files": planted}))
    from summarize.model_identity import _DigestCache

    _DigestCache._open.clear()
    assert model_outputs(model) != expected
    for corrupt in ("[1, 2]", "{not json", '{"version": 1, "files": []}', "\xff"):
        (cache / "model-digests.json").write_text(corrupt, encoding="latin-1")
        _DigestCache._open.clear()
        assert model_outputs(model) == expected
