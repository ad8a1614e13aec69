"""Each screen and dialog in a fixed state, from fixed data and a fixed clock: for snapshots and screenshots."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

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
from pgarchiver_tui.tui.event_buffer import EventBuffer
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen
from pgarchiver_tui.tui.screens.restore import RestoreScreen
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


async def connection_job(pilot: Pilot) -> None:
    """The job tab with a date that is no date: the field says so under itself."""
    await pilot.pause()
    await pilot.press("escape", "3", "tab", "tab", *"2024-13-01", "tab")
    await pilot.pause()


async def partitions(pilot: Pilot) -> None:
    await partitions_ready(pilot)
    await pilot.press("j", "j", "j", "j", "space", "shift+down", "shift+down", "j")


async def partition_detail(pilot: Pilot) -> None:
    await partitions_ready(pilot)
    await pilot.press("j", "j", "j", "enter")
    await pilot.pause()


async def confirm(pilot: Pilot) -> None:
    await partitions(pilot)
    await pilot.press("r")


async def run_screen(pilot: Pilot, finish: bool) -> RunScreen:
    screen = await partitions_ready(pilot)
    app = pilot.app
    assert screen.prepared is not None
    jobs = screen.prepared.plan.jobs[4:9]
    run = RunScreen(screen.prepared, jobs, dry_run=False, autostart=False)
    await app.push_screen(run)
    run.begin(jobs)
    run.running = True
    clock: FixedClock = app.clock  # type: ignore[attr-defined]
    url = screen.prepared.storage.url
    run.apply([RunStarted(5, 2, 240_000, url, False), Notice("range widened to whole days", "info"),
               JobStarted(1, jobs[0]), JobStarted(2, jobs[1])])
    clock.advance(3)
    run.apply([
        JobResult(jobs[2], Outcome.SKIPPED, None, reason="already archived (cache and destination agree)"),
        JobProgress(1, jobs[0], Stage.READING, 10_000, 3_000_000, 350_000, 1.0),
        JobProgress(2, jobs[1], Stage.READING, 20_000, 6_000_000, 700_000, 2.0),
    ])
    clock.advance(3)
    run.apply([
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
    return run


async def run_live(pilot: Pilot) -> None:
    await run_screen(pilot, finish=False)


async def run_summary(pilot: Pilot) -> None:
    await run_screen(pilot, finish=True)


async def cancel_confirm(pilot: Pilot) -> None:
    await run_screen(pilot, finish=False)
    await pilot.press("x")
    await pilot.pause()


async def cache(pilot: Pilot) -> None:
    await partitions_ready(pilot)
    await pilot.press("f3")
    await wait_until(pilot, lambda: getattr(pilot.app.screen, "loaded", False))
    await pilot.pause()


async def record_detail(pilot: Pilot) -> None:
    await cache(pilot)
    await pilot.press("j", "enter")
    await pilot.pause()


async def restore_dialog(pilot: Pilot) -> None:
    await cache(pilot)
    await pilot.press("space", "space", "R")
    await pilot.pause()


async def restore_run(pilot: Pilot) -> None:
    """A restore of three objects: one restored, one on its way, one failed."""
    await partitions_ready(pilot)
    app = pilot.app
    prepared = app.screen.prepared  # type: ignore[attr-defined]
    jobs = prepared.plan.jobs[:3]
    objects = [SimpleNamespace(key=job.key, rows=40_000 + n * 1_250, bytes_out=1_500_000 + n * 1_000)
               for n, job in enumerate(jobs)]
    restore = SimpleNamespace(items=objects, storage=prepared.storage, cancel=lambda: None, run=lambda: None,
                              options=SimpleNamespace(workers=2, dry_run=False, destination=prepared.storage.url),
                              handler=SimpleNamespace(options=SimpleNamespace(qualified="public.events_back")))
    buffer = EventBuffer()
    screen = RestoreScreen(restore, buffer)  # type: ignore[arg-type]
    await app.push_screen(screen)
    await pilot.pause()
    screen.running = True
    screen.query_one("#workers").display = True
    clock: FixedClock = app.clock  # type: ignore[attr-defined]
    clock.advance(4)
    screen.apply([JobStarted(1, jobs[0]), JobStarted(2, jobs[1]),
                  JobResult(jobs[2], Outcome.FAILED, 2, reason="public.events_back already holds rows in "
                            "[2024-01-03, 2024-01-04) that no recorded restore put there", category="integrity"),
                  JobProgress(1, jobs[0], Stage.READING, 30_000, 9_000_000, 1_100_000, 3.0),
                  JobResult(jobs[1], Outcome.RESTORED, 2, rows=41_250)])
    await pilot.pause()


async def help_screen(pilot: Pilot) -> None:
    await partitions_ready(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


async def save_profile(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.press("ctrl+s", *"prod-events")
    await pilot.pause()


async def load_profile(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.press("ctrl+l")
    await pilot.pause()


SCENES: dict[str, tuple[str, Scene]] = {
    # name: (the screen the app opens on, what to do before the picture)
    "connection": ("connection", connection),
    "connection-job": ("connection", connection_job),
    "save-profile": ("connection", save_profile),
    "load-profile": ("connection", load_profile),
    "partitions": ("partitions", partitions),
    "partition-detail": ("partitions", partition_detail),
    "confirm": ("partitions", confirm),
    "run": ("partitions", run_live),
    "cancel": ("partitions", cancel_confirm),
    "summary": ("partitions", run_summary),
    "cache": ("partitions", cache),
    "record-detail": ("partitions", record_detail),
    "restore": ("partitions", restore_dialog),
    "restore-run": ("partitions", restore_run),
    "help": ("partitions", help_screen),
}


def scene_config() -> Path:
    """A config file with two profiles at a path that is the same on every run (the dialogs show it)."""
    config = Path(tempfile.gettempdir()) / "pgarchiver-tui-scenes" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    scratch = config.with_name(f"config.{os.getpid()}.toml")
    scratch.write_text('[profiles.prod-events]\ntable = "events"\n\n[profiles.staging]\ntable = "events"\n')
    os.replace(scratch, config)  # whole or not at all, should two test runs write it at once
    return config


def scene_app(name: str, cache_dir: Path) -> ArchiverApp:
    start, _ = SCENES[name]
    config = scene_config()
    return make_app(fixed_settings(cache_dir), loader=fixed_prepared, clock=FixedClock(), start_screen=start,
                    config_path=config)
