"""The run screen on real runs: workers, results, summary, cancel, retry, leaving mid-run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import psycopg
from textual.widgets import RichLog

from pgarchiver_tui.core.events import Outcome
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui.screens.confirm import ConfirmScreen
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen
from pgarchiver_tui.tui.screens.run import RunScreen
from pgarchiver_tui.tui.widgets.results_table import ResultsTable
from pgarchiver_tui.tui.widgets.run_summary import RunSummary
from pgarchiver_tui.tui.widgets.worker_bar import WorkerBar
from tests.tui.support import make_app, wait_until


async def start_run(pilot, app, keys=("a", "r", "y"), before=lambda: None) -> RunScreen:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
    before()
    await pilot.press(*keys)
    assert isinstance(app.screen, RunScreen)
    return app.screen


def log_text(screen: RunScreen) -> str:
    return "\n".join(strip.text for strip in screen.query_one(RichLog).lines)


async def test_archives_to_s3_with_two_workers_and_shows_the_summary(tui_settings: Settings, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    settings = replace(tui_settings, local_dir=None, s3_bucket=s3_bucket.name, s3_endpoint=s3_bucket.endpoint,
                       s3_region="us-east-1")
    app = make_app(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        run = await start_run(pilot, app)
        assert len(run.query(WorkerBar)) == 2
        await wait_until(pilot, lambda: run.report is not None)
        assert run.report.count(Outcome.ARCHIVED) == 5  # type: ignore[union-attr]
        summary = str(run.query_one(RunSummary).render())
        assert "5 archived, 0 skipped, 0 failed, 0 cancelled" in summary and "1,500 rows" in summary
        assert run.query_one(ResultsTable).row_count == 5
        assert "archived public/events/2024/01/events-2024-01-05.jsonl.zst: 300 rows" in log_text(run)
        assert not run.query_one("#workers").display
        listed = s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name)["Contents"]
        assert len([o for o in listed if o["Key"].endswith(".jsonl.zst")]) == 5
        await pilot.press("ctrl+q")
    assert app.return_code == 0


async def test_rerun_skips_what_is_archived(tui_settings: Settings) -> None:
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        run = await start_run(pilot, app)
        await wait_until(pilot, lambda: run.report is not None)
        await pilot.press("escape", "a", "r", "y")
        again = app.screen
        assert isinstance(again, RunScreen) and again is not run
        await wait_until(pilot, lambda: again.report is not None)
        assert again.report.count(Outcome.SKIPPED) == 5  # type: ignore[union-attr]
        assert "already archived" in log_text(again)


LOCK_FIRST_PARTITION = "LOCK TABLE events_20240101 IN ACCESS EXCLUSIVE MODE"


async def stuck_run(pilot, app, blocker: psycopg.Connection) -> RunScreen:  # type: ignore[no-untyped-def]
    """A run whose first COPY waits on a lock held by `blocker`: surely still going when cancelled."""
    run = await start_run(pilot, app, before=lambda: blocker.execute(LOCK_FIRST_PARTITION))
    await wait_until(pilot, lambda: run.query_one(WorkerBar).job_label == "events-2024-01-01")
    return run


async def test_cancel_asks_first_then_stops_the_run_cleanly(tui_settings: Settings) -> None:
    app = make_app(replace(tui_settings, workers=1))
    with psycopg.connect(tui_settings.dsn) as blocker:
        async with app.run_test(size=(80, 24)) as pilot:
            run = await stuck_run(pilot, app, blocker)
            await pilot.press("x")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            assert app.screen is run and run.running
            await pilot.press("x", "y")
            await wait_until(pilot, lambda: run.report is not None)
            finished = run.report
            assert finished.cancelled and finished.count(Outcome.CANCELLED) == 5  # type: ignore[union-attr]
            assert "Interrupted" in str(run.query_one(RunSummary).render())
            await pilot.press("ctrl+q")
    assert app.return_code == 130
    assert not list(Path(tui_settings.local_dir).rglob("*.zst"))


async def test_quitting_mid_run_cancels_first(tui_settings: Settings) -> None:
    app = make_app(replace(tui_settings, workers=1))
    with psycopg.connect(tui_settings.dsn) as blocker:
        async with app.run_test(size=(80, 24)) as pilot:
            await stuck_run(pilot, app, blocker)
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await wait_until(pilot, lambda: app.return_code is not None)
    assert app.return_code == 130


def rename(dsn: str, old: str, new: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")


async def test_failures_stand_out_and_can_be_retried(tui_settings: Settings) -> None:
    # a partition renamed away after discovery makes its COPY fail for real; renamed back, the retry works
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        run = await start_run(pilot, app, before=lambda: rename(tui_settings.dsn, "events_20240103", "gone"))
        await wait_until(pilot, lambda: run.report is not None)
        finished = run.report
        assert [f.job.label for f in finished.failures] == ["events-2024-01-03"]  # type: ignore[union-attr]
        summary = run.query_one(RunSummary)
        assert summary.has_class("-failed") and "press r to retry" in str(summary.render())
        assert "events-2024-01-03 [database]" in str(summary.render())
        rename(tui_settings.dsn, "gone", "events_20240103")
        await pilot.press("r")
        await wait_until(pilot, lambda: run.report is not None and run.report is not finished)
        assert run.report.count(Outcome.ARCHIVED) == 1 and not run.report.failures  # type: ignore[union-attr]
        assert run.query_one(ResultsTable).row_count == 1
        await pilot.press("ctrl+q")
    assert app.return_code == 0
