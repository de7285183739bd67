"""Which engines a configuration needs, what their backends are asked to load, the load checks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from summarize import Models, load_models
from summarize.backends import LoadSpec
from summarize.backends.echo import EchoBackend
from summarize.config import load_config
from summarize.engines import load_spec, needed_models
from summarize.errors import UsageError
from tests.conftest import captured_log

ECHO = [
    "summarizer.backend=echo",
    "summarizer.model=echo",
    "translator.backend=echo",
    "translator.model=echo",
]


@pytest.fixture
def engines_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The load checks' warnings."""
    with captured_log(caplog, "summarize.engines", logging.WARNING) as log:
        yield log


def test_a_load_spec_carries_the_role_its_settings_and_the_runtime() -> None:
    config = load_config(
        None,
        [
            "translator.backend=ctranslate2", "translator.model=example/opus",
            "translator.revision=v2", "translator.quantization=int8",
            "translator.source_prefix=>>arz<<", "translator.source_language=eng_Latn",
            "translator.target_language=arz_Arab", "summarizer.source_prefix=summarize:",
            "summarizer.quantization=float32", "runtime.device=cpu",
            "runtime.dtype=float32", "runtime.threads=3",
            "translator.prompt=Into Arabic: {text}",
        ],
    )  # fmt: skip
    assert load_spec("translator", config) == LoadSpec(
        backend="ctranslate2",
        model="example/opus",
        role="translator",
        revision="v2",
        device="cpu",
        dtype="float32",
        threads=3,
        quantization="int8",
        source_prefix=">>arz<<",
        source_language="eng_Latn",
        target_language="arz_Arab",
        prompt="Into Arabic: {text}",
    )
    summarizer = load_spec("summarizer", config)
    assert (summarizer.role, summarizer.model) == ("summarizer", config.summarizer.model)
    assert (summarizer.source_prefix, summarizer.target_language) == ("summarize:", "auto")
    # backend = "auto", and the model's config.json is nowhere to read (offline, not
    # cached): CTranslate2, which loading then finds the model missing for.
    assert (summarizer.backend, summarizer.quantization) == ("ctranslate2", "float32")


@pytest.mark.parametrize("wanted", [[], ["summary"]])
def test_load_models_loads_only_the_stages_needed(wanted: list[str]) -> None:
    config = load_config(None, [*ECHO, "output.translate=" + json.dumps(wanted)])
    models = load_models(config)
    assert models.summarizer is not None
    assert (models.translator is not None) == bool(wanted)


def test_engines_given_are_kept_where_needed_and_a_missing_one_is_named() -> None:
    echo = EchoBackend("echo")
    config = load_config(None, [*ECHO, "output.translate=[]"])
    assert needed_models(Models(echo, echo), config) == Models(echo, None)
    with pytest.raises(UsageError, match=r"models\.summarizer is None.*output\.summarize = true"):
        needed_models(Models(None, echo), config)


def test_loading_says_where_the_model_overrides_the_configured_limits(
    engines_log: pytest.LogCaptureFixture,
) -> None:
    load_models(load_config(None, [*ECHO, "summarizer.model=echo:positions=128"]))
    text = engines_log.text
    assert "summarizer.max_input_tokens = 1024, but echo:positions=128 reads at most 128" in text
    assert "summarizer.max_length = 142 is not below the summarizer's input limit (128" in text
