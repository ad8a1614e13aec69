"""Prove an archive: read every object back and compare it with its facts, the cache and the live table.

The verify command's handler on the run skeleton (runner/run.py): `prepare_verify(settings, deep, emit)` gives
a run; `run()` blocks and returns the RunReport, emitting the events every run emits. An object proven is
"verified"; one with problems "failed" (category integrity, each problem in `problems`); orphans and unfinished
uploads are results of their own kind. `cancel()` may be called from any thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace

import psycopg
from psycopg import sql

from pgarchiver_tui.cache import Cache, open_cache
from pgarchiver_tui.commands.holdings import (
    ArchivedObject,
    Holdings,
    check_settings,
    find_archived,
    object_claim,
    open_archive,
)
from pgarchiver_tui.commands.purge.record import purged
from pgarchiver_tui.commands.readback import ReadBack
from pgarchiver_tui.core.errors import CacheError, Cancelled, ConfigError, IntegrityError, Unavailable
from pgarchiver_tui.core.events import Emit, JobResult, Outcome, RunReport, Stage
from pgarchiver_tui.core.model import Column, Job, Slice, Source
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.core.sidecars import sidecar_key
from pgarchiver_tui.core.units import human_bytes
from pgarchiver_tui.db.connection import connect, first_line
from pgarchiver_tui.db.discovery import discover
from pgarchiver_tui.db.queries import count_job_rows
from pgarchiver_tui.pipeline.copy_in import column_definitions, load
from pgarchiver_tui.pipeline.formats import Selection
from pgarchiver_tui.runner.retry import RetryPolicy
from pgarchiver_tui.runner.run import Attempt, Claim, JobHandler, ObjectRun, RunOptions
from pgarchiver_tui.storage import Storage

DEEP_TABLE = sql.Identifier("pgarchiver_deep")


@dataclass(frozen=True)
class VerifyOptions:
    conninfo: str | None = None  # None: no live comparison
    deep: bool = False
    workers: int = 1
    date_column: str | None = None
    statement_timeout_ms: int = 0
    record: bool = True  # write the outcome to the cache


@dataclass
class _Check:
    """What one attempt found, while it looks."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: int | None = None
    live_rows: int | None = None


