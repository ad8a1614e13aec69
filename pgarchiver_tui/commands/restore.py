"""Put archived periods back into PostgreSQL, exactly, once, one transaction per object.

Each object streams read → hash → decompress → decode → COPY FROM STDIN inside one transaction that also
creates (and attaches) its partition when needed and records the object in `pgarchiver_restored` in the target
schema. The transaction first looks there: an object recorded for the target is skipped, so a rerun never
duplicates rows and finishes what failed. Rows already in the object's period that no restore recorded (the
original partition still there, say) are refused rather than doubled. Nothing is ever dropped.

`prepare_restore(settings, target_table, emit)` gives a RestoreRun; `run()` blocks and returns a RestoreReport,
emitting RunStarted, Notice, JobStarted and JobProgress like an archive run, a RestoreResult per object and the
RestoreReport at the end. `cancel()` may be called from any thread.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pgarchiver_tui.commands.holdings import (
    ArchivedObject,
    by_period,
    check_settings,
    find_archived,
    open_archive,
)
from pgarchiver_tui.commands.readback import Meter, ReadBack
from pgarchiver_tui.core.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ArchiverError,
    Cancelled,
    ConfigError,
    IntegrityError,
)
from pgarchiver_tui.core.events import Notice, RunStarted, Stage
from pgarchiver_tui.core.model import Column, split_table_name
from pgarchiver_tui.core.periods import Period
from pgarchiver_tui.core.settings import Settings, checked_table_name
from pgarchiver_tui.db.connection import connect, first_line, scalar, translate
from pgarchiver_tui.db.discovery import columns_of, discover, legacy_bounds
from pgarchiver_tui.pipeline.copy_in import column_definitions, load
from pgarchiver_tui.runner.workers import ConnectedWorkers
from pgarchiver_tui.storage import Storage

BOOKKEEPING = "pgarchiver_restored"
_RANGE_KEY = re.compile(r'^RANGE \(("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\)$')
_MAX_IDENT = 63


@dataclass
class RestoreResult:
    key: str
    outcome: str  # restored | skipped | failed | cancelled | dry-run
    target: str = ""  # where the rows went (or would go)
    reason: str = ""
    category: str = ""
    rows: int = 0
    seconds: float = 0.0


@dataclass
class RestoreReport:
    results: list[RestoreResult]
    notices: list[str]
    seconds: float
    cancelled: bool
    destination: str = ""

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)

    @property
    def exit_code(self) -> int:
        if self.cancelled:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.count("failed") or not self.results else EXIT_OK

    def summary(self) -> dict[str, int]:
        counts = {o: self.count(o) for o in ("restored", "skipped", "failed", "cancelled", "dry-run")}
        return {**counts, "rows": sum(r.rows for r in self.results if r.outcome == "restored")}

    def to_json(self) -> str:
        return json.dumps({"exit_code": self.exit_code, "interrupted": self.cancelled,
                           "destination": self.destination, "summary": self.summary(), "notices": self.notices,
                           "objects": [{**asdict(r), "seconds": round(r.seconds, 3)} for r in self.results]},
                          indent=2)


@dataclass(frozen=True)
class RestoreOptions:
    conninfo: str
    schema: str  # of the target table
    table: str
    workers: int = 1
    dry_run: bool = False
    date_column: str | None = None  # guards a plain target's periods against double rows
    statement_timeout_ms: int = 0
    lock_timeout_ms: int = 0

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass
class _Placement:
    into: sql.Composable  # what COPY writes to
    where: str  # for the log
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


class RestoreRun(ConnectedWorkers[ArchivedObject]):
    def __init__(self, objects: list[ArchivedObject], storage: Storage, options: RestoreOptions,
                 emit: Callable[[Any], None], notes: list[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(options.conninfo, options.workers, options.statement_timeout_ms, options.lock_timeout_ms)
        self.objects, self.storage, self.options, self.emit = objects, storage, options, emit
        self.notes, self.clock = list(notes or []), clock
        self.target = _Target(False)
        self._results: list[RestoreResult] = []

    def run(self) -> RestoreReport:
        started = self.clock()
        self.emit(RunStarted(len(self.objects), self.workers, sum(o.rows or 0 for o in self.objects),
                             self.storage.url, self.options.dry_run))
        if not self.objects:
            self.notes.append("nothing to restore: no archived objects found for the table in the range; check "
                              "--table, --path-template and the dates")
        try:
            if self.objects:
                self._prepare_target()
        except ArchiverError as exc:
            for obj in self.objects:
                self._finish(RestoreResult(obj.key, "failed", reason=str(exc), category=exc.category))
            self.objects = []
        for note in self.notes:
            self.emit(Notice(note))
        for obj in self.each(self.objects, lambda worker, obj: self._finish(self._restore_one(worker, obj)),
                             "restore"):
            self._finish(RestoreResult(obj.key, "cancelled", reason="not started: run cancelled"))
        order = {obj.key: n for n, obj in enumerate(self.objects)}
        results = sorted(self._results, key=lambda r: (order.get(r.key, -1), r.key))
        report = RestoreReport(results, self.notes, self.clock() - started, self.cancelled.is_set(),
                               self.storage.url)
        self.emit(report)
        return report

    def _finish(self, result: RestoreResult) -> None:
        with self._lock:
            self._results.append(result)
        self.emit(result)

    # -- the target, once before the workers --------------------------------------------------------------
    def _prepare_target(self) -> None:
        """Create what every object needs: the target table when missing, and the bookkeeping table."""
        options = self.options
        target = sql.Identifier(options.schema, options.table)
        with connect(options.conninfo, snapshot=False, lock_timeout_ms=options.lock_timeout_ms) as conn:
            if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (options.schema,)).fetchone() is None:
                raise ConfigError(f"schema {options.schema!r} does not exist in the target database; create it "
                                  "or choose another with --target-table SCHEMA.NAME")
            self.target = _inspect(conn, options.schema, options.table)
            if not self.target.exists:
                columns = next((o.columns for o in self.objects if o.columns), None)
                if columns is None:
                    raise ConfigError(f"{options.qualified} does not exist and no object has metadata with its "
                                      "column types; create the table, then restore into it")
                definitions = column_definitions(columns)
                if options.dry_run:
                    self.notes.append(f"would create table {options.qualified} with the archived columns")
                    self.target = _Target(True, columns)
                else:
                    conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(target, definitions))
                    self.notes.append(f"created table {options.qualified} with the archived columns")
                    self.target = _inspect(conn, options.schema, options.table)
            if not options.dry_run:
                conn.execute(sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (target text NOT NULL, key text NOT NULL, sha256 text NOT NULL, "
                    "rows bigint NOT NULL, restored_at timestamptz NOT NULL DEFAULT now(), "
                    "PRIMARY KEY (target, key))").format(sql.Identifier(options.schema, BOOKKEEPING)))

    def _restore_one(self, worker: int, obj: ArchivedObject) -> RestoreResult:
        meter = Meter(self.emit, worker, obj.job(self.options.schema, self.options.table), self.clock)
        try:
            result = self._attempt(worker, obj, meter)
        except psycopg.Error as exc:
            self.drop_connection(worker)
            error = translate(exc, self.cancelled.is_set())
            result = RestoreResult(obj.key, "cancelled" if isinstance(error, Cancelled) else "failed",
                                   reason=str(error), category=getattr(error, "category", "database"))
        except Cancelled as exc:
            self.drop_connection(worker)
            result = RestoreResult(obj.key, "cancelled", reason=str(exc), category=exc.category)
        except ArchiverError as exc:
            result = RestoreResult(obj.key, "failed", reason=str(exc), category=exc.category)
        except Exception as exc:  # noqa: BLE001 - one object's surprise must not end the run
            self.drop_connection(worker)
            result = RestoreResult(obj.key, "failed", reason=f"{type(exc).__name__}: {first_line(exc)}",
                                   category="error")
        result.seconds = meter.seconds
        return result

    def _attempt(self, worker: int, obj: ArchivedObject, meter: Meter) -> RestoreResult:
        options = self.options
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
        conn = self.connection(worker)
        # decided outside the object's transaction: reading the catalog's sizes would lock every partition
        placement = self._place(conn.cursor(), obj, period)
        with conn.transaction(force_rollback=options.dry_run):
            cursor = conn.cursor()
            claim = f"pgarchiver-restore:{options.qualified}:{obj.key}"
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (claim,))
            prior = self._prior(cursor, obj.key)
            if prior is not None:
                sha256, at = prior
                if obj.sha256 and sha256 != obj.sha256:
                    raise IntegrityError(f"{options.qualified} holds a restore of {obj.key} from {at:%Y-%m-%d %H:%M} "
                                         "with other contents (SHA-256 differs); not restoring it on top")
                return RestoreResult(obj.key, "skipped", options.qualified,
                                     f"already restored into {options.qualified} at {at:%Y-%m-%d %H:%M:%S}")
            if options.dry_run:
                self._refuse_doubles(cursor, placement.guard, period, 0)
                count = f"{obj.rows:,} rows" if obj.rows is not None else "its rows"
                return RestoreResult(obj.key, "dry-run", placement.where, f"would COPY {count} {placement.where}",
                                     rows=obj.rows or 0)
            if placement.create is not None:
                cursor.execute(placement.create)
            meter.stage(Stage.READING)
            readback = ReadBack(self.storage, obj, self.cancelled, meter)
            rows = load(cursor, placement.into, columns, readback.decoder, readback.copy_input(columns, check=False),
                        self.cancelled)
            meter.stage(Stage.CHECKING)
            problems = readback.integrity_problems()
            if obj.rows is not None and rows != obj.rows:
                problems.append(f"{rows} rows loaded, the metadata says {obj.rows}")
            if problems:
                raise IntegrityError("; ".join(problems) + "; nothing restored")
            # One object at a time from here to the commit: a check's read of the default partition and another
            # worker's ATTACH (which locks it exclusively) would otherwise deadlock. The rest ran in parallel.
            target = f"pgarchiver-restore:{options.qualified}"
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (target,))
            self._refuse_doubles(cursor, placement.guard, period, 0 if placement.attach is not None else rows)
            if placement.attach is not None:
                cursor.execute(placement.attach)
            meter.stage(Stage.RECORDING)
            cursor.execute(sql.SQL("INSERT INTO {} (target, key, sha256, rows) VALUES (%s, %s, %s, %s)")
                           .format(sql.Identifier(options.schema, BOOKKEEPING)),
                           (options.qualified, obj.key, readback.stored.sha256, rows))
        note = "" if obj.facts else " (no metadata: columns taken from the target, rows not checked)"
        return RestoreResult(obj.key, "restored", placement.where, f"{placement.where}{note}", rows=rows)

    def _prior(self, cursor: psycopg.Cursor, key: str) -> tuple[str, object] | None:
        table = sql.Identifier(self.options.schema, BOOKKEEPING)
        if self.options.dry_run and scalar(cursor, "SELECT to_regclass(%s)", (table.as_string(cursor),)) is None:
            return None
        row = cursor.execute(sql.SQL("SELECT sha256, restored_at FROM {} WHERE target = %s AND key = %s")
                             .format(table), (self.options.qualified, key)).fetchone()
        return (row[0], row[1]) if row else None

    def _place(self, cursor: psycopg.Cursor, obj: ArchivedObject, period: Period) -> _Placement:
        options, target = self.options, self.target
        parent = sql.Identifier(options.schema, options.table)
        if not target.partitioned:
            return _Placement(parent, f"into {options.qualified}", guard=options.date_column)
        leaves = [s for s in discover(cursor.connection, options.schema, options.table).sources if s.bounds]
        covering = next((s for s in leaves if s.bounds and s.bounds.contains(period)), None)
        if covering is not None:
            return _Placement(parent, f"into {covering.qualified}", guard=target.partition_key)
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
            new, f"into new partition {options.schema}.{name} {period}",
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

    def _refuse_doubles(self, cursor: psycopg.Cursor, column: str | None, period: Period, own: int) -> None:
        """Refuse when the period holds rows besides the `own` ones just loaded: restoring would double them."""
        if column is None:
            return
        query = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} >= {} AND {} < {} LIMIT {}) AS found").format(
            sql.Identifier(self.options.schema, self.options.table), sql.Identifier(column),
            sql.Literal(period.start.isoformat(sep=" ")), sql.Identifier(column),
            sql.Literal(period.end.isoformat(sep=" ")), sql.Literal(own + 1))
        if scalar(cursor, query) > own:
            raise ConfigError(f"{self.options.qualified} already holds rows in {period} that no restore of this "
                              "object put there; restoring would double them: restore into another "
                              "--target-table, or remove those rows first")


def _inspect(conn: psycopg.Connection, schema: str, table: str) -> _Target:
    row = conn.execute(
        """SELECT c.relkind, coalesce(pg_get_partkeydef(c.oid), '')
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')""", (schema, table)).fetchone()
    if row is None:
        return _Target(False)
    relkind, key_definition = row
    match = _RANGE_KEY.match(key_definition)
    key = match.group(1) if match else None
    if key is not None and key.startswith('"'):
        key = key[1:-1].replace('""', '"')
    return _Target(True, columns_of(conn, schema, table), key, relkind == "p", key_definition)


