"""Row accounting of an archive run: every row of the range is archived in a named object, or named as not.

Before the run, `take_census` counts what no object of the plan will read — rows in a default partition or a
child nothing dates without --date-column, rows whose date is NULL, rows dated outside their partition's own
bounds, rows of periods still open. Objects count their own rows exactly, in their own snapshot, while they are
written (the engine checks the server's count); so the census never re-reads what the objects read, and a rerun
that skips everything reads nothing. After the run, `Census.settle` joins both into a TableAccount.

Rows in the range = rows archived (now, before, or in a dry run: per object) + rows not archived (per reason).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from pgarchiver_tui.commands.archive.plan import Plan
from pgarchiver_tui.commands.archive.run import SKIP_EMPTY, SKIP_FOUND, SKIP_RECORDED
from pgarchiver_tui.core.accounting import (
    NOT_WRITTEN,
    NULL_DATE,
    OUTSIDE_BOUNDS,
    OUTSIDE_DATED,
    STILL_OPEN,
    UNRECOGNISED_CHILD,
    Placed,
    Shortfall,
    TableAccount,
    rows_text,
)
from pgarchiver_tui.core.events import JobResult, Outcome
from pgarchiver_tui.core.model import Source, SourceKind
from pgarchiver_tui.core.periods import Period
from pgarchiver_tui.db.connection import scalar
from pgarchiver_tui.db.discovery import Discovery

_WHAT = {
    SourceKind.DEFAULT: "a partition or parent without date bounds",
    SourceKind.PLAIN: "a table without partitions",
    SourceKind.UNRECOGNISED: "a child no CHECK constraint or name dates",
}


@dataclass
class Census:
    """The rows of the range no object of the plan reads, counted before the run."""

    table: str
    range: Period
    date_column: str | None
    shortfalls: list[Shortfall] = field(default_factory=list)

    def settle(self, results: Iterable[JobResult]) -> TableAccount:
        """Where every row went, once the run's results are in."""
        account = TableAccount(self.table, self.range, self.date_column, shortfalls=list(self.shortfalls))
        for result in results:
            key = result.job.key
            if result.outcome is Outcome.ARCHIVED:
                account.placed.append(Placed(key, result.rows, "now"))
            elif result.outcome is Outcome.DRY_RUN:
                account.placed.append(Placed(key, result.rows, "dry-run"))
            elif result.outcome is Outcome.SKIPPED and result.reason == SKIP_EMPTY:
                continue  # an empty window: no row, no object
            elif result.outcome is Outcome.SKIPPED and result.reason in (SKIP_RECORDED, SKIP_FOUND):
                account.placed.append(Placed(key, result.rows, "before"))
            elif result.outcome is Outcome.SKIPPED:  # another run holds or wrote it: that run counts its rows
                account.shortfalls.append(Shortfall(NOT_WRITTEN, key, None, (
                    f"the rows of {key} are not counted by this run: {result.reason}")))
            else:
                what = "failed" if result.outcome is Outcome.FAILED else "was cancelled"
                account.shortfalls.append(Shortfall(NOT_WRITTEN, key, None, (
                    f"the rows of {key} are NOT archived: the object {what}; run again to archive them")))
        return account


def take_census(conn: psycopg.Connection, found: Discovery, plan: Plan, date_column: str | None) -> Census:
    """Count, per relation, the rows of the range that no object of `plan` reads, and say why.

    `date_column` is --date-column; without it the catalog's key (the range partition key, the CHECK
    constraints' column) still tells which rows of an unread default partition lie in the range.
    """
    dating = date_column or found.date_key
    census = Census(f"{found.schema}.{found.table}", plan.widened, dating)
    read: dict[Source, list[Period | None]] = defaultdict(list)
    left_open: dict[Source, list[Period | None]] = defaultdict(list)
    for job in plan.jobs:
        for part in job.slices:
            read[part.source].append(part.window)
    for job in plan.left_open:
        for part in job.slices:
            left_open[part.source].append(part.window)
    for source in found.sources:
        if source.bounds is not None and not source.bounds.overlaps(plan.widened):
            continue  # another range's
        if source in read or source in left_open:
            census.shortfalls += _unread_rows(conn, source, read[source], left_open[source], date_column,
                                              found.date_key)
        else:
            census.shortfalls += _outside(conn, source, plan.widened, found, dating)
    census.shortfalls = [s for s in census.shortfalls if s.rows]
    return census