class VerifyHandler(JobHandler[ArchivedObject]):
    """Proving one object: read it back, compare with its facts, the cache and the live rows."""

    command = "verify"
    nothing_is_failure = True  # verifying nothing proves nothing

    def __init__(self, holdings: Holdings, storage: Storage, cache: Cache | None, options: VerifyOptions,
                 sources: dict[str, Source] | None = None) -> None:
        self.holdings, self.storage, self.cache, self.options = holdings, storage, cache, options
        self.sources = sources

    def job(self, item: ArchivedObject) -> Job:
        slices = self._live_slices(item, [])
        return item.job(self.holdings.schema, self.holdings.table, tuple(slices or ()), self.options.date_column)

    def estimated_rows(self, items: list[ArchivedObject]) -> int:
        return sum(o.rows or 0 for o in items)

    def prepare(self, run: ObjectRun[ArchivedObject]) -> Iterator[JobResult]:
        """Orphans and unfinished uploads are found by the listing: each is a problem of its own."""
        holdings = self.holdings
        if not holdings.objects:
            # the prefix apart from the URL: an S3 URL ends in ?endpoint=…, after which a prefix would misread
            run.note(f"nothing archived for {holdings.schema}.{holdings.table} under prefix {holdings.prefix!r} of "
                     f"{self.storage.url} in the range; check --table, --path-template and the dates")
        for orphan in holdings.orphans:
            size = f" ({human_bytes(orphan.info.size)})" if orphan.info else ""
            yield self._problem(orphan.key, "orphan", f"orphan{size}: no metadata and no cache entry expects it")
        for upload in holdings.unfinished:
            when = f" started {upload.started:%Y-%m-%d %H:%M}" if upload.started else ""
            yield self._problem(upload.key, "unfinished", f"unfinished upload{when} ({upload.upload_id}): a run in "
                                "progress, or one left behind that should be aborted")

    def _problem(self, key: str, kind: str, problem: str) -> JobResult:
        job = ArchivedObject(key, None, None).job(self.holdings.schema, self.holdings.table)
        return JobResult(job, Outcome.FAILED, category="integrity", reason=problem, kind=kind, problems=(problem,))

    def claim(self, item: ArchivedObject) -> Claim | None:
        # the archive's own claim of the key: an object being (re)written is read once its write is over
        return Claim(object_claim(self.storage.url, item.key), wait=True) if self.options.conninfo else None

    def finished(self, result: JobResult) -> None:
        if not self.cache or not self.options.record or result.kind != "object" or result.outcome not in (
                Outcome.VERIFIED, Outcome.FAILED):
            return
        try:
            self.cache.record_verified(result.key, "ok" if result.ok else "problem: " + result.reason)
        except (sqlite3.Error, CacheError) as exc:
            raise CacheError(f"the cache cannot record the outcome ({exc})") from None

    # -- one object ------------------------------------------------------------------------------------
    def attempt(self, work: Attempt, obj: ArchivedObject) -> JobResult:
        found = _Check()
        self._check(work, obj, found)
        job = self.job(obj)
        bytes_out = obj.info.size if obj.info else 0
        if found.problems:
            return JobResult(job, Outcome.FAILED, category="integrity", reason="; ".join(found.problems),
                             rows=found.rows or 0, bytes_out=bytes_out, live_rows=found.live_rows,
                             problems=tuple(found.problems), notes=tuple(found.notes))
        return JobResult(job, Outcome.VERIFIED, rows=found.rows or 0, bytes_out=bytes_out, live_rows=found.live_rows,
                         notes=tuple(found.notes))

    def _check(self, work: Attempt, obj: ArchivedObject, result: _Check) -> None:
        if obj.sidecar_problem:
            result.problems.append(obj.sidecar_problem)
        elif obj.facts is None:
            result.problems.append(f"its metadata sidecar ({sidecar_key(obj.key)}) is missing; checked against the "
                                   "cache only")
        if obj.info is None:
            result.problems.append("missing from the destination")
            return
        slices = self._live_slices(obj, result.notes)
        job = obj.job(self.holdings.schema, self.holdings.table, tuple(slices or ()), self.options.date_column)
        meter = work.meter
        meter.stage(Stage.READING)
        try:
            readback = ReadBack(self.storage, obj, work.cancelled, meter)
        except IntegrityError as exc:
            result.problems.append(str(exc))
            return
        try:
            if self.options.deep and self.options.conninfo:
                self._deep(work, readback, obj.columns, job, result)
            else:
                readback.check(obj.columns)
                if slices is not None:
                    meter.stage(Stage.CHECKING)
                    result.live_rows = _live_count(work, job)
            result.rows = readback.records.rows
        except IntegrityError as exc:
            result.problems.append(str(exc))
            try:
                readback.finish_reading()
            except IntegrityError as more:
                result.problems.append(str(more))
        result.problems += readback.integrity_problems()
        for source, expected in (("metadata", obj.facts), ("cache", obj.record)):
            if expected is not None and result.rows is not None and expected.rows != result.rows:
                result.problems.append(f"{result.rows} rows read, the {source} says {expected.rows}")
        if result.live_rows is not None and result.rows is not None and result.live_rows != result.rows:
            result.problems.append(f"the live table holds {result.live_rows} rows for this period, the object "
                                   f"{result.rows}")

    def _live_slices(self, obj: ArchivedObject, notes: list[str]) -> list[Slice] | None:
        """The live rows the object was read from, when they can still be selected."""
        if self.sources is None or obj.facts is None or obj.period is None:
            return None
        if obj.purge_record and purged(self.storage, obj.key):
            notes.append("purged: its live rows were removed on its proof (see the purge record beside it); "
                         "not compared with the live table")
            return None
        slices = []
        for name in obj.facts.sources:
            source = self.sources.get(name)
            if source is None:
                notes.append(f"source {name} no longer exists: not compared with the live table")
                return None
            whole = source.read_whole(obj.period, self.options.date_column)  # as the archive read it
            if not whole and not self.options.date_column:
                notes.append(f"give --date-column to compare with the live rows of {name} in this period")
                return None
            slices.append(Slice(source, None if whole else obj.period))
        return slices

    def _deep(self, work: Attempt, readback: ReadBack, columns: list[Column], job: Job, result: _Check) -> None:
        """Load the object into a temporary table of its archived types and compare row fingerprints."""
        if not columns:
            readback.check(columns)
            result.notes.append("no column types without metadata: content not compared")
            return
        conn = work.connection()
        names = column_names(columns)
        try:
            with conn.transaction(force_rollback=True):
                cursor = conn.cursor()
                load_archived(cursor, DEEP_TABLE, readback, columns, work.cancelled)
                archived = fingerprint(cursor, sql.SQL("SELECT {} FROM {}").format(names, DEEP_TABLE))
                if not job.slices:
                    result.notes.append("loaded into its archived types; no live rows to compare with")
                    return
                live = [fingerprint(cursor, Selection.of(part, job.date_column).select(names))
                        for part in job.slices]
        except psycopg.Error as exc:
            if work.cancelled.is_set():
                raise Cancelled("cancelled") from None
            raise IntegrityError(f"does not load into its archived column types: {first_line(exc)}") from None
        result.live_rows = sum(rows for rows, _ in live)
        if result.live_rows == archived[0] and sum(total for _, total in live) != archived[1]:
            result.problems.append("content differs from the live rows (row fingerprints do not match)")
        elif result.live_rows == archived[0]:
            result.notes.append("every row matches the live table's")


