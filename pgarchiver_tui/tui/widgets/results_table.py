"""Recent results of a run: done, skipped with reason, failed with reason — the newest at the bottom."""

from __future__ import annotations

from rich.text import Text

from pgarchiver_tui.core.events import JobResult, Outcome
from pgarchiver_tui.tui.formatting import human_bytes
from pgarchiver_tui.tui.widgets.row_table import Cell, Column, RowTable
from pgarchiver_tui.tui.wording import for_screen

STYLES = {Outcome.ARCHIVED: "green", Outcome.VERIFIED: "green", Outcome.RESTORED: "green", Outcome.DRY_RUN: "cyan",
          Outcome.SKIPPED: "dim", Outcome.FAILED: "bold red", Outcome.CANCELLED: "yellow"}
COLUMNS = (
    Column("outcome", "result", 9, min_width=8),
    Column("object", "object", 22, min_width=14, priority=1),
    Column("rows", "rows", 9, min_width=7, priority=3, align="right"),
    Column("stored", "stored", 9, min_width=8, priority=4, align="right"),
    Column("reason", "reason", 40, min_width=16, priority=2, flex=True),
)


class ResultsTable(RowTable):
    def __init__(self) -> None:
        super().__init__(COLUMNS, self.row_cells, id="results", openable=False)
        self.results: dict[str, tuple[Cell, ...]] = {}

    def row_cells(self, key: str) -> tuple[Cell, ...]:
        return self.results[key]

    def add_result(self, result: JobResult) -> None:
        reason = result.reason if result.outcome is not Outcome.ARCHIVED else f"{result.seconds:.1f}s"
        if result.notes:
            reason = "; ".join((reason, *result.notes))
        if result.category and result.outcome is Outcome.FAILED:
            reason = f"[{result.category}] {reason}"
        self.add_outcome(Text(result.outcome.value, style=STYLES[result.outcome]), result.job.label, result.rows,
                         human_bytes(result.bytes_out), reason)

    def add_outcome(self, outcome: Text, label: str, rows: int, stored: str, reason: str) -> None:
        """One finished object of any kind of run (archive, restore); the cursor follows the newest."""
        key = str(len(self.results))
        reason = for_screen(reason)
        moved = bool(rows) or stored not in ("", "0 B")  # a skip or a failure moved nothing: say so, not 0
        self.results[key] = ((outcome.plain, str(outcome.style)), label, f"{rows:,}" if moved else "—",
                             stored if moved else "—", (reason, "red") if "failed" in outcome.plain else reason)
        follow = self.cursor_row >= len(self.keys) - 1
        self.append([key])
        if follow:
            self.cursor_row = len(self.keys) - 1

    def clear(self) -> None:
        self.results.clear()
        self.show([])  # a new list: append() grows the table's own