def _unread_rows(conn: psycopg.Connection, source: Source, windows: list[Period | None],
                 still_open: list[Period | None], date_column: str | None, key: str | None) -> list[Shortfall]:
    """Rows of a source the plan reads, but not all of: NULL dates, dates outside its bounds, open periods."""
    found = []
    relation = sql.Identifier(source.schema, source.name)
    if still_open:
        dated = [window for window in still_open if window is not None]
        where: sql.Composable = _any_window(date_column, dated) \
            if date_column is not None and len(dated) == len(still_open) else sql.SQL("true")  # else: read whole
        rows = _count(conn, relation, where)
        found.append(Shortfall(STILL_OPEN, source.qualified, rows, (
            f"{source.qualified}: {rows_text(rows)} in a period still open NOT archived; a run after it ends "
            "archives them (or --include-current now)")))
    if date_column is None or all(window is None for window in windows + still_open):
        return found  # read whole: every row goes into the object
    column = sql.Identifier(date_column)
    wanted: dict[str, sql.Composable] = {}
    if not (source.kind is SourceKind.NATIVE and date_column == key):  # a range key is never NULL
        wanted[NULL_DATE] = sql.SQL("{} IS NULL").format(column)
    if source.bounds is not None and not (source.checked and date_column == key):
        taken = _any_window(date_column, [w for w in windows + still_open if w is not None])
        inside = _any_window(date_column, [source.bounds])
        wanted[OUTSIDE_BOUNDS] = sql.SQL("{} IS NOT NULL AND NOT ({}) AND NOT ({})").format(column, taken, inside)
    counts = _counts(conn, relation, wanted)
    if NULL_DATE in counts:
        rows = counts[NULL_DATE]
        found.append(Shortfall(NULL_DATE, source.qualified, rows, (
            f"{source.qualified}: {rows_text(rows)} with NULL in {date_column} NOT archived: no period holds "
            "them; give them a date to archive them")))
    if OUTSIDE_BOUNDS in counts:
        rows = counts[OUTSIDE_BOUNDS]
        found.append(Shortfall(OUTSIDE_BOUNDS, source.qualified, rows, (
            f"{source.qualified}: {rows_text(rows)} with {date_column} outside the partition's own bounds "
            f"{source.bounds} and every period read from it NOT archived; move them into the partition of their "
            "date")))
    return found


def _outside(conn: psycopg.Connection, source: Source, widened: Period, found: Discovery,
             dating: str | None) -> list[Shortfall]:
    """Rows of a source without date bounds that no object reads (there is no --date-column)."""
    relation = sql.Identifier(source.schema, source.name)
    where: sql.Composable
    if dating is not None:
        column = sql.Identifier(dating)
        where = sql.SQL("{} IS NULL OR ({})").format(column, _any_window(dating, [widened]))
        which = f"{dating} in the range or NULL"
    else:
        where, which = sql.SQL("true"), "all its rows: nothing says their dates"
    rows = _count(conn, relation, where)
    reason = UNRECOGNISED_CHILD if source.kind is SourceKind.UNRECOGNISED else OUTSIDE_DATED
    what = "the parent table itself" if (source.schema, source.name) == (found.schema, found.table) else \
        _WHAT.get(source.kind, source.kind.value)
    return [Shortfall(reason, source.qualified, rows, (
        f"{source.qualified} ({what}): {rows_text(rows)} ({which}) NOT archived: outside any dated partition; "
        "give --date-column to archive them by date"))]


def _any_window(column: str, windows: list[Period]) -> sql.Composable:
    """`column` within any of `windows`, contiguous ones merged (daily windows of a month: one range)."""
    merged: list[Period] = []
    for window in sorted(windows):
        if merged and window.start <= merged[-1].end:
            merged[-1] = Period(merged[-1].start, max(merged[-1].end, window.end))
        else:
            merged.append(window)
    if not merged:
        return sql.SQL("false")
    name = sql.Identifier(column)
    return sql.SQL(" OR ").join(
        sql.SQL("({} >= {} AND {} < {})").format(name, sql.Literal(w.start), name, sql.Literal(w.end))
        for w in merged)


def _count(conn: psycopg.Connection, relation: sql.Composable, where: sql.Composable) -> int:
    return int(scalar(conn, sql.SQL("SELECT count(*) FROM ONLY {} WHERE {}").format(relation, where)))


def _counts(conn: psycopg.Connection, relation: sql.Composable,
            wanted: dict[str, sql.Composable]) -> dict[str, int]:
    """Several counts of one relation: one alone may use an index on the date column, several share one scan."""
    if len(wanted) <= 1:
        return {name: _count(conn, relation, where) for name, where in wanted.items()}
    filters = sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE {})").format(where) for where in wanted.values())
    row = conn.execute(sql.SQL("SELECT {} FROM ONLY {}").format(filters, relation)).fetchone()
    return dict(zip(wanted, (int(n) for n in row or ()), strict=True))
