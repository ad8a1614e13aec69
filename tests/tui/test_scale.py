"""Responsive with 10,000 partitions: loading, selecting all, sorting and filtering stay quick."""

from __future__ import annotations

import time
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


async def test_ten_thousand_partitions_stay_responsive(tmp_path: Path) -> None:
    app = make_app(fixed_settings(tmp_path / "cache"), loader=many_prepared, clock=FixedClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
        screen = app.screen
        assert len(screen.entries) == DAYS
        for keys in (("a",), ("O",), ("space",), ("slash", *"1999", "enter")):
            started = time.monotonic()
            await pilot.press(*keys)
            await pilot.pause()
            assert time.monotonic() - started < 3.0, f"{keys} took too long"
        assert len(screen.shown) == 366  # 1999's days and 1998-12-31, whose period ends in 1999
        assert f"of {DAYS} selected" in str(screen.query_one("#totals").render())
