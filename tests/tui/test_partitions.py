"""The partitions screen against the real seeded database: select, filter, sort, count, start."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from pgarchiver_tui.core.events import Outcome
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui.screens.confirm import ConfirmScreen
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen
from pgarchiver_tui.tui.screens.run import RunScreen
from pgarchiver_tui.tui.widgets.row_table import RowTable
from pgarchiver_tui.tui.widgets.selection_totals import SelectionTotals
from tests.tui.support import cell, make_app, wait_until


def totals(screen: PartitionsScreen) -> str:
    return str(screen.query_one(SelectionTotals).render())


async def open_partitions(pilot, app) -> PartitionsScreen:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
    return app.screen


async def test_lists_every_partition_with_status_and_totals(tui_settings: Settings) -> None:
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_partitions(pilot, app)
        table = screen.query_one(RowTable)
        assert table.row_count == 5
        assert [e.name for e in screen.shown] == [f"events_2024010{d}" for d in range(1, 6)]
        assert {e.status for e in screen.entries} == {"new"}
        assert all(e.job.estimated_rows == 300 for e in screen.entries)
        assert "0 of 5 selected" in totals(screen)
        await pilot.press("a")
        assert "5 of 5 selected" in totals(screen) and "~1,500 rows" in totals(screen)
        await pilot.press("n")
        assert "0 of 5 selected" in totals(screen)


async def test_select_one_range_and_by_filter(tui_settings: Settings) -> None:
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_partitions(pilot, app)
        await pilot.press("space")  # marks the first and moves on to the second
        assert screen.selected == {screen.entries[0].job.key}
        await pilot.press("shift+down")
        assert len(screen.selected) == 3 and "3 of 5 selected" in totals(screen)
        await pilot.press("n", "slash", *"0104", "enter")
        assert [e.name for e in screen.shown] == ["events_20240104"]
        await pilot.press("a")
        assert screen.selected == {screen.shown[0].job.key}
        assert "filter '0104': 1 shown" in totals(screen)
        await pilot.press("slash", "escape")
        assert len(screen.shown) == 5 and "1 of 5 selected" in totals(screen)


async def test_sort_by_any_column_and_reverse(tui_settings: Settings) -> None:
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_partitions(pilot, app)
        await pilot.press("O")
        assert [e.name for e in screen.shown][0] == "events_20240105"
        await pilot.press("o")
        assert screen.sort_column == "rows"
        screen.query_one(RowTable).focus()
        await pilot.click(RowTable, offset=(8, 0))  # the "partition" header
        assert screen.sort_column == "name" and screen.shown[0].name == "events_20240101"


async def test_exact_row_count_on_request(tui_settings: Settings) -> None:
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_partitions(pilot, app)
        await pilot.press("x")
        await wait_until(pilot, lambda: screen.entries[0].exact_rows is not None)
        assert screen.entries[0].exact_rows == 300
        assert cell(screen.query_one(RowTable), 0, "rows") == "300"


async def test_archive_asks_first_then_runs_and_statuses_follow(tui_settings: Settings) -> None:
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_partitions(pilot, app)
        await pilot.press("r")
        assert isinstance(app.screen, PartitionsScreen)  # nothing selected: nothing to confirm
        await pilot.press("space", "space", "r")
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#dialog-body", Static).render())
        assert "Archive 2 object(s)" in body and tui_settings.database_label() in body
        assert Path(tui_settings.local_dir).resolve().as_uri() in body
        await pilot.press("n")
        assert isinstance(app.screen, PartitionsScreen)
        await pilot.press("r", "y")
        run = app.screen
        assert isinstance(run, RunScreen)
        await wait_until(pilot, lambda: run.report is not None)
        assert run.report.count(Outcome.ARCHIVED) == 2  # type: ignore[union-attr]
        await pilot.press("escape")
        assert app.screen is screen
        assert [e.status for e in screen.entries] == ["archived", "archived", "new", "new", "new"]
        assert len(list(Path(tui_settings.local_dir).rglob("*.jsonl.zst"))) == 2


async def test_dry_run_is_one_key_away_and_writes_nothing(tui_settings: Settings) -> None:
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_partitions(pilot, app)
        await pilot.press("a", "d")
        run = app.screen
        assert isinstance(run, RunScreen) and run.dry_run
        await wait_until(pilot, lambda: run.report is not None)
        assert run.report.count(Outcome.DRY_RUN) == 5  # type: ignore[union-attr]
        assert not list(Path(tui_settings.local_dir).rglob("*.zst"))
        await pilot.press("escape")
        assert {e.status for e in screen.entries} == {"new"}


async def test_discovery_errors_are_shown_not_raised(tui_settings: Settings) -> None:
    from dataclasses import replace

    app = make_app(replace(tui_settings, table="nosuchtable"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_partitions_or_error(pilot, app)
        notice = str(screen.query_one("#notice", Static).render())
        assert "Cannot list partitions" in notice and "nosuchtable does not exist" in notice
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "ConnectionScreen"


async def open_partitions_or_error(pilot, app) -> PartitionsScreen:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen)
                     and app.screen.query_one("#notice").has_class("error"))
    return app.screen
