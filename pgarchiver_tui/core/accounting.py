"""Where every row of the range went: archived (in which object) or not, and why. Pure data and its text.

Filled by commands/archive/accounting.py from discovery, the plan, a census of the rows no object reads, and
the run's results; rendered in the run's summary line, its warnings and the `accounting` section of --json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pgarchiver_tui.core.periods import Period

# why rows are not archived
OUTSIDE_DATED = "outside-dated-partitions"  # in a default partition or the parent, without --date-column
UNRECOGNISED_CHILD = "unrecognised-child"  # in a child nothing dates, without --date-column
NULL_DATE = "null-date"  # the date column is NULL: no period holds them
OUTSIDE_BOUNDS = "outside-bounds"  # dated outside their partition's own bounds and outside what was read of it
STILL_OPEN = "still-open"  # in a period left alone because it is still open
NOT_WRITTEN = "not-written"  # their object failed or was cancelled


def rows_text(rows: int) -> str:
    return f"{rows:,} row" if rows == 1 else f"{rows:,} rows"


@dataclass(frozen=True)
class Placed:
    """Rows of the range in one object."""

    key: str
    rows: int
    when: str  # now | before (already archived, skipped) | dry-run (would be)


@dataclass(frozen=True)
class Shortfall:
    """Rows of the range that are not archived, and why."""

    reason: str
    relation: str  # schema.name, or the object's key for NOT_WRITTEN
    rows: int | None  # None: not counted (an object that failed or was cancelled)
    message: str  # one line: how many, where, why, and what to do


@dataclass
class TableAccount:
    table: str  # schema.table
    range: Period  # the widened range: whole output periods
    date_column: str | None  # what dated the rows counted here (--date-column, or the catalog's key)
    placed: list[Placed] = field(default_factory=list)
    shortfalls: list[Shortfall] = field(default_factory=list)

    def archived(self, when: str | None = None) -> int:
        return sum(p.rows for p in self.placed if when is None or p.when == when)

    @property
    def not_archived(self) -> int:
        return sum(s.rows or 0 for s in self.shortfalls)

    @property
    def complete(self) -> bool:
        """Every row of the range is counted: no object's rows are unknown."""
        return all(s.rows is not None for s in self.shortfalls)

    @property
    def rows_in_range(self) -> int | None:
        return self.archived() + self.not_archived if self.complete else None

    @property
    def warnings(self) -> list[Shortfall]:
        """The counted rows not archived: one warning line each (objects not written have their own lines)."""
        return [s for s in self.shortfalls if s.rows]

    def summary(self) -> str:
        """One clause for the run's summary line."""
        parts = []
        if self.archived("now") or not self.placed:
            parts.append(f"{self.archived('now'):,} archived now")
        if self.archived("before"):
            parts.append(f"{self.archived('before'):,} archived before")
        if self.archived("dry-run"):
            parts.append(f"{self.archived('dry-run'):,} would be archived")
        counted = [s for s in self.shortfalls if s.rows]
        if counted:
            parts.append(f"{self.not_archived:,} NOT archived")
        unknown = sum(s.rows is None for s in self.shortfalls)
        total = f"{self.rows_in_range:,}" if self.rows_in_range is not None else "unknown"
        tail = f" (and the rows of {unknown} object(s) not written)" if unknown else ""
        return f"rows in {self.table} {self.range}: {total} = {' + '.join(parts)}{tail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table, "range_start": self.range.start.isoformat(),
            "range_end": self.range.end.isoformat(), "date_column": self.date_column,
            "rows_in_range": self.rows_in_range, "archived": self.archived(),
            "archived_now": self.archived("now"), "archived_before": self.archived("before"),
            "would_archive": self.archived("dry-run"), "not_archived": self.not_archived,
            "objects": [{"key": p.key, "rows": p.rows, "when": p.when} for p in self.placed],
            "not_archived_rows": [{"reason": s.reason, "relation": s.relation, "rows": s.rows,
                                   "message": s.message} for s in self.shortfalls],
        }
