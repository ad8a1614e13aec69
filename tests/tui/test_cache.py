"""The cache screen: records of the destination, filtering, sorting, detail, refreshing by itself."""

from __future__ import annotations

import asyncio
import sys

from textual.widgets import Static

from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui.screens.cache import CacheScreen
from pgarchiver_tui.tui.screens.record_detail import RecordDetailScreen
from pgarchiver_tui.tui.widgets.row_table import RowTable
from tests.tui.support import cell, make_app, wait_until


async def headless_run(settings: Settings) -> int:
    """Another process archiving into the same destination and cache, as cron would."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pgarchiver_tui", "--no-ui", "--dsn", settings.dsn or "", "--table", "events",
        "--start-date", "2024-01-01", "--end-date", "2024-01-05", "--local-dir", settings.local_dir or "",
        "--cache-dir", settings.cache_dir or "", stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    return await process.wait()


async def test_shows_what_a_headless_run_writes_while_open(tui_settings: Settings) -> None:
    app = make_app(tui_settings, start_screen="connection", cache_refresh_seconds=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f3")
        screen = app.screen
        assert isinstance(screen, CacheScreen)
        table = screen.query_one(RowTable)
        await wait_until(pilot, lambda: screen.loaded)
        assert table.row_count == 0
        code = await headless_run(tui_settings)
        assert code == 0
        await wait_until(pilot, lambda: table.row_count == 5)
        assert cell(table, 0, "partition") == "events_20240101"
        assert cell(table, 0, "rows") == "300"
        assert "5 of 5 records (0 failed)" in str(screen.query_one("#cache-totals", Static).render())


async def test_filter_sort_and_detail(tui_settings: Settings) -> None:
    code = await headless_run(tui_settings)
    assert code == 0
    app = make_app(tui_settings, start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f3")
        screen = app.screen
        table = screen.query_one(RowTable)
        await wait_until(pilot, lambda: table.row_count == 5)
        await pilot.press("f")  # archived only
        assert table.row_count == 5
        await pilot.press("f")  # failed only
        assert table.row_count == 0
        await pilot.press("f", "slash", *"0104", "enter")
        assert table.row_count == 1 and cell(table, 0, "partition") == "events_20240104"
        await pilot.press("escape")
        assert table.row_count == 5
        await pilot.press("O")
        assert cell(table, 0, "partition") == "events_20240105"
        assert table.cursor_row == 1  # the cursor stays on the record it was on (…0104)
        await pilot.press("enter")
        assert isinstance(app.screen, RecordDetailScreen)
        facts = dict(app.screen.facts)
        assert facts["Object"] == "public/events/2024/01/events-2024-01-04.jsonl.zst"
        assert facts["Rows"] == "300" and facts["SHA-256"] == app.screen.record.sha256
        assert facts["Took"].endswith(" s") and "bytes_in" not in str(facts)  # labels and units, no field names
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "ConnectionScreen"
