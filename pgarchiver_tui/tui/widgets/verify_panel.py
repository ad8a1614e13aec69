"""Verifying chosen objects from a screen: a thread worker, its progress bar, each object's outcome as a message.

The run itself is the core's (`commands.verify.VerifySelection`); the screen that holds the panel draws the
outcomes in its own table (`Checked`) and learns when it is over (`Done`).
"""

from __future__ import annotations

from collections.abc import Collection

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label
from textual.worker import Worker, WorkerState

from pgarchiver_tui.commands.verify import VerifyGroup, VerifySelection
from pgarchiver_tui.core.events import JobProgress, JobResult, JobStarted, Notice, Outcome, RunReport
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.render.live_state import LiveState
from pgarchiver_tui.tui.event_buffer import EventBuffer
from pgarchiver_tui.tui.widgets.overall_bar import OverallBar

REDRAW_SECONDS = 0.25


def check_status(check: JobResult) -> tuple[str, str]:
    """A verify outcome as a table's status cell: (text, style)."""
    if check.outcome is Outcome.CANCELLED:
        return "cancelled", "yellow"
    return ("verified", "green") if check.ok else ("problem", "bold red")


class VerifyPanel(Vertical):
    DEFAULT_CSS = """
    VerifyPanel { height: auto; display: none; }
    VerifyPanel.-running { display: block; }
    VerifyPanel #verify-line { padding: 0 1; height: 1; }
    """

    class Checked(Message):
        def __init__(self, check: JobResult) -> None:
            super().__init__()
            self.check = check

    class Done(Message):
        def __init__(self, reports: list[RunReport], error: str = "") -> None:
            super().__init__()
            self.reports, self.error = reports, error

    def __init__(self, settings: Settings) -> None:
        super().__init__(id="verify-panel")
        self.settings = settings
        self.buffer = EventBuffer()
        self.current: VerifySelection | None = None
        self.total = self.done = self.rows = self.bytes = 0
        self.live: dict[int, JobProgress] = {}
        self.reports: list[RunReport] = []

    def compose(self) -> ComposeResult:
        yield OverallBar(self.app.clock)  # type: ignore[attr-defined]
        yield Label("", id="verify-line")

    def on_mount(self) -> None:
        self.set_interval(REDRAW_SECONDS, self.flush)

    @property
    def running(self) -> bool:
        return self.has_class("-running")

    def start(self, groups: Collection[VerifyGroup]) -> None:
        emit = LiveState("verify", self.settings.cache_dir).tee(self.buffer.put)  # for the web viewer
        self.current = VerifySelection(self.settings, groups, emit)
        self.total = self.current.objects
        self.done = self.rows = self.bytes = 0
        self.reports = []
        self.add_class("-running")
        self.query_one(OverallBar).begin(self.total)
        self.query_one("#verify-line", Label).update(f"verifying {self.total} object(s) … (Escape cancels)")
        self.execute(self.current)

    def cancel(self) -> None:
        if self.current is not None:
            self.current.cancel()

    @work(thread=True, group="verify", exit_on_error=False)
    def execute(self, selection: VerifySelection) -> None:
        selection.run()  # each table's run emits its report last

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "verify" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.flush()
        self.remove_class("-running")
        error = str(event.worker.error) if event.state is WorkerState.ERROR else ""
        self.post_message(self.Done(self.reports, error))

    def flush(self) -> None:
        events = self.buffer.drain()
        if not events:
            return
        line = self.query_one("#verify-line", Label)
        for event in events:
            if isinstance(event, JobResult):
                self.done += event.kind == "object"
                self.rows += event.rows
                self.bytes += event.bytes_out
                self.live = {w: p for w, p in self.live.items() if p.job.key != event.key}
                self.post_message(self.Checked(event))
            elif isinstance(event, JobProgress):
                self.live[event.worker] = event
            elif isinstance(event, JobStarted):
                line.update(f"verifying {escape(event.job.label)} … (Escape cancels)")
            elif isinstance(event, Notice):
                self.notify(event.message, title="Verify", timeout=6)
            elif isinstance(event, RunReport):
                self.reports.append(event)
                self.live.clear()
        live_rows = sum(p.rows for p in self.live.values())
        live_bytes = sum(p.bytes_out for p in self.live.values())
        self.query_one(OverallBar).show(self.done, self.total, self.rows + live_rows, self.bytes + live_bytes)


def notify_verified(screen: Widget, done: VerifyPanel.Done) -> None:
    """The end of a verify, said once: how many objects were proven, how many have problems."""
    if done.error:
        screen.notify(done.error, title="Verify failed", severity="error", timeout=10)
        return
    checks = [c for report in done.reports for c in report.results if c.kind == "object"]
    bad = sum(c.outcome is Outcome.FAILED for c in checks)
    cancelled = sum(c.outcome is Outcome.CANCELLED for c in checks)
    text = f"{len(checks) - bad - cancelled} ok, {bad} with problems" + (f", {cancelled} cancelled" if cancelled else "")
    screen.notify(text, title=f"Verified {len(checks)} object(s)", severity="error" if bad else "information",
                  timeout=8)
