"""Entry point for ``python -m summarize``."""

import signal

try:
    from summarize.cli import main
except KeyboardInterrupt:  # Ctrl-C while importing: the same exit as any other interrupt
    raise SystemExit(128 + signal.SIGINT) from None

raise SystemExit(main())
