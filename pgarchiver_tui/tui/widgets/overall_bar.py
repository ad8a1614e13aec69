"""The whole run: how far by bytes (rows when sizes are unknown), objects, rows, throughput and an ETA.

The arithmetic is `RunProgress`'s (tui/progress.py); this draws it. Given only a count of objects (the
verify panel), it falls back to counting finished objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.app import ComposeResult
from textual.clock import Clock
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar

from pgarchiver_tui.tui.formatting import human_bytes, rate_text
from pgarchiver_tui.tui.progress import Expected, RunProgress, eta_text

STEPS = 1000  # the bar moves by tenths of a percent
RESAMPLE_SECONDS = 1.0  # a stalled run's rate falls even when no event comes


class OverallBar(Vertical):
    DEFAULT_CSS = """
    OverallBar { height: 2; }
    OverallBar ProgressBar Bar { width: 1fr; }
    OverallBar ProgressBar { width: 1fr; }
    OverallBar #overall-stats { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(id="overall")
        self.clock = clock
        self.progress = RunProgress(clock)
        self.keyed = False  # begun with each object's expectations, not just a count
        self.figures: tuple[int, int, int, int, float | None] = (0, 0, 0, 0, None)
        self.ended = ""

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, clock=Clock(get_time=self.clock))
        yield Label("", id="overall-stats")

    def on_mount(self) -> None:
        self.set_interval(RESAMPLE_SECONDS, self.resample)

    def begin(self, expected: Iterable[Expected] | int) -> None:
        """Every object the run will take, or only how many there are."""
        if isinstance(expected, int):
            self.keyed = False
            self.progress.begin(Expected(str(n)) for n in range(expected))
        else:
            self.keyed = True
            self.progress.begin(expected)
        self.ended = ""
        self.query_one(ProgressBar).update(total=STEPS, progress=0)
        self.show(0, len(self.progress.items), 0, 0)

    def resample(self) -> None:
        if self.progress.remaining and not self.ended:
            self.progress.sample()
            self.show(*self.figures)

    def end(self, how: str) -> None:
        """The run is over (`how`: finished, cancelled …): no ETA any more."""
        self.ended = how

    def show(self, done: int, jobs: int, rows: int, size: int, seconds: float | None = None) -> None:
        """`done` of `jobs` objects finished, `rows` and `size` bytes read so far; `seconds`: the run's own
        duration once it is known, so the figures match the summary."""
        self.figures = (done, jobs, rows, size, seconds)
        progress = self.progress
        if not self.keyed:  # only a count: finished objects are the measure
            for n in range(done):
                progress.finished(str(n), "done")
        self.query_one(ProgressBar).update(progress=round(progress.fraction * STEPS))
        elapsed = seconds if seconds is not None else self.clock() - progress.started
        skipped = progress.count("skipped")
        objects = f"{done}/{jobs} objects" + (f" ({skipped} skipped)" if skipped else "")
        parts = [objects, f"{rows:,} rows", f"{human_bytes(size)} read", rate_text(size, elapsed)]
        if self.ended:
            parts.append(self.ended)
        else:
            parts.append(eta_text(progress.eta_seconds()))
        self.query_one("#overall-stats", Label).update(" · ".join(parts))
