"""Watching a restore: the run screen's bars, log, results and summary, fed by the restore run's events."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from pgarchiver_tui.commands.restore import RestoreRun
from pgarchiver_tui.core.events import JobProgress, JobResult, RunReport
from pgarchiver_tui.tui.event_buffer import EventBuffer
from pgarchiver_tui.tui.formatting import human_bytes
from pgarchiver_tui.tui.progress import Expected
from pgarchiver_tui.tui.screens.run import WatchScreen


class RestoreScreen(WatchScreen):
    TITLE = "Restore"
    doing = "Restoring"
    failure_hint = "a rerun restores what failed and skips what is restored"
    cancel_text = ("Running COPYs are cancelled; each object restores in one transaction,\n"
                   "so an object cut short leaves nothing behind. Objects done stay restored.")

    def __init__(self, restore_run: RestoreRun, buffer: EventBuffer) -> None:
        """`buffer`: where `restore_run` emits its events (given to prepare_restore)."""
        options = restore_run.options
        super().__init__(len(restore_run.items), options.workers, options.destination, options.dry_run, buffer)
        self.restore_run = restore_run
        self.target = restore_run.handler.options.qualified  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        super().on_mount()
        self.begin([Expected(o.key, o.rows or 0, o.bytes_out or 0) for o in self.restore_run.items])
        self.query_one("#run-title", Static).update(
            f"[b]{'Dry run of restoring' if self.dry_run else 'Restoring'} {self.total_jobs} object(s)[/b] "
            f"into {escape(self.target)}")
        self.active = self.restore_run
        self.execute(self.restore_run.run)

    def progress_size(self, event: JobProgress) -> int:
        return event.bytes_out  # what was read of the stored object, as its stored size is known

    def progress_size_of(self, result: JobResult) -> int:
        return result.bytes_out

    def run_finished(self, report: RunReport) -> None:
        super().run_finished(report)
        self.log_line(f"read {human_bytes(sum(o.bytes_out or 0 for o in self.restore_run.items))} from "
                      f"{escape(self.destination)} into {escape(self.target)}")
