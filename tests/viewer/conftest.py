"""Fixtures of the viewer tests: a real archive run (real PostgreSQL, a directory destination) and the viewer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgarchiver_tui.commands.demo_data import seed_events
from tests.viewer.support import Archive, ViewerProcess


@pytest.fixture
def archive(seeded_events: str, tmp_path: Path) -> Archive:
    """events (5 daily partitions of 300 rows) archived by the real command into a directory; its cache dir."""
    found = Archive(seeded_events, tmp_path / "archive", tmp_path / "cache")
    found.run("events", "2024-01-01", "2024-01-05")
    return found


@pytest.fixture
def second_table(archive: Archive) -> Archive:
    """`orders` seeded too (3 daily partitions), not archived yet: for a second process to archive."""
    seed_events(archive.dsn, table="orders", days=3, rows_per_day=200)
    return archive


@pytest.fixture
def viewer(archive: Archive) -> Iterator[ViewerProcess]:
    process = ViewerProcess(archive.cache_dir)
    try:
        yield process
    finally:
        process.stop()


CHROMIUM = "/usr/bin/chromium"  # Debian's package: `apt-get install chromium` (.ci/run does it when missing)
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API keeps an event loop running in this thread while it
    is open, and other tests (the TUI's) need asyncio.run afterwards."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (bash .ci/run does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class ConsoleErrors(list):  # type: ignore[type-arg]
    """Every console error and uncaught exception of a page."""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors = ConsoleErrors()
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.console_errors = errors
    try:
        yield opened
    finally:
        context.close()
