"""Where the benchmarks keep what they build between runs (stand-ins, conversions, trees)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_DIR"]

#: outside the repository: nothing the benchmarks build is ever committed
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "summarize-benchmarks"
