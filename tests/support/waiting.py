"""Waiting for a condition that no event announces (a backend exiting, a file appearing, the app settling).

One deadline rule for every test: poll, and fail loudly naming what never happened; never a fixed sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from textual.pilot import Pilot


def _rounds(what: str, timeout: float) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Poll `condition` from a test thread."""
    for _ in _rounds(what, timeout):
        if condition():
            return
        time.sleep(0.01)


async def wait_for_app(pilot: Pilot, predicate: Callable[[], object], timeout: float = 30.0) -> None:
    """Let a Textual app work until `predicate` holds."""
    for _ in _rounds("the app", timeout):
        if predicate():
            return
        await pilot.pause(0.02)
