"""Entry point for ``python -m summarize``."""

from summarize.cli import main

raise SystemExit(main())
