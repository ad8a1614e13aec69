"""Watching a restore: the archive run's bars and log, fed by the restore run's events; its own summary."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.widgets import Static

from pgarchiver_tui.commands.restore import RestoreReport, RestoreResult, RestoreRun
from pgarchiver_tui.core.events import JobProgress
from pgarchiver_tui.tui.event_buffer import EventBuffer
from pgarchiver_tui.tui.formatting import human_bytes, literal
from pgarchiver_tui.tui.progress import Expected
from pgarchiver_tui.tui.screens.run import WatchScreen
from pgarchiver_tui.tui.widgets.results_table import ResultsTable
from pgarchiver_tui.tui.widgets.run_summary import RunSummary
from pgarchiver_tui.tui.widgets.worker_bar import WorkerBar

STYLES = {"restored": "green", "dry-run": "cyan", "skipped": "dim", "failed": "bold red", "cancelled": "yellow"}


class RestoreScreen(WatchScreen):
    TITLE = "Restore"
    doing = "Restoring"
    cancel_text = ("Running COPYs are cancelled; each object restores in one transaction,\n"
                   "so an object cut short leaves nothing behind. Objects done stay restored.")

    def __init__(self, restore_run: RestoreRun, buffer: EventBuffer) -> None:
        """`buffer`: where `restore_run` emits its events (given to prepare_restore)."""
        options = restore_run.options
        super().__init__(len(restore_run.objects), options.workers, restore_run.storage.url, options.dry_run,
                         buffer)
        self.restore_run = restore_run
        self.report: RestoreReport | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self.begin([Expected(o.key, o.rows or 0, o.bytes_out or 0) for o in self.restore_run.objects])
        self.query_one("#run-title", Static).update(
            f"[b]{'Dry run of restoring' if self.dry_run else 'Restoring'} {self.total_jobs} object(s)[/b] "
            f"into {escape(self.restore_run.options.qualified)}")
        self.active = self.restore_run
        self.execute(self.restore_run.run)

    def progress_size(self, event: JobProgress) -> int:
        return event.bytes_out  # what was read of the stored object, as its stored size is known

    def handle_own(self, bars: dict[int, WorkerBar], event: object) -> None:
        if isinstance(event, RestoreResult):
            self.result(bars, event)
        elif isinstance(event, RestoreReport):
            self.finish(event)

    def result(self, bars: dict[int, WorkerBar], result: RestoreResult) -> None:
        self.object_done(bars, result.key, result.rows, 0, {"skipped": "skipped", "cancelled": "cancelled"}.get(
            result.outcome, "done"))
        label = result.key.rsplit("/", 1)[-1].split(".", 1)[0]
        reason = f"[{result.category}] {result.reason}" if result.category else result.reason
        self.query_one(ResultsTable).add_outcome(Text(result.outcome, style=STYLES.get(result.outcome, "")), label,
                                                 result.rows, "", reason)
        style = "red" if result.outcome == "failed" else "yellow" if result.outcome == "cancelled" else ""
        line = f"{result.outcome} {escape(result.key)}: {escape(reason)}"
        self.log_line(f"[{style}]{line}[/{style}]" if style else line)

    def finish(self, report: RestoreReport) -> None:
        self.report = report
        counts = report.summary()
        failures = [r for r in report.results if r.outcome == "failed"]
        head = "Interrupted" if report.cancelled else "Dry run finished" if self.dry_run else "Finished"
        lines = [f"[b]{head}[/b]: {counts['restored']} restored, {counts['skipped']} skipped, "
                 f"[b]{counts['failed']} failed[/b], {counts['cancelled']} cancelled"
                 + (f", {counts['dry-run']} dry run" if counts["dry-run"] else ""),
                 f"{counts['rows']:,} rows into {escape(self.restore_run.options.qualified)} in "
                 f"{report.seconds:.1f}s"]
        for failure in failures[:4]:
            lines.append(f"[red]✗ {literal(failure.key)} {literal(f'[{failure.category}]')}: "
                         f"{literal(failure.reason)}[/red]")
        if len(failures) > 4:
            lines.append(f"[red]… and {len(failures) - 4} more failures (see results)[/red]")
        if failures:
            lines.append("a rerun restores what failed and skips what is restored")
        self.query_one(RunSummary).show_lines(lines, bool(failures))
        self.ended(head, report.seconds, counts["rows"], 0)
        self.log_line(f"read {human_bytes(sum(o.bytes_out or 0 for o in self.restore_run.objects))} from "
                      f"{escape(self.destination)}")
