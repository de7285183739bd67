"""summarize: English news articles in, an English summary and Arabic translations out."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

from summarize.config import Config, load_config  # noqa: E402
from summarize.pipeline import Models, load_models, run  # noqa: E402

__all__ = ["Config", "Models", "__version__", "load_config", "load_models", "run"]
