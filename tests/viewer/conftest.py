"""Fixtures of the viewer tests: a real archive run (real PostgreSQL, a directory destination) and the viewer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pgarchiver_tui.demo_data import seed_events
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
