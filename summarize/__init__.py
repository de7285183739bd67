"""summarize: English news articles in, an English summary and Arabic translations out."""

from __future__ import annotations

import logging

from summarize.version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

from summarize.config import Config, load_config  # noqa: E402
from summarize.engines import Models, load_models  # noqa: E402
from summarize.pipeline import run  # noqa: E402

__all__ = ["Config", "Models", "__version__", "load_config", "load_models", "run"]
