"""Each screen in a fixed state, from fixed data and a fixed clock: for snapshots and screenshots."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from pgarchiver_tui.core.events import (
    JobProgress,
    JobResult,
    JobStarted,
    Notice,
    Outcome,
    RunFinished,
    RunStarted,
    Stage,
)
from pgarchiver_tui.tui.app import ArchiverApp
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen
from pgarchiver_tui.tui.screens.run import RunScreen
from tests.tui.support import FixedClock, fixed_prepared, fixed_settings, make_app, wait_until

Scene = Callable[[Pilot], Awaitable[None]]


async def partitions_ready(pilot: Pilot) -> PartitionsScreen:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared is not None)
    assert isinstance(app.screen, PartitionsScreen)
    return app.screen


async def connection(pilot: Pilot) -> None:
    await pilot.pause()


async def partitions(pilot: Pilot) -> None:
    await partitions_ready(pilot)
    await pilot.press("down", "down", "down", "down", "space", "shift+down", "shift+down", "down")


async def confirm(pilot: Pilot) -> None:
    await partitions(pilot)
    await pilot.press("r")


async def run_screen(pilot: Pilot, finish: bool) -> None:
    screen = await partitions_ready(pilot)
    app = pilot.app
    assert screen.prepared is not None
    jobs = screen.prepared.plan.jobs[4:9]
    run = RunScreen(screen.prepared, jobs, dry_run=False, autostart=False)
    await app.push_screen(run)
    run.begin(jobs)
    clock: FixedClock = app.clock  # type: ignore[attr-defined]
    url = screen.prepared.storage.url
    clock.advance(6)
    run.apply([
        RunStarted(5, 2, 240_000, url, False), Notice("range widened to whole days", "info"),
        JobStarted(1, jobs[0]), JobStarted(2, jobs[1]),
        JobResult(jobs[2], Outcome.SKIPPED, None, reason="already archived (cache and destination agree)"),
        JobProgress(1, jobs[0], Stage.READING, 21_000, 6_300_000, 700_000, 2.0),
        JobProgress(2, jobs[1], Stage.UPLOADING, 47_500, 14_100_000, 1_650_000, 4.0),
    ])
    if finish:
        results = [
            JobResult(jobs[0], Outcome.ARCHIVED, 1, rows=46_250, bytes_in=13_800_000, bytes_out=1_610_000,
                      seconds=4.2),
            JobResult(jobs[1], Outcome.ARCHIVED, 2, rows=47_500, bytes_in=14_100_000, bytes_out=1_650_000,
                      seconds=4.4),
            JobResult(jobs[3], Outcome.FAILED, 1, reason="connection reset by peer while uploading part 3",
                      category="storage", seconds=1.5),
            JobResult(jobs[4], Outcome.ARCHIVED, 2, rows=50_000, bytes_in=14_900_000, bytes_out=1_720_000,
                      seconds=4.6),
        ]
        skipped = JobResult(jobs[2], Outcome.SKIPPED, None, reason="already archived (cache and destination agree)")
        clock.advance(6)
        run.apply([*results, RunFinished([results[0], results[1], skipped, results[2], results[3]], [], 12.0)])
    await pilot.pause()


async def run_live(pilot: Pilot) -> None:
    await run_screen(pilot, finish=False)


async def run_summary(pilot: Pilot) -> None:
    await run_screen(pilot, finish=True)


async def cache(pilot: Pilot) -> None:
    await partitions_ready(pilot)
    await pilot.press("f3")
    await pilot.pause()


async def restore_dialog(pilot: Pilot) -> None:
    await cache(pilot)
    await pilot.press("space", "space", "R")
    await pilot.pause()


async def help_screen(pilot: Pilot) -> None:
    await partitions_ready(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


SCENES: dict[str, tuple[str, Scene]] = {
    # name: (the screen the app opens on, what to do before the picture)
    "connection": ("connection", connection),
    "partitions": ("partitions", partitions),
    "confirm": ("partitions", confirm),
    "run": ("partitions", run_live),
    "summary": ("partitions", run_summary),
    "cache": ("partitions", cache),
    "restore": ("partitions", restore_dialog),
    "help": ("partitions", help_screen),
}


def scene_app(name: str, cache_dir: Path) -> ArchiverApp:
    start, _ = SCENES[name]
    return make_app(fixed_settings(cache_dir), loader=fixed_prepared, clock=FixedClock(), start_screen=start)
