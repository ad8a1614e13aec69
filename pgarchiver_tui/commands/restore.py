"""Put archived periods back into PostgreSQL, exactly, once, one transaction per object.

The restore command's handler on the run skeleton (runner/run.py). Each object streams read → hash →
decompress → decode → COPY FROM STDIN inside one transaction that also creates (and attaches) its partition
when needed and records the object in `pgarchiver_restored` in the target schema, with the identity of the
relation its rows went into (oid and relfilenode). The transaction first looks there: an object recorded for
the target is skipped while that relation still holds its rows; once it was dropped or truncated the record is
stale and the object restores again. Rows already in the object's period that no restore recorded (the original
partition still there, say) are refused rather than doubled — the period's rows found by the column that dates
them (--date-column, the target's partition key, or the one the object's facts name), or, when nothing names
one, by the target's row count against the rows recorded restores put there — unless `--append`. Objects
without their facts (what verify calls orphans) are restored only with `--allow-unverified`, each said so.
Nothing is ever dropped.

`prepare_restore(settings, choices, emit)` gives a run; `run()` blocks and returns the RunReport.
`cancel()` may be called from any thread.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from pgarchiver_tui.cache import Record, open_cache
from pgarchiver_tui.commands.holdings import (
    ArchivedObject,
    by_period,
    check_settings,
    find_archived,
    open_archive,
)
from pgarchiver_tui.commands.readback import ReadBack
from pgarchiver_tui.core.errors import CacheError, ConfigError, IntegrityError
from pgarchiver_tui.core.events import Emit, JobResult, Outcome, Stage
from pgarchiver_tui.core.model import Column, Job, split_table_name
from pgarchiver_tui.core.periods import Period
from pgarchiver_tui.core.settings import Settings, checked_table_name
from pgarchiver_tui.db.connection import connect, scalar
from pgarchiver_tui.db.discovery import columns_of, discover, legacy_bounds
from pgarchiver_tui.db.queries import range_key_column
from pgarchiver_tui.pipeline.copy_in import column_definitions, load
from pgarchiver_tui.runner.retry import RetryPolicy
from pgarchiver_tui.runner.run import Attempt, Claim, JobHandler, ObjectRun, RunOptions
from pgarchiver_tui.storage import Storage

BOOKKEEPING = "pgarchiver_restored"
_MAX_IDENT = 63


def _still_filled(relation: sql.Composable, filenode: sql.Composable) -> sql.Composed:
    """A recorded restore still holds: the relation it filled is the target (%(target)s) or one of its
    partitions, with the same storage (a DROP leaves no such oid, a TRUNCATE gives a new relfilenode)."""
    return sql.SQL(
        "EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = {} AND pg_relation_filenode(c.oid) = {} AND (c.oid = "
        "to_regclass(%(target)s) OR c.oid IN (SELECT relid FROM pg_partition_tree(to_regclass(%(target)s)))))"
    ).format(relation, filenode)


UNVERIFIED = ("no metadata sidecar: nothing proves it belongs to the archive or says its columns and rows (verify "
              "reports it); --allow-unverified restores it")


@dataclass(frozen=True)
class RestoreChoices:
    """What a restore is asked beyond the settings."""

    target_table: str | None = None  # schema.name or name (in the archived table's schema); None: the archived
    append: bool = False  # add the rows even when the target holds rows of the period already
    allow_unverified: bool = False  # also restore objects without their facts


@dataclass(frozen=True)
class RestoreOptions:
    conninfo: str
    schema: str  # of the target table
    table: str
    workers: int = 1
    dry_run: bool = False
    date_column: str | None = None  # dates the target's rows, when the user says so
    statement_timeout_ms: int = 0
    lock_timeout_ms: int = 0
    append: bool = False
    allow_unverified: bool = False

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass
class _Placement:
    into: sql.Composable  # what COPY writes to
    where: str  # for the log
    filled: sql.Composable  # the relation the rows end in: its identity is recorded
    create: sql.Composed | None = None
    attach: sql.Composed | None = None
    guard: str | None = None  # a date column: the period must hold no rows yet


@dataclass
class _Target:
    exists: bool
    columns: list[Column] = field(default_factory=list)
    partition_key: str | None = None  # the single range key column of a partitioned target
    partitioned: bool = False
    key_definition: str = ""


@dataclass(frozen=True)
class _Prior:
    """A recorded restore of the object into the target."""

    sha256: str
    at: object
    alive: bool  # the relation it filled is still the target's, with the same storage (not truncated)


class RestoreHandler(JobHandler[ArchivedObject]):
    """Restoring one object into the target, exactly once."""

    command = "restore"
    nothing_is_failure = True

    def __init__(self, storage: Storage, options: RestoreOptions) -> None:
        self.storage, self.options = storage, options
        self.target = _Target(False)
        self.bookkeeping = sql.Identifier(options.schema, BOOKKEEPING)

    def job(self, item: ArchivedObject) -> Job:
        return item.job(self.options.schema, self.options.table)

    def estimated_rows(self, items: list[ArchivedObject]) -> int:
        return sum(o.rows or 0 for o in items)

    def prepare(self, run: ObjectRun[ArchivedObject]) -> Iterator[JobResult]:
        objects = run.items
        if not objects:
            run.note("nothing to restore: no archived objects found for the table in the range; check --table, "
                     "--path-template and the dates")
            return
        unverified = [o for o in objects if o.facts is None]
        if unverified and not self.options.allow_unverified:
            run.note(f"{len(unverified)} object(s) without metadata are not restored: nothing shows they belong to "
                     "the archive; --allow-unverified restores them")
            for obj in unverified:
                yield JobResult(self.job(obj), Outcome.SKIPPED, reason=UNVERIFIED)
        elif unverified:
            run.note(f"{len(unverified)} object(s) without metadata: format, compression and period taken from "
                     "their names, columns from the target, row counts unchecked")
        if len(unverified) < len(objects) or self.options.allow_unverified:
            self._prepare_target(run, objects)

    def _prepare_target(self, run: ObjectRun[ArchivedObject], objects: list[ArchivedObject]) -> None:
        """Create what every object needs: the target table when missing, and the bookkeeping table."""
        options = self.options
        target = sql.Identifier(options.schema, options.table)
        with connect(options.conninfo, snapshot=False, lock_timeout_ms=options.lock_timeout_ms) as conn:
            if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (options.schema,)).fetchone() is None:
                raise ConfigError(f"schema {options.schema!r} does not exist in the target database; create it "
                                  "or choose another with --target-table SCHEMA.NAME")
            self.target = _inspect(conn, options.schema, options.table)
            if not self.target.exists:
                columns = next((o.columns for o in objects if o.columns), None)
                if columns is None:
                    raise ConfigError(f"{options.qualified} does not exist and no object has metadata with its "
                                      "column types; create the table, then restore into it")
                definitions = column_definitions(columns)
                if options.dry_run:
                    run.note(f"would create table {options.qualified} with the archived columns")
                    self.target = _Target(True, columns)
                else:
                    conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(target, definitions))
                    run.note(f"created table {options.qualified} with the archived columns")
                    self.target = _inspect(conn, options.schema, options.table)
            if not options.dry_run:
                conn.execute(sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (target text NOT NULL, key text NOT NULL, sha256 text NOT NULL, "
                    "rows bigint NOT NULL, restored_at timestamptz NOT NULL DEFAULT now(), relation oid, "
                    "filenode oid, PRIMARY KEY (target, key))").format(self.bookkeeping))
                # a table made by an earlier version, before records named the relation they filled
                conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS relation oid, "
                                     "ADD COLUMN IF NOT EXISTS filenode oid").format(self.bookkeeping))

    def claim(self, item: ArchivedObject) -> Claim | None:
        return Claim(f"pgarchiver-restore:{self.options.qualified}:{item.key}", wait=True)

    # -- one object ----------------------------------------------------------------------------------------
    def attempt(self, work: Attempt, obj: ArchivedObject) -> JobResult:
        options, meter, job = self.options, work.meter, self.job(obj)
        if obj.info is None:
            raise IntegrityError("missing from the destination")
        if obj.sidecar_problem and obj.record is None:
            raise IntegrityError(obj.sidecar_problem)
        columns = obj.columns or self.target.columns
        known = {c.name for c in self.target.columns}
        missing = [c.name for c in columns if c.name not in known]
        if missing:
            raise ConfigError(f"{options.qualified} has no column(s) {', '.join(missing)} that the object holds; "
                              "restore into another --target-table")
        period = obj.period
        if period is None:
            raise IntegrityError("neither metadata nor its name say which period it holds")
        notes = [] if obj.facts else ["unverified: no metadata, so columns were taken from the target and rows "
                                      "not checked (--allow-unverified)"]
        conn = work.connection()
        # decided outside the object's transaction: reading the catalog's sizes would lock every partition
        placement = self._place(conn.cursor(), obj, period)
        with conn.transaction(force_rollback=options.dry_run):
            cursor = conn.cursor()
            prior = self._prior(cursor, obj.key)
            if prior is not None and prior.alive:
                if obj.sha256 and prior.sha256 != obj.sha256:
                    raise IntegrityError(f"{options.qualified} holds a restore of {obj.key} from "
                                         f"{prior.at:%Y-%m-%d %H:%M} with other contents (SHA-256 differs); not "
                                         "restoring it on top")
                return JobResult(job, Outcome.SKIPPED, target=options.qualified,
                                 reason=f"already restored into {options.qualified} at {prior.at:%Y-%m-%d %H:%M:%S}")
            if prior is not None:
                notes.append(f"restored before, at {prior.at:%Y-%m-%d %H:%M:%S}, into a relation since dropped or "
                             "truncated: restored again")
            if options.dry_run:
                self._refuse_doubles(cursor, placement.guard, period, obj.key, 0)
                count = f"{obj.rows:,} rows" if obj.rows is not None else "its rows"
                return JobResult(job, Outcome.DRY_RUN, target=placement.where, rows=obj.rows or 0,
                                 reason=f"would COPY {count} {placement.where}", notes=tuple(notes))
            if placement.create is not None:
                cursor.execute(placement.create)
            meter.stage(Stage.READING)
            readback = ReadBack(self.storage, obj, work.cancelled, meter)
            rows = load(cursor, placement.into, columns, readback.decoder, readback.copy_input(columns, check=False),
                        work.cancelled)
            meter.stage(Stage.CHECKING)
            problems = readback.integrity_problems()
            if obj.rows is not None and rows != obj.rows:
                problems.append(f"{rows} rows loaded, the metadata says {obj.rows}")
            if problems:
                raise IntegrityError("; ".join(problems) + "; nothing restored")
            # One object at a time from here to the commit: a check's read of the default partition and another
            # worker's ATTACH (which locks it exclusively) would otherwise deadlock. The rest ran in parallel.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                           (f"pgarchiver-restore:{options.qualified}",))
            self._refuse_doubles(cursor, placement.guard, period, obj.key, 0 if placement.attach is not None else rows)
            if placement.attach is not None:
                cursor.execute(placement.attach)
            meter.stage(Stage.RECORDING)
            self._record(cursor, obj.key, readback.stored.sha256, rows, placement.filled)
        return JobResult(job, Outcome.RESTORED, target=placement.where, rows=rows, bytes_out=obj.bytes_out or 0,
                         reason=placement.where, notes=tuple(notes))

    def _prior(self, cursor: psycopg.Cursor, key: str) -> _Prior | None:
        if self.options.dry_run and scalar(cursor, "SELECT to_regclass(%s)",
                                           (self.bookkeeping.as_string(cursor),)) is None:
            return None
        row = cursor.execute(sql.SQL("SELECT sha256, restored_at, relation, filenode FROM {} WHERE target = %s AND "
                                     "key = %s").format(self.bookkeeping), (self.options.qualified, key)).fetchone()
        if row is None:
            return None
        sha256, at, relation, filenode = row
        target = self._target_name(cursor)
        still = sql.SQL("SELECT {}").format(_still_filled(sql.SQL("%(relation)s::oid"), sql.SQL("%(filenode)s::oid")))
        alive = relation is not None and bool(scalar(cursor, still, {"relation": relation, "filenode": filenode,
                                                                     "target": target}))
        return _Prior(sha256, at, alive)

    def _target_name(self, cursor: psycopg.Cursor) -> str:
        return sql.Identifier(self.options.schema, self.options.table).as_string(cursor)

    def _record(self, cursor: psycopg.Cursor, key: str, sha256: str, rows: int, filled: sql.Composable) -> None:
        """The object is in the target: which relation holds its rows, as that relation is now."""
        cursor.execute(sql.SQL(
            "INSERT INTO {} (target, key, sha256, rows, relation, filenode) "
            "SELECT %s, %s, %s, %s, c.oid, pg_relation_filenode(c.oid) FROM pg_class c WHERE c.oid = to_regclass(%s) "
            "ON CONFLICT (target, key) DO UPDATE SET sha256 = excluded.sha256, rows = excluded.rows, "
            "relation = excluded.relation, filenode = excluded.filenode, restored_at = now()")
            .format(self.bookkeeping), (self.options.qualified, key, sha256, rows, filled.as_string(cursor)))
        if cursor.rowcount != 1:
            raise IntegrityError("the restored relation vanished before it was recorded; nothing restored")

    def _place(self, cursor: psycopg.Cursor, obj: ArchivedObject, period: Period) -> _Placement:
        options, target = self.options, self.target
        parent = sql.Identifier(options.schema, options.table)
        if not target.partitioned:
            # the column that dates the rows: the user's, or else the one the archive's facts name
            dating = options.date_column or (obj.facts.date_column if obj.facts else "") or None
            known = {c.name for c in target.columns}
            return _Placement(parent, f"into {options.qualified}", parent,
                              guard=dating if dating in known or not known else None)
        leaves = [s for s in discover(cursor.connection, options.schema, options.table).sources if s.bounds]
        covering = next((s for s in leaves if s.bounds and s.bounds.contains(period)), None)
        if covering is not None:
            return _Placement(parent, f"into {covering.qualified}", sql.Identifier(covering.schema, covering.name),
                              guard=target.partition_key)
        clash = next((s for s in leaves if s.bounds and s.bounds.overlaps(period)), None)
        if clash is not None:
            raise ConfigError(f"partition {clash.qualified} {clash.bounds} overlaps {period} without covering it; "
                              f"create a partition for {period}, or restore into another --target-table")
        if target.partition_key is None:
            raise ConfigError(f"{options.qualified} is partitioned by {target.key_definition}, not by one date "
                              f"column; create its partition for {period}, then rerun")
        name = self._partition_name(cursor, obj, period)
        new = sql.Identifier(options.schema, name)
        start, end = (sql.Literal(moment.isoformat(sep=" ")) for moment in (period.start, period.end))
        return _Placement(
            new, f"into new partition {options.schema}.{name} {period}", new,
            create=sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED "
                           "INCLUDING STORAGE INCLUDING COMPRESSION)").format(new, parent),
            # attached after the load: the parent is locked only for the attach, not for the whole COPY
            attach=sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})")
            .format(parent, new, start, end),
            guard=target.partition_key)

    def _partition_name(self, cursor: psycopg.Cursor, obj: ArchivedObject, period: Period) -> str:
        """The archived partition's own name when it was one whole dated partition, else `{table}_{period}`."""
        options = self.options
        names = []
        if obj.facts and len(obj.facts.sources) == 1:
            schema, name = split_table_name(obj.facts.sources[0], None)
            if schema == options.schema and legacy_bounds(options.table, name) == period:
                names.append(name)
        label = re.sub(r"\W", "_", obj.duration.label(period.start))
        names.append(f"{options.table[:_MAX_IDENT - len(label) - 1]}_{label}")
        for name in names:
            taken = cursor.execute("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                   "WHERE n.nspname = %s AND c.relname = %s", (options.schema, name)).fetchone()
            if taken is None:
                return name
        raise ConfigError(f"cannot name a partition for {period}: {', '.join(names)} already exist(s) without "
                          "covering it; create the partition yourself, then rerun")

    def _refuse_doubles(self, cursor: psycopg.Cursor, column: str | None, period: Period, key: str,
                        own: int) -> None:
        """Refuse when the target holds rows of the period besides the `own` ones just loaded: restoring would
        double them. Without a column that dates the rows, every row of the target must be one that a recorded
        restore (of a relation still there) put there."""
        options = self.options
        if options.append:
            return
        table = sql.Identifier(options.schema, options.table)
        if scalar(cursor, "SELECT to_regclass(%s)", (table.as_string(cursor),)) is None:
            return  # a dry run of a table still to be created
        if column is not None:
            query = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} >= {} AND {} < {} LIMIT {}) AS found"
                            ).format(table, sql.Identifier(column), sql.Literal(period.start.isoformat(sep=" ")),
                                     sql.Identifier(column), sql.Literal(period.end.isoformat(sep=" ")),
                                     sql.Literal(own + 1))
            if scalar(cursor, query) > own:
                raise ConfigError(f"{options.qualified} already holds rows in {period} that no restore of this "
                                  "object put there; restoring would double them: restore into another "
                                  "--target-table, remove those rows first, or give --append to add them anyway")
            return
        present = scalar(cursor, sql.SQL("SELECT count(*) FROM {}").format(table))
        recorded = 0
        if scalar(cursor, "SELECT to_regclass(%s)", (self.bookkeeping.as_string(cursor),)) is not None:
            recorded = scalar(cursor, sql.SQL(
                "SELECT coalesce(sum(r.rows), 0) FROM {} r WHERE r.target = %(qualified)s AND r.key <> %(key)s AND {}"
            ).format(self.bookkeeping, _still_filled(sql.SQL("r.relation"), sql.SQL("r.filenode"))),
                {"qualified": options.qualified, "key": key, "target": table.as_string(cursor)})
        if present > recorded + own:
            raise ConfigError(f"{options.qualified} holds {present - recorded - own:,} row(s) that no restore put "
                              "there, and nothing names the column that dates the object's rows; restoring could "
                              "double them: give --date-column COLUMN, restore into another --target-table, or "
                              "give --append to add them anyway")


