"""Watching a run: one bar per worker, the whole run's bar, results as they come, the log, the summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, RichLog, Static
from textual.worker import Worker, WorkerState

from pgarchiver_tui.commands.archive.prepare import Prepared
from pgarchiver_tui.core.events import (
    Event,
    JobProgress,
    JobResult,
    JobStarted,
    Notice,
    Outcome,
    RunReport,
    RunStarted,
)
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.render.live_state import LiveState
from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.event_buffer import EventBuffer
from pgarchiver_tui.tui.formatting import human_bytes, rate_text
from pgarchiver_tui.tui.progress import Expected
from pgarchiver_tui.tui.screens.confirm import ConfirmScreen
from pgarchiver_tui.tui.widgets.key_footer import KeyFooter
from pgarchiver_tui.tui.widgets.overall_bar import OverallBar
from pgarchiver_tui.tui.widgets.results_table import ResultsTable
from pgarchiver_tui.tui.widgets.run_summary import RunSummary
from pgarchiver_tui.tui.widgets.worker_bar import WorkerBar
from pgarchiver_tui.tui.wording import for_screen

REDRAW_SECONDS = 0.25  # progress is drawn four times a second, however fast events come
FINISHED = {Outcome.SKIPPED: "skipped", Outcome.CANCELLED: "cancelled"}  # any other outcome: done


def expected_of(jobs: list[Job]) -> list[Expected]:
    """What each object is expected to move: its rows (the planner's estimate) and its size on disk."""
    return [Expected(job.key, job.estimated_rows, sum(part.source.size_bytes for part in job.slices))
            for job in jobs]


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class WatchScreen(Screen[None]):
    """What every run shows alike (archive or restore): a bar per worker, the overall bar, results, the log,
    the summary, cancelling; all from the one event union and report. A subclass starts its run."""

    BINDINGS = keys.ahead([
        Binding("x", "cancel", "Cancel run"),
        Binding("r", "retry", "Retry failed"),
        Binding("escape", "back", "Back"),
        Binding("f3", "app.cache", "Cache", show=False),
    ])
    doing = "Running"  # the title while it runs
    failure_hint = "a rerun does what failed and skips what is done"

    def __init__(self, objects: int, workers: int, destination: str, dry_run: bool,
                 buffer: EventBuffer | None = None) -> None:
        super().__init__()
        self.destination = destination
        self.dry_run = dry_run
        self.buffer = buffer or EventBuffer()
        self.active: Cancellable | None = None
        self.running = False
        self.total_jobs = objects
        self.done = self.done_rows = self.done_bytes = 0
        self.live: dict[int, JobProgress] = {}
        self.worker_count = max(1, min(workers, objects))
        self.report: RunReport | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-title")
        yield OverallBar(self.app.clock)  # type: ignore[attr-defined]
        with Vertical(id="workers"):
            for n in range(1, self.worker_count + 1):
                yield WorkerBar(n, self.app.clock)  # type: ignore[attr-defined]
        yield RunSummary(id="summary")
        yield ResultsTable()
        yield RichLog(id="log", max_lines=2000, wrap=True, markup=True, min_width=20)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_interval(REDRAW_SECONDS, self.flush)

    # -- running -----------------------------------------------------------------------------------------
    def begin(self, expected: list[Expected]) -> None:
        """Ready the widgets for a run of these objects."""
        objects = self.total_jobs = len(expected)
        self.done = self.done_rows = self.done_bytes = 0
        self.live.clear()
        self.running = True
        self.query_one(RunSummary).hide()
        self.query_one("#workers").display = True
        self.query_one(OverallBar).begin(expected)
        what = "Dry run of" if self.dry_run else self.doing
        self.query_one("#run-title", Static).update(
            f"[b]{what} {objects} object(s)[/b] → {escape(self.destination)}")
        self.refresh_bindings()

    @work(thread=True, group="run", exit_on_error=False, description="the run")
    def execute(self, run: Callable[[], object]) -> object:
        return run()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "run":
            return
        if event.state is WorkerState.SUCCESS:
            self.flush()
        elif event.state is WorkerState.ERROR:
            self.flush()
            self.running = False
            self.log_line(f"[red]the run stopped: {escape(str(event.worker.error))}[/red]")
            self.notify(str(event.worker.error), title="Run failed", severity="error")
            self.refresh_bindings()

    def flush(self) -> None:
        events = self.buffer.drain()
        if events:
            self.apply(events)

    def apply(self, events: list[Event]) -> None:
        """Draw a batch of events: only the last progress of each worker matters."""
        bars = {bar.worker: bar for bar in self.query(WorkerBar)}
        latest: dict[int, JobProgress] = {}
        for event in events:
            if isinstance(event, JobProgress):
                latest[event.worker] = event
                continue
            for progress in latest.values():
                self.progressed(bars, progress)
            latest.clear()
            self.handle(bars, event)
        for progress in latest.values():
            self.progressed(bars, progress)
        live_rows = sum(p.rows for p in self.live.values())
        live_bytes = sum(p.bytes_in for p in self.live.values())
        self.query_one(OverallBar).show(self.done, self.total_jobs, self.done_rows + live_rows,
                                        self.done_bytes + live_bytes)

    def progressed(self, bars: dict[int, WorkerBar], event: JobProgress) -> None:
        self.live[event.worker] = event
        self.query_one(OverallBar).progress.progressed(event.job.key, event.rows, self.progress_size(event))
        if event.worker in bars:
            bars[event.worker].progressed(event)

    def progress_size(self, event: JobProgress) -> int:
        """The bytes of an object done so far, in the sense of its expected size (`begin`)."""
        return event.bytes_in

    def progress_size_of(self, result: JobResult) -> int:
        """The bytes of a finished object, in the same sense."""
        return result.bytes_in

    def handle(self, bars: dict[int, WorkerBar], event: Event) -> None:
        if isinstance(event, RunStarted):
            mode = " (dry run: nothing is written)" if event.dry_run else ""
            self.log_line(f"{event.jobs} objects, {event.workers} worker(s) → {escape(event.destination)}{mode}")
        elif isinstance(event, Notice):
            self.log_line(f"[yellow]{escape(event.message)}[/yellow]")
        elif isinstance(event, JobStarted):
            if event.worker in bars:
                bars[event.worker].started(event)
            sources = ", ".join(p.source.qualified for p in event.job.slices) or event.job.key
            self.log_line(f"w{event.worker} {escape(event.job.label)} ← {escape(sources)}")
        elif isinstance(event, JobResult):
            self.result(bars, event)
        elif isinstance(event, RunReport):
            self.run_finished(event)

    def result(self, bars: dict[int, WorkerBar], result: JobResult) -> None:
        self.object_done(bars, result.key, result.rows, self.progress_size_of(result),
                         FINISHED.get(result.outcome, "done"))
        self.query_one(ResultsTable).add_result(result)
        if result.outcome.done:
            self.log_line(f"{result.outcome.value} {escape(result.key)}: {result.rows:,} rows, "
                          f"{human_bytes(result.bytes_in)} → {human_bytes(result.bytes_out)}, "
                          f"{rate_text(result.bytes_in, result.seconds)}")
        elif result.outcome is Outcome.FAILED:
            self.log_line(f"[red]failed {escape(result.key)} {escape(f'[{result.category}]')}: "
                          f"{escape(result.reason)}[/red]")
        else:
            self.log_line(f"{result.outcome.value} {escape(result.key)}: {escape(result.reason)}")

    def run_finished(self, report: RunReport) -> None:
        self.report = report
        self.query_one(RunSummary).show(report, self.failure_hint)
        head = "Interrupted" if report.cancelled else "Dry run finished" if self.dry_run else "Finished"
        overall = self.query_one(OverallBar)
        for result in report.results:  # objects never started end as cancelled without an event of their own
            if overall.progress.items.get(result.key) and result.outcome is Outcome.CANCELLED:
                overall.progress.finished(result.key, "cancelled")
        self.ended(head, report.seconds, report.rows, report.bytes_in)

    def object_done(self, bars: dict[int, WorkerBar], key: str, rows: int, size: int, how: str = "done") -> None:
        """Count one finished object and free the bar of the worker that had it.

        `how`: done (archived, failed, dry run: nothing more to do for it), skipped or cancelled."""
        self.query_one(OverallBar).progress.finished(key, how)
        self.done += how != "cancelled"
        self.done_rows += rows
        self.done_bytes += size
        for worker, progress in list(self.live.items()):
            if progress.job.key == key:
                self.live.pop(worker)
        for bar in bars.values():
            if bar.job_key == key:
                bar.idle()

    def ended(self, head: str, seconds: float, rows: int, size: int) -> None:
        """The run is over: bars away, the overall figures final, the title says how it ended."""
        self.running = False
        self.live.clear()
        self.query_one("#workers").display = False
        overall = self.query_one(OverallBar)
        self.done = overall.progress.count("done", "skipped")
        overall.end(head.lower())
        overall.show(self.done, self.total_jobs, rows, size, seconds)
        self.query_one("#run-title", Static).update(
            f"[b]{head}[/b]: {self.done} of {self.total_jobs} object(s) → {escape(self.destination)}")
        self.log_line(f"[b]{head.lower()}[/b] in {seconds:.1f}s")
        self.refresh_bindings()

    def log_line(self, text: str) -> None:
        self.query_one(RichLog).write(for_screen(text))  # the engine's reasons name flags; here, fields

    # -- keys --------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.running
        if action == "retry":
            return self.can_retry()
        return True

    def can_retry(self) -> bool:
        return False

    def action_retry(self) -> None:
        """Run the failed objects again, where the kind of run can."""

    def action_cancel(self) -> None:
        if not self.running:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.cancel_run()

        self.app.push_screen(ConfirmScreen("Cancel the run?", self.cancel_text, yes="Cancel run",
                                           no="Keep running"), answered)

    cancel_text = "Running queries are cancelled and unfinished uploads removed;\nobjects already archived stay archived."

    def cancel_run(self) -> None:
        if self.active is not None and self.running:
            self.active.cancel()
            self.query_one("#run-title", Static).update("[b]Cancelling …[/b] waiting for the workers to stop")

    def action_back(self) -> None:
        if self.running:
            self.action_cancel()
            return
        self.app.pop_screen()


class RunScreen(WatchScreen):
    TITLE = "Run"
    doing = "Archiving"
    failure_hint = "press [b]r[/b] to retry the failures"

    def __init__(self, prepared: Prepared, jobs: list[Job], dry_run: bool, autostart: bool = True) -> None:
        super().__init__(len(jobs), prepared.options.workers, prepared.storage.url, dry_run)
        self.prepared = prepared
        self.jobs = jobs
        self.autostart = autostart

    def on_mount(self) -> None:
        super().on_mount()
        if self.autostart:
            self.start(self.jobs)

    def start(self, jobs: list[Job]) -> None:
        self.begin(jobs)
        emit = LiveState("archive", self.prepared.settings.cache_dir).tee(self.buffer.put)  # for the web viewer
        archive_run = self.prepared.run(emit, jobs, dry_run=self.dry_run)
        self.active = archive_run
        self.execute(archive_run.run)

    def begin(self, jobs: list[Job]) -> None:  # type: ignore[override]
        self.jobs = jobs
        self.report = None
        super().begin(expected_of(jobs))

    def run_finished(self, report: RunReport) -> None:
        self.app.last_finished = report  # type: ignore[attr-defined]
        super().run_finished(report)

    def can_retry(self) -> bool:
        return bool(self.report and self.report.failures and not self.running)

    def action_retry(self) -> None:
        if self.report and self.report.failures and not self.running:
            failed = [r.job for r in self.report.failures]
            self.log_line(f"[b]retrying {len(failed)} failed object(s)[/b]")
            self.query_one(ResultsTable).clear()
            self.start(failed)
