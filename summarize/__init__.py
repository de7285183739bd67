"""summarize: English news articles in, an English summary and Arabic translations out."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from summarize.version import __version__

if TYPE_CHECKING:
    from summarize.config import load_config
    from summarize.engines import Models, load_models
    from summarize.pipeline import run
    from summarize.settings import Config

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["Config", "Models", "__version__", "load_config", "load_models", "run"]

# The public API by the module that defines it; imported on first use, so that importing
# summarize.version (the console script's --version, a sidecar's tool line) stays cheap.
_PUBLIC = {
    "Config": "summarize.config",
    "load_config": "summarize.config",
    "Models": "summarize.engines",
    "load_models": "summarize.engines",
    "run": "summarize.pipeline",
}


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
