"""10,000 partitions: loading, marking all, sorting and filtering give the right rows.

How quick they are is measured by benchmarks/tui_bench.py (`nox -s bench`), not here: timing in a test only
measures the machine the test happens to run on."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from pgarchiver_tui.commands.archive.prepare import Prepared
from pgarchiver_tui.core.model import Source, SourceKind
from pgarchiver_tui.core.periods import Duration, Period
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen
from tests.tui.support import FixedClock, fixed_prepared, fixed_settings, make_app, wait_until

DAYS = 10_000
FIRST = datetime(1990, 1, 1)


def many_prepared(settings: Settings) -> Prepared:
    prepared = fixed_prepared(settings)
    sources = [Source("public", f"events_{(FIRST + timedelta(days=n)):%Y%m%d}", SourceKind.NATIVE,
                      Period(FIRST + timedelta(days=n), FIRST + timedelta(days=n + 1)), 1000 + n, 100_000 + n)
               for n in range(DAYS)]
    from pgarchiver_tui.commands.archive.plan import make_plan

    requested = Period(FIRST, FIRST + timedelta(days=DAYS))
    plan = make_plan("public", "events", sources, requested, Duration.DAILY, settings.path_template,
                     prepared.options.extension, None, datetime(2024, 3, 1))
    return replace(prepared, plan=plan)


async def test_ten_thousand_partitions(tmp_path: Path) -> None:
    app = make_app(fixed_settings(tmp_path / "cache"), loader=many_prepared, clock=FixedClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
        screen = app.screen
        assert len(screen.entries) == DAYS
        await pilot.press("a")
        assert len(screen.selected) == DAYS
        await pilot.press("O")  # the newest first; the cursor stays on its object, now the last row
        assert screen.table.cursor_key == screen.shown[-1].job.key == screen.entries[0].job.key
        await pilot.press("g")
        assert screen.table.cursor_key == screen.entries[-1].job.key
        await pilot.press("space")  # unmarks the newest, moves on
        assert len(screen.selected) == DAYS - 1 and screen.table.cursor_row == 1
        await pilot.press("slash", *"1999", "enter")
        assert len(screen.shown) == 365 and screen.table.row_count == 365  # 1999's days, in names and keys
        assert f"{DAYS - 1:,} of {DAYS:,} selected" in str(screen.query_one("#totals").render())


async def test_keys_typed_ahead_go_where_they_were_aimed(tmp_path: Path) -> None:
    """All posted at once, none awaited (a paste, a burst over SSH): `/` then the filter's text, Enter, the
    marks after it; `r` then `n` answers the question `r` asked."""
    from textual import events

    from pgarchiver_tui.tui.screens.confirm import ConfirmScreen

    app = make_app(fixed_settings(tmp_path / "cache"), loader=many_prepared, clock=FixedClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
        screen = app.screen
        for key, character in [("slash", "/"), *zip("1999", "1999", strict=True), ("enter", "\r"), ("a", "a"),
                               ("j", "j"), ("space", " "), ("r", "r")]:
            app.post_message(events.Key(key, character))
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert screen.filter_text == "1999" and len(screen.shown) == 365
        assert len(screen.selected) == 364  # all 365 shown marked, then the second one unmarked
        app.post_message(events.Key("n", "n"))
        await wait_until(pilot, lambda: app.screen is screen)
