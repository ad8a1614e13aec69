"""TUI fixtures: settings for the real seeded database. Async tests run on pytest-asyncio (pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgarchiver_tui.core.settings import Settings


@pytest.fixture
def tui_settings(seeded_events: str, tmp_path: Path) -> Settings:
    """The real seeded database (5 daily partitions, 300 rows each) archived into a local directory."""
    return Settings(dsn=seeded_events, table="events", start_date="2024-01-01", end_date="2024-01-05",
                    local_dir=str(tmp_path / "archive"), cache_dir=str(tmp_path / "cache"), workers=2)