RestoreRun = ObjectRun[ArchivedObject]


def _inspect(conn: psycopg.Connection, schema: str, table: str) -> _Target:
    row = conn.execute(
        """SELECT c.relkind, coalesce(pg_get_partkeydef(c.oid), '')
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')""", (schema, table)).fetchone()
    if row is None:
        return _Target(False)
    relkind, key_definition = row
    return _Target(True, columns_of(conn, schema, table), range_key_column(key_definition), relkind == "p",
                   key_definition)


def one_table(records: Iterable[Record]) -> str:
    """The one table (schema.name) chosen records belong to: a restore fills one target at a time."""
    tables = {f"{r.schema}.{r.table_name}" for r in records}
    if len(tables) != 1:
        raise ConfigError(f"the chosen records belong to {len(tables)} tables; restore one table at a time")
    return tables.pop()


def prepare_restore(settings: Settings, choices: RestoreChoices, emit: Emit,
                    keys: Collection[str] | None = None) -> RestoreRun:
    """Everything that can be wrong with the input is found here, before anything is written.

    `keys`: restore only these objects (the TUI's selected records).
    """
    requested = check_settings(settings)
    schema, table = settings.qualified_table()
    target_table = choices.target_table
    target_schema, target = (checked_table_name("--target-table", target_table, None if "." in target_table
                                                else schema) if target_table else (schema, table))
    storage = open_archive(settings)
    # the same view of the archive as verify's: the listing, the sidecars and the cache's records
    try:
        cache = open_cache(storage.url, settings.cache_dir)
    except (OSError, sqlite3.Error, CacheError):  # the cache only adds what it expects; the sidecars suffice
        cache = None
    try:
        holdings = find_archived(storage, schema, table, settings.path_template, requested, cache)
    finally:
        if cache is not None:
            cache.close()
    notes = []
    objects = sorted(holdings.objects + [o for o in holdings.orphans if o.named is not None], key=by_period)
    if keys is not None:
        wanted = set(keys)
        objects = [o for o in objects if o.key in wanted]
    if requested is not None:
        wider = [o.key for o in objects if o.period and not requested.contains(o.period)]
        if wider:
            notes.append(f"{len(wider)} object(s) hold periods reaching beyond the range and are restored whole")
    options = RestoreOptions(settings.conninfo(), target_schema, target, settings.workers, settings.dry_run,
                             settings.date_column, settings.statement_timeout, settings.lock_timeout,
                             choices.append, choices.allow_unverified)
    # a wrong connection or target is bad input: found now, not once per object
    with connect(options.conninfo, snapshot=False) as conn:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (target_schema,)).fetchone() is None:
            raise ConfigError(f"schema {target_schema!r} does not exist in the target database; create it or "
                              "choose another with --target-table SCHEMA.NAME")
    run_options = RunOptions(options.conninfo, options.workers, statement_timeout_ms=options.statement_timeout_ms,
                             lock_timeout_ms=options.lock_timeout_ms, retry=RetryPolicy(attempts=settings.retries),
                             dry_run=options.dry_run, destination=storage.url)
    return ObjectRun(RestoreHandler(storage, options), objects, run_options, emit, notes)
