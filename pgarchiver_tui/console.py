"""The `pgarchiver-tui` command and `python -m pgarchiver_tui`: start-up with the collector off (startup.py),
then the CLI."""

from __future__ import annotations

from pgarchiver_tui import startup


def console() -> int:
    startup.begin()
    from pgarchiver_tui.cli import main  # after begin(): these imports are most of start-up

    return main()
