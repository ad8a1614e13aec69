"""Purge from the TUI: one question naming every table and its rows, then each period proven and purged."""

from __future__ import annotations

import psycopg
from textual.widgets import Button, RichLog, Static

from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen
from pgarchiver_tui.tui.screens.purge import PurgeScreen
from tests.tui.support import make_app, wait_until
from tests.tui.test_cache import headless_run
from tests.tui.test_verify_restore import corrupt


def partitions(settings: Settings) -> list[str]:
    with psycopg.connect(settings.dsn or "") as conn:
        return [name for (name,) in conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'events_2024%' "
                                                 "ORDER BY 1")]


def log_text(screen: PurgeScreen) -> str:
    return "\n".join(strip.text for strip in screen.query_one(RichLog).lines)


async def test_purge_the_selected_archived_partitions_after_one_question(tui_settings: Settings) -> None:
    assert await headless_run(tui_settings) == 0
    corrupt(tui_settings, "2024-01-02")
    app = make_app(tui_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
        screen = app.screen
        assert isinstance(screen, PartitionsScreen)
        await pilot.press("space", "space", "space", "P")  # Space marks and moves on
        dialog = app.screen
        assert isinstance(dialog, PurgeScreen)
        await wait_until(pilot, lambda: not dialog.query_one("#purge", Button).disabled)
        summary = str(dialog.query_one("#dialog-body", Static).render())
        assert "3 period(s), 900 rows as archived" in summary
        for day in ("01", "02", "03"):
            assert f"drop public.events_202401{day}: 300 rows as archived" in summary
        assert partitions(tui_settings) == [f"events_2024010{d}" for d in range(1, 6)], "nothing before the answer"
        await pilot.click("#purge")
        await wait_until(pilot, lambda: dialog.report is not None)
        assert dialog.report.summary()["purged"] == 2 and dialog.report.summary()["refused"] == 1  # type: ignore[union-attr]
        text = log_text(dialog)
        assert "purged public.events_20240101: dropped public.events_20240101 (300 rows)" in text
        assert "refused public.events_20240102: object corrupt" in text
        assert app.exit_code_now() == 1
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen and screen.prepared is not None and
                         len(screen.entries) == 3)
    assert partitions(tui_settings) == ["events_20240102", "events_20240104", "events_20240105"]


async def test_the_purge_command_opens_the_question_for_the_range_and_back_changes_nothing(
        tui_settings: Settings) -> None:
    assert await headless_run(tui_settings) == 0
    app = make_app(tui_settings, start_screen="purge")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PurgeScreen) and app.screen.purge_run is not None)
        dialog = app.screen
        assert isinstance(dialog, PurgeScreen)
        summary = str(dialog.query_one("#dialog-body", Static).render())
        assert "5 period(s), 1,500 rows as archived" in summary
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen))
    assert partitions(tui_settings) == [f"events_2024010{d}" for d in range(1, 6)]
