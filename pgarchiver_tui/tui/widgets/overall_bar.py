"""The whole run: objects done of total, rows, bytes, throughput and ETA."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.clock import Clock
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar

from pgarchiver_tui.tui.formatting import human_bytes, rate_text


class OverallBar(Vertical):
    DEFAULT_CSS = """
    OverallBar { height: 2; }
    OverallBar ProgressBar Bar { width: 1fr; }
    OverallBar ProgressBar { width: 1fr; }
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(id="overall")
        self.clock = clock
        self.started = clock()

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, clock=Clock(get_time=self.clock))
        yield Label("", id="overall-stats")

    def begin(self, jobs: int) -> None:
        self.started = self.clock()
        bar = self.query_one(ProgressBar)
        bar.update(total=max(jobs, 1), progress=0)
        self.show(0, jobs, 0, 0)

    def show(self, done: int, jobs: int, rows: int, size: int, seconds: float | None = None) -> None:
        """`seconds`: the run's own duration once it is known, so the figures match the summary."""
        self.query_one(ProgressBar).update(progress=done)
        elapsed = seconds if seconds is not None else self.clock() - self.started
        self.query_one("#overall-stats", Label).update(
            f"{done}/{jobs} objects · {rows:,} rows · {human_bytes(size)} read · {rate_text(size, elapsed)}")