VerifyRun = ObjectRun[ArchivedObject]


def _live_count(work: Attempt, job: Job) -> int:
    cursor = work.connection().cursor()
    try:
        return count_job_rows(cursor, job)
    except psycopg.Error as exc:
        if work.cancelled.is_set():
            raise Cancelled("cancelled") from None
        raise IntegrityError(f"counting the live rows failed: {first_line(exc)}") from None


def row_hash(row: sql.Composable) -> sql.Composed:
    """One row's 64-bit hash as `fingerprint` sums it; `row` names a row (a table or subquery alias).

    Raw newlines only occur in json values (JSON strings escape them), where the JSONL format turns them into
    spaces; both sides get the same treatment so that such an archive still compares equal.
    """
    return sql.SQL("('x' || left(md5(translate(row_to_json({})::text, e'\\n\\r', '  ')), 16))::bit(64)::bigint"
                   ).format(row)


def fingerprint(cursor: psycopg.Cursor, query: sql.Composable) -> tuple[int, int]:
    """Rows and an order-independent sum of per-row hashes of the query's rows as the server prints them."""
    row = sql.Identifier("pgarchiver_row")
    statement = sql.SQL("SELECT count(*), coalesce(sum({}::numeric), 0) FROM ({}) AS {}").format(
        row_hash(row), query, row)
    [(rows, total)] = cursor.execute(statement).fetchall()
    return int(rows), int(total)


def column_names(columns: list[Column]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)


def load_archived(cursor: psycopg.Cursor, relation: sql.Identifier, readback: ReadBack, columns: list[Column],
                  cancel: threading.Event) -> int:
    """The object's rows in a temporary table of their archived types, dropped at the end of the caller's
    transaction; the rows loaded. Every record is parsed on the way: a truncated or garbled object fails here."""
    cursor.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(relation, column_definitions(columns)))
    return load(cursor, relation, columns, readback.decoder, readback.copy_input(columns, check=True), cancel)


