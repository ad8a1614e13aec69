"""One engine worker: what it archives, at which stage, how far, how fast — in one line of 80 columns.

Counts are short (`1.2M rows`, `108.3 MB`) so that the line fits beside the bar; whatever still does not fit
ends in an ellipsis rather than being cut mid-number.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.clock import Clock
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from pgarchiver_tui.core.events import JobProgress, JobStarted
from pgarchiver_tui.tui.formatting import human_bytes, rate_text, short_count

IDLE_TOTAL = 100  # an idle worker shows an empty bar, not an animated one


class WorkerBar(Horizontal):
    DEFAULT_CSS = """
    WorkerBar { height: 1; }
    WorkerBar .worker-name { width: 22; text-wrap: nowrap; text-overflow: ellipsis; }
    WorkerBar ProgressBar { width: 11; }
    WorkerBar ProgressBar Bar { width: 10; }
    WorkerBar .worker-stats { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, worker: int, clock: Callable[[], float]) -> None:
        super().__init__(id=f"worker-{worker}")
        self.worker = worker
        self.clock = clock
        self.job_label = self.job_key = ""
        self.stage = "idle"

    def compose(self) -> ComposeResult:
        yield Label(f"w{self.worker} idle", classes="worker-name")
        yield ProgressBar(total=IDLE_TOTAL, show_eta=False, show_percentage=False,
                          clock=Clock(get_time=self.clock))
        yield Label("", classes="worker-stats")

    def started(self, event: JobStarted) -> None:
        self.job_label, self.job_key, self.stage = event.job.label, event.job.key, "connecting"
        self.query_one(".worker-name", Label).update(f"w{self.worker} {self.job_label}")
        self.query_one(ProgressBar).update(total=max(event.job.estimated_rows, 1), progress=0)
        self.query_one(".worker-stats", Label).update("connecting")

    def progressed(self, event: JobProgress) -> None:
        self.stage = event.stage.value
        bar = self.query_one(ProgressBar)
        if bar.total is not None and event.rows > bar.total:
            bar.update(total=event.rows)  # statistics underestimated the partition
        bar.update(progress=event.rows)
        total = int(bar.total or 0)
        share = f"{event.rows * 100 // total:>3}%" if total else "   "
        self.query_one(".worker-stats", Label).update(
            f"{self.stage:<9} {share} {short_count(event.rows)} rows {human_bytes(event.bytes_in)} "
            f"{rate_text(event.bytes_in, event.seconds)}")

    def idle(self) -> None:
        self.job_label, self.job_key, self.stage = "", "", "idle"
        self.query_one(".worker-name", Label).update(f"w{self.worker} idle")
        self.query_one(ProgressBar).update(total=IDLE_TOTAL, progress=0)
        self.query_one(".worker-stats", Label).update("")
