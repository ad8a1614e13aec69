"""The proof taken before anything is removed, inside the transaction that removes it.

Each archived object of the period is read back through the archive's chain reversed (its stored bytes must hash
to its facts: size, SHA-256, ETag; it must decompress and every record parse to the end) straight into a temporary
table of its archived column types; then PostgreSQL computes, in the transaction's one snapshot, the row count and
the order-independent fingerprint (the sum of every row's hash, as `verify --deep` does) of the archived rows and of
the live rows that are about to go. Only equal counts and equal fingerprints let the removal start.

Rows deleted by date window are also staged one by one (their ctid and hash in that snapshot) and must each be in
the archive's multiset of row hashes; every delete batch then re-checks that what it removed hashes to what was
staged, so a row that arrived, or changed, after the snapshot is never deleted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from pgarchiver_tui.commands.holdings import ArchivedObject
from pgarchiver_tui.commands.purge.plan import PeriodPlan, Target
from pgarchiver_tui.commands.purge.record import Proof, ProvenObject
from pgarchiver_tui.commands.readback import ReadBack
from pgarchiver_tui.commands.verify import column_names, fingerprint, load_archived, row_hash
from pgarchiver_tui.core.errors import Cancelled, IntegrityError, StorageError
from pgarchiver_tui.core.model import Column
from pgarchiver_tui.db.discovery import columns_of
from pgarchiver_tui.runner.throttle import RateLimiter
from pgarchiver_tui.storage import Storage

STAGED = sql.Identifier("pgarchiver_purge_rows")


class Refused(Exception):
    """The period cannot be proven, or must not be touched: it is left as it is, with this reason."""

    def __init__(self, reason: str, proof: Proof | None = None) -> None:
        super().__init__(reason)
        self.proof = proof  # what was compared, when the comparison is what failed


@dataclass
class LiveTally:
    target: Target
    rows: int
    fingerprint: int


@dataclass
class Proven:
    proof: Proof
    live: list[LiveTally]
    archived_tables: list[sql.Identifier]
    columns: list[Column]


def check_objects(plan: PeriodPlan) -> list[Column]:
    """What can be refused before reading a byte: missing objects, objects without facts, differing columns."""
    if not plan.objects:
        raise Refused("not archived: no archived object holds it")
    columns: list[Column] | None = None
    for obj in plan.objects:
        if obj.info is None:
            raise Refused(f"object missing: {obj.key} is not in the destination")
        if obj.sidecar_problem:
            raise Refused(f"object without facts: {obj.sidecar_problem}")
        if obj.facts is None:
            raise Refused(f"object without facts: {obj.key} has no metadata sidecar (.meta.json), so its bytes "
                          "cannot be checked against what was written")
        if not obj.facts.sha256 or not obj.facts.columns:
            raise Refused(f"object without facts: {obj.key}'s metadata has no SHA-256 or no column types")
        if columns is None:
            columns = obj.columns
        elif [c.name for c in obj.columns] != [c.name for c in columns]:
            raise Refused(f"the objects of this period have different columns ({plan.keys[0]}, {obj.key}); "
                          "prove them one at a time")
    assert columns is not None
    return columns


def prove(cursor: psycopg.Cursor, storage: Storage, plan: PeriodPlan, date_column: str | None,
          cancel: threading.Event, step: Callable[[str], None]) -> Proven:
    columns = check_objects(plan)
    names = column_names(columns)
    proven, tables = [], []
    archived_rows = archived_total = 0
    for n, obj in enumerate(plan.objects):
        step(f"reading {obj.key} back")
        table = sql.Identifier(f"pgarchiver_proof_{n}")
        rows = _load(cursor, storage, obj, table, cancel)
        count, total = fingerprint(cursor, sql.SQL("SELECT {} FROM {}").format(names, table))
        if count != rows:
            raise Refused(f"object corrupt: {obj.key}: {rows:,} records loaded as {count:,} rows")
        archived_rows, archived_total = archived_rows + rows, archived_total + total
        proven.append(ProvenObject(obj.key, obj.sha256, obj.info.size if obj.info else 0, rows))
        tables.append(table)
    for target in plan.targets:
        # a column the archive lacks would go with the drop unseen by the fingerprint, which reads the archive's
        live_columns = {(c.name, c.type) for c in columns_of(cursor.connection, target.source.schema,
                                                             target.source.name)}
        archived_columns = {(c.name, c.type) for c in columns}
        if live_columns != archived_columns:
            only_live = ", ".join(f"{n} {t}" for n, t in sorted(live_columns - archived_columns)) or "nothing"
            only_archived = ", ".join(f"{n} {t}" for n, t in sorted(archived_columns - live_columns)) or "nothing"
            raise Refused(f"live columns differ from the archive's: {target.source.qualified} has {only_live} that "
                          f"the archive has not, the archive {only_archived} that it has not; archive it again "
                          "(--force) before purging")
    step("fingerprinting the live rows")
    live = []
    for target in plan.targets:
        count, total = fingerprint(cursor, live_rows(target, date_column, names))
        live.append(LiveTally(target, count, total))
    live_rows_count, live_total = sum(t.rows for t in live), sum(t.fingerprint for t in live)
    proof = Proof(proven, archived_rows, _hex(archived_total), live_rows_count, _hex(live_total))
    if live_rows_count != archived_rows:
        raise Refused(f"live rows differ from the archive: {live_rows_count:,} rows live, {archived_rows:,} "
                      "archived (changed since archiving)", proof)
    if live_total != archived_total:
        raise Refused(f"live rows differ from the archive: the same {live_rows_count:,} rows in number, but their "
                      "content differs (row fingerprints do not match: changed since archiving)", proof)
    return Proven(proof, live, tables, columns)


def _load(cursor: psycopg.Cursor, storage: Storage, obj: ArchivedObject, table: sql.Identifier,
          cancel: threading.Event) -> int:
    try:
        readback = ReadBack(storage, obj, cancel)
        rows = load_archived(cursor, table, readback, obj.columns, cancel)
    except Cancelled:
        raise
    except (IntegrityError, StorageError) as exc:
        raise Refused(f"object corrupt: {obj.key}: {exc}") from None
    except psycopg.Error as exc:
        if cancel.is_set():
            raise Cancelled("cancelled") from None
        raise Refused(f"object corrupt: {obj.key} does not load into its archived column types: "
                      f"{str(exc).strip().splitlines()[0]}") from None
    problems = readback.integrity_problems()
    if obj.facts is not None and rows != obj.facts.rows:
        problems.append(f"{rows:,} rows read, the metadata says {obj.facts.rows:,}")
    if problems:
        raise Refused(f"object corrupt: {obj.key}: {'; '.join(problems)}")
    return rows


def live_rows(target: Target, date_column: str | None, names: sql.Composable) -> sql.Composed:
    """The live rows a target removes: the whole relation (not its children), or its rows in the window."""
    query = sql.SQL("SELECT {} FROM ONLY {} AS t").format(names, sql.Identifier(target.source.schema,
                                                                                 target.source.name))
    if target.window is None:
        return query
    return sql.SQL("{} WHERE {}").format(query, in_window(target, date_column))


def in_window(target: Target, date_column: str | None) -> sql.Composed:
    assert target.window is not None and date_column is not None
    column = sql.Identifier("t", date_column)
    return sql.SQL("{} >= {} AND {} < {}").format(column, sql.Literal(target.window.start), column,
                                                  sql.Literal(target.window.end))


def _hex(total: int) -> str:
    return format(total, "x") if total >= 0 else "-" + format(-total, "x")


# -- rows deleted by window ---------------------------------------------------------------------------------
def stage_rows(cursor: psycopg.Cursor, proven: Proven, date_column: str | None) -> dict[Target, int]:
    """Every row a window target deletes, as seen in this snapshot, each in the archive; their count by target."""
    windows = [(n, tally.target) for n, tally in enumerate(proven.live) if not tally.target.whole]
    if not windows:
        return {}
    cursor.execute(sql.SQL("CREATE TEMP TABLE {} (target int NOT NULL, n bigint NOT NULL, row_id tid NOT NULL, "
                           "h bigint NOT NULL, size int NOT NULL) ON COMMIT DROP").format(STAGED))
    fields = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c.name)) for c in proven.columns)
    for n, target in windows:
        cursor.execute(sql.SQL(
            "INSERT INTO {} SELECT {}, row_number() OVER (), t.ctid, {}, pg_column_size(t.*) "
            "FROM ONLY {} AS t CROSS JOIN LATERAL (SELECT {}) AS r WHERE {}").format(
                STAGED, sql.Literal(n), row_hash(sql.Identifier("r")),
                sql.Identifier(target.source.schema, target.source.name), fields, in_window(target, date_column)))
    cursor.execute(sql.SQL("CREATE INDEX ON {} (target, n)").format(STAGED))
    archived = sql.SQL(" UNION ALL ").join(sql.SQL("SELECT {} AS h FROM {} AS a").format(
        row_hash(sql.Identifier("a")), table) for table in proven.archived_tables)
    [(strays,)] = cursor.execute(sql.SQL(
        "SELECT coalesce(sum(live.n - coalesce(archived.n, 0)), 0) FROM (SELECT h, count(*) AS n FROM {} "
        "GROUP BY h) AS live LEFT JOIN (SELECT h, count(*) AS n FROM ({}) AS u GROUP BY h) AS archived USING (h) "
        "WHERE archived.n IS NULL OR archived.n < live.n").format(STAGED, archived)).fetchall()
    if strays:
        raise Refused(f"live rows differ from the archive: {strays:,} of the rows to delete are not in it")
    counts: dict[int, int] = dict(cursor.execute(sql.SQL("SELECT target, count(*) FROM {} GROUP BY target").format(STAGED))
                  .fetchall())
    return {target: int(counts.get(n, 0)) for n, target in windows}


@dataclass(frozen=True)
class Pacing:
    batch_rows: int
    limiter: RateLimiter | None  # --max-rate, over the deleted rows' bytes
    pause_seconds: float  # --pause, between two batches


def delete_staged(cursor: psycopg.Cursor, proven: Proven, target: Target, pacing: Pacing,
                  cancel: threading.Event, step: Callable[[str, bool], None]) -> int:
    """Delete a window's staged rows in batches; each batch must remove exactly the rows staged for it."""
    number = next(n for n, tally in enumerate(proven.live) if tally.target == target)
    relation = sql.Identifier(target.source.schema, target.source.name)
    fields = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c.name)) for c in proven.columns)
    [(total,)] = cursor.execute(sql.SQL("SELECT count(*) FROM {} WHERE target = %s").format(STAGED),
                                (number,)).fetchall()
    done = batch = 0
    while done < total:
        if cancel.is_set():
            raise Cancelled("cancelled while deleting")
        batch += 1
        upper = done + pacing.batch_rows
        [(rows, expected, size)] = cursor.execute(sql.SQL(
            "SELECT count(*), coalesce(sum(h::numeric), 0), coalesce(sum(size), 0) FROM {} WHERE target = %s AND "
            "n > %s AND n <= %s").format(STAGED), (number, done, upper)).fetchall()
        if pacing.limiter is not None:
            pacing.limiter.take(int(size))
        [(deleted, found)] = cursor.execute(sql.SQL(
            "WITH gone AS (DELETE FROM ONLY {} AS t WHERE t.ctid = ANY(ARRAY(SELECT row_id FROM {} WHERE target = "
            "%s AND n > %s AND n <= %s)) RETURNING {}) SELECT count(*), coalesce(sum({}::numeric), 0) FROM gone")
            .format(relation, STAGED, fields, row_hash(sql.Identifier("gone"))), (number, done, upper)).fetchall()
        if (deleted, found) != (rows, expected):
            raise IntegrityError(f"batch {batch} of {target.label} removed {deleted:,} rows that differ from the "
                                 f"{rows:,} proven against the archive; rolled back")
        done += int(rows)
        step(f"deleted batch {batch} of {target.label}: {done:,} of {total:,} rows", False)
        if pacing.pause_seconds and done < total and cancel.wait(pacing.pause_seconds):
            raise Cancelled("cancelled while deleting")
    return done


def live_fingerprint(cursor: psycopg.Cursor, targets: list[Target], columns: list[Column],
                     date_column: str | None) -> tuple[int, int]:
    """Rows and fingerprint of what `targets` hold now (a detached table after DETACH … CONCURRENTLY, say)."""
    names = column_names(columns)
    tallies = [fingerprint(cursor, live_rows(target, date_column, names)) for target in targets]
    return sum(t[0] for t in tallies), sum(t[1] for t in tallies)