def prepare_verify(settings: Settings, deep: bool, emit: Emit, keys: Collection[str] | None = None) -> VerifyRun:
    """Everything that can be wrong with the input is found here, before anything is read.

    `keys`: verify only these objects (the TUI's selected rows); orphans and unfinished uploads are then left
    out, and a key nothing knows of is reported missing.
    """
    requested = check_settings(settings)
    schema, table = settings.qualified_table()
    storage = open_archive(settings)
    cache = open_cache(storage.url, settings.cache_dir)
    notes = [cache.warning] if cache.warning else []
    holdings = find_archived(storage, schema, table, settings.path_template, requested, cache)
    notes += [finding.message for finding in storage.findings.items]  # e.g. unfinished uploads cannot be listed
    notes += [f"noted {noted}: {advice}" for key, _id, noted, advice in cache.leftovers()
              if key.startswith(holdings.prefix)]
    if holdings.other_layouts:
        notes.append(f"{holdings.other_layouts} object(s) of {schema}.{table} under {holdings.prefix} follow another "
                     f"--path-template than {settings.path_template!r}: left out (verify them with their template)")
    if keys is not None:
        wanted = set(keys)
        chosen = [o for o in holdings.objects if o.key in wanted]
        unknown = sorted(wanted - {o.key for o in chosen})
        holdings = replace(holdings, objects=chosen + [ArchivedObject(k, storage.head(k), None) for k in unknown],
                           orphans=[], unfinished=[])
    sources: dict[str, Source] | None = None
    conninfo: str | None = settings.conninfo()
    try:
        with connect(settings.conninfo(), snapshot=False) as conn:
            try:
                found = discover(conn, schema, table, settings.date_column)
                sources = {s.qualified: s for s in found.sources}
            except ConfigError as exc:
                notes.append(f"live table not compared: {exc}")
    except (ConfigError, Unavailable) as exc:  # the archive alone can still be proven
        if deep:
            raise type(exc)(f"--deep compares with the live table: {exc}") from None
        notes.append(f"live table not compared: {exc}")
        conninfo = None
    options = VerifyOptions(conninfo, deep, settings.workers, settings.date_column, settings.statement_timeout,
                            record=not settings.dry_run)
    run_options = RunOptions(conninfo, settings.workers, statement_timeout_ms=settings.statement_timeout,
                             retry=RetryPolicy(attempts=settings.retries), destination=storage.url)
    handler = VerifyHandler(holdings, storage, cache, options, sources)
    return ObjectRun(handler, holdings.objects, run_options, emit, notes)


@dataclass(frozen=True)
class VerifyGroup:
    """Chosen objects of one table: verify reads one table's archive at a time."""

    table: str  # schema.name
    keys: tuple[str, ...]


def group_by_table(chosen: Iterable[tuple[str, str]]) -> list[VerifyGroup]:
    """(schema.table, key) pairs, in the order given, as one group per table."""
    tables: dict[str, list[str]] = {}
    for table, key in chosen:
        tables.setdefault(table, []).append(key)
    return [VerifyGroup(table, tuple(keys)) for table, keys in tables.items()]


def table_settings(settings: Settings, table: str) -> Settings:
    """`settings` aimed at one table's whole archive (keys, not dates, narrow it down)."""
    return replace(settings, table=table, schema=None, start_date=None, end_date=None)


class VerifySelection:
    """Verifying chosen objects of several tables, one table's run after another, as one cancellable whole.

    `run()` blocks and returns each table's RunReport (each also emitted); `cancel()` from any thread stops
    the run in progress and those not started.
    """

    def __init__(self, settings: Settings, groups: Iterable[VerifyGroup], emit: Emit, deep: bool = False) -> None:
        self.settings, self.groups, self.emit, self.deep = settings, list(groups), emit, deep
        self.cancelled = threading.Event()
        self._current: VerifyRun | None = None

    @property
    def objects(self) -> int:
        return sum(len(group.keys) for group in self.groups)

    def run(self) -> list[RunReport]:
        reports = []
        for group in self.groups:
            if self.cancelled.is_set():
                break
            self._current = prepare_verify(table_settings(self.settings, group.table), self.deep, self.emit,
                                           keys=group.keys)
            if self.cancelled.is_set():
                break
            reports.append(self._current.run())
        return reports

    def cancel(self) -> None:
        self.cancelled.set()
        if self._current is not None:
            self._current.cancel()
