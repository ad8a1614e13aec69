"""Recent results of a run: done, skipped with reason, failed with reason."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from pgarchiver_tui.core.events import JobResult, Outcome
from pgarchiver_tui.tui.formatting import human_bytes

STYLES = {Outcome.ARCHIVED: "green", Outcome.VERIFIED: "green", Outcome.RESTORED: "green", Outcome.DRY_RUN: "cyan",
          Outcome.SKIPPED: "dim", Outcome.FAILED: "bold red", Outcome.CANCELLED: "yellow"}


class ResultsTable(DataTable):
    DEFAULT_CSS = """
    ResultsTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(id="results", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        for label, key, width in (("result", "outcome", 9), ("object", "object", 20), ("rows", "rows", 8),
                                  ("stored", "stored", 9), ("reason", "reason", None)):
            self.add_column(label, key=key, width=width)

    def add_result(self, result: JobResult) -> None:
        reason = result.reason if result.outcome is not Outcome.ARCHIVED else f"{result.seconds:.1f}s"
        if result.notes:
            reason = "; ".join((reason, *result.notes))
        if result.category and result.outcome is Outcome.FAILED:
            reason = f"[{result.category}] {reason}"
        self.add_outcome(Text(result.outcome.value, style=STYLES[result.outcome]), result.job.label, result.rows,
                         human_bytes(result.bytes_out), reason)

    def add_outcome(self, outcome: Text, label: str, rows: int, stored: str, reason: str) -> None:
        self.add_row(outcome, Text(label), f"{rows:,}", stored, Text(reason))
        self.move_cursor(row=self.row_count - 1, scroll=True)