def prepare_restore(settings: Settings, target_table: str | None, emit: Callable[[Any], None],
                    keys: Collection[str] | None = None) -> RestoreRun:
    """Everything that can be wrong with the input is found here, before anything is written.

    `keys`: restore only these objects (the TUI's selected records).
    """
    requested = check_settings(settings)
    schema, table = settings.qualified_table()
    target_schema, target = (checked_table_name("--target-table", target_table, None if "." in target_table
                                                else schema) if target_table else (schema, table))
    storage = open_archive(settings)
    holdings = find_archived(storage, schema, table, settings.path_template, requested)
    notes = []
    named = [o for o in holdings.orphans if o.named is not None]
    if named:
        notes.append(f"{len(named)} object(s) without metadata: format, compression and period taken from their "
                     "names, columns from the target, row counts unchecked")
    objects = sorted(holdings.objects + named, key=by_period)
    if keys is not None:
        wanted = set(keys)
        objects = [o for o in objects if o.key in wanted]
    if requested is not None:
        wider = [o.key for o in objects if o.period and not requested.contains(o.period)]
        if wider:
            notes.append(f"{len(wider)} object(s) hold periods reaching beyond the range and are restored whole")
    options = RestoreOptions(settings.conninfo(), target_schema, target, settings.workers, settings.dry_run,
                             settings.date_column, settings.statement_timeout, settings.lock_timeout)
    # a wrong connection or target is bad input: found now, not once per object
    with connect(options.conninfo, snapshot=False) as conn:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (target_schema,)).fetchone() is None:
            raise ConfigError(f"schema {target_schema!r} does not exist in the target database; create it or "
                              "choose another with --target-table SCHEMA.NAME")
    return RestoreRun(objects, storage, options, emit, notes)
