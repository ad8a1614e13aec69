"""Verify and restore from the TUI, against the real seeded database and a local archive."""

from __future__ import annotations

from pathlib import Path

import psycopg
from textual.widgets import Checkbox, Input, Static

from pgarchiver_tui.cache import open_cache
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.storage.destination import open_destination
from pgarchiver_tui.tui.screens.cache import CacheScreen
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen
from pgarchiver_tui.tui.screens.restore import RestoreScreen
from pgarchiver_tui.tui.screens.restore_dialog import RestoreDialog
from pgarchiver_tui.tui.widgets.results_table import ResultsTable
from pgarchiver_tui.tui.widgets.row_table import RowTable
from pgarchiver_tui.tui.widgets.run_summary import RunSummary
from pgarchiver_tui.tui.widgets.verify_panel import VerifyPanel
from pgarchiver_tui.tui.widgets.worker_bar import WorkerBar
from tests.tui.support import cell, make_app, wait_until
from tests.tui.test_cache import headless_run


def corrupt(settings: Settings, day: str) -> Path:
    """Flip one byte in the middle of a day's archived object."""
    [path] = Path(settings.local_dir or "").rglob(f"events-{day}.jsonl.zst")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


async def test_verify_marked_records_from_the_cache_screen(tui_settings: Settings) -> None:
    assert await headless_run(tui_settings) == 0
    corrupt(tui_settings, "2024-01-02")
    app = make_app(tui_settings, start_screen="connection", cache_refresh_seconds=60)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f3")
        screen = app.screen
        assert isinstance(screen, CacheScreen)
        table = screen.query_one(RowTable)
        await wait_until(pilot, lambda: table.row_count == 5)
        assert cell(table, 0, "verified") == "—"
        await pilot.press("space", "space")  # marks …0101 and …0102; the cursor moves on after each
        assert screen.selected == set(screen.shown[:2])
        await pilot.press("v")
        panel = screen.query_one(VerifyPanel)
        await wait_until(pilot, lambda: bool(panel.reports) and not panel.running)
        assert cell(table, 0, "verified").startswith("ok")
        assert cell(table, 1, "verified").startswith("problem")
        assert cell(table, 2, "verified") == "—"  # not chosen, not verified
        [report] = panel.reports
        assert [c.key for c in report.results] == screen.shown[:2]
    cache = open_cache(open_destination(tui_settings, check=False).url, tui_settings.cache_dir)
    outcomes = {r.key.rsplit("/", 1)[-1]: r.verify_outcome for r in cache.records()}
    cache.close()
    assert outcomes["events-2024-01-01.jsonl.zst"] == "ok"
    assert outcomes["events-2024-01-02.jsonl.zst"].startswith("problem: ")
    assert outcomes["events-2024-01-03.jsonl.zst"] == ""


async def test_verify_selected_partitions_shows_each_outcome_as_status(tui_settings: Settings) -> None:
    assert await headless_run(tui_settings) == 0
    corrupt(tui_settings, "2024-01-05")
    app = make_app(tui_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
        screen = app.screen
        assert isinstance(screen, PartitionsScreen)
        await pilot.press("a", "v")
        panel = screen.query_one(VerifyPanel)
        await wait_until(pilot, lambda: bool(panel.reports) and not panel.running)
        statuses = [cell(screen.query_one(RowTable), n, "status") for n in range(5)]
        assert statuses == ["verified"] * 4 + ["problem"]
        await pilot.press("down", "down", "down", "down")
        detail = str(screen.query_one("#detail", Static).render())
        assert "events-2024-01-05" in detail and "SHA-256 differs from the metadata's" in detail, detail


async def test_restore_marked_records_into_another_table_with_worker_bars(tui_settings: Settings) -> None:
    assert await headless_run(tui_settings) == 0
    app = make_app(tui_settings, start_screen="connection", cache_refresh_seconds=60)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("f3")
        await wait_until(pilot, lambda: app.screen.query_one(RowTable).row_count == 5)
        await pilot.press("space", "space", "space", "R")
        dialog = app.screen
        assert isinstance(dialog, RestoreDialog)
        assert dialog.query_one("#target", Input).value == "public.events"  # the archived table unless changed
        assert dialog.query_one("#dry-run", Checkbox).value  # a dry run unless asked otherwise
        dialog.query_one("#dry-run", Checkbox).value = False
        await pilot.pause()
        await pilot.click("#restore")  # the live table still holds these rows: refused, nothing doubled
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen.report is not None)
        refused = app.screen
        assert refused.report.summary()["failed"] == 3  # type: ignore[attr-defined, union-attr]
        summary = str(refused.query_one(RunSummary).render())
        assert "already holds rows in [2024-01-01, 2024-01-02)" in summary and "[/red]" not in summary
        await pilot.press("escape", "R")
        dialog = app.screen
        assert isinstance(dialog, RestoreDialog)
        dialog.query_one("#target", Input).value = "public.events_back"
        await pilot.click("#restore")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen is not refused)
        dry = app.screen
        assert isinstance(dry, RestoreScreen) and dry.dry_run
        await wait_until(pilot, lambda: dry.report is not None)
        assert dry.report.summary()["dry_run"] == 3  # type: ignore[union-attr]
        await pilot.press("escape", "R")
        dialog = app.screen
        assert isinstance(dialog, RestoreDialog)
        dialog.query_one("#target", Input).value = "events_back"  # in the archived table's schema
        await pilot.press("ctrl+d")  # dry run off
        assert "off" in str(dialog.query_one("#dry-run", Checkbox).label)
        await pilot.click("#restore")
        await wait_until(pilot, lambda: isinstance(app.screen, RestoreScreen) and app.screen not in (dry, refused))
        run = app.screen
        assert isinstance(run, RestoreScreen)
        assert len(run.query(WorkerBar)) == 2  # the archive run's bars, one per worker
        await wait_until(pilot, lambda: run.report is not None)
        assert run.report.summary()["restored"] == 3 and run.report.summary()["rows"] == 900  # type: ignore[union-attr]
        assert run.query_one(ResultsTable).row_count == 3
        assert "3 restored, 0 skipped, 0 failed" in str(run.query_one(RunSummary).render())
        assert not run.query_one("#workers").display
    with psycopg.connect(tui_settings.dsn or "") as conn:
        assert conn.execute("SELECT count(*) FROM events_back").fetchone() == (900,)
        assert conn.execute("SELECT count(*) FROM (SELECT * FROM events WHERE created_at < '2024-01-04' "
                            "EXCEPT ALL SELECT * FROM events_back) AS missing").fetchone() == (0,)
