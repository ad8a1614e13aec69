"""Prove an archive: read every object back and compare it with its facts, the cache and the live table.

`prepare_verify(settings, deep, emit)` gives a VerifyRun; `run()` blocks and returns a VerifyReport, emitting
RunStarted, Notice, JobStarted and JobProgress (as an archive run does) plus an ObjectCheck per object and the
VerifyReport at the end. `cancel()` may be called from any thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from pgarchiver_tui.cache import Cache, open_cache
from pgarchiver_tui.commands.holdings import (
    ArchivedObject,
    Holdings,
    check_settings,
    find_archived,
    open_archive,
)
from pgarchiver_tui.commands.purge.record import purged
from pgarchiver_tui.commands.readback import Meter, ReadBack
from pgarchiver_tui.core.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ArchiverError,
    Cancelled,
    ConfigError,
    IntegrityError,
    Unavailable,
)
from pgarchiver_tui.core.events import Notice, RunStarted, Stage
from pgarchiver_tui.core.model import Column, Job, Slice, Source
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.core.sidecars import sidecar_key
from pgarchiver_tui.core.units import human_bytes
from pgarchiver_tui.db.connection import connect, first_line
from pgarchiver_tui.db.discovery import discover
from pgarchiver_tui.db.queries import count_job_rows
from pgarchiver_tui.pipeline.copy_in import column_definitions, load
from pgarchiver_tui.pipeline.formats import Selection
from pgarchiver_tui.runner.workers import ConnectedWorkers
from pgarchiver_tui.storage import Storage

DEEP_TABLE = sql.Identifier("pgarchiver_deep")


@dataclass
class ObjectCheck:
    """What verify found for one key."""

    key: str
    kind: str = "object"  # object | orphan | unfinished
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: int | None = None
    live_rows: int | None = None
    bytes_out: int = 0
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not self.cancelled


@dataclass
class VerifyReport:
    checks: list[ObjectCheck]
    notices: list[str]
    seconds: float
    cancelled: bool
    destination: str = ""

    @property
    def problems(self) -> list[ObjectCheck]:
        return [c for c in self.checks if c.problems]

    @property
    def exit_code(self) -> int:
        if self.cancelled:
            return EXIT_INTERRUPTED
        # verifying nothing proves nothing: an empty result is a failure too
        return EXIT_FAILED if self.problems or not self.checks else EXIT_OK

    def summary(self) -> dict[str, int]:
        objects = [c for c in self.checks if c.kind == "object"]
        return {"objects": len(objects), "ok": sum(c.ok for c in objects),
                "problems": sum(bool(c.problems) for c in objects),
                "orphans": sum(c.kind == "orphan" for c in self.checks),
                "unfinished": sum(c.kind == "unfinished" for c in self.checks),
                "cancelled": sum(c.cancelled for c in self.checks),
                "rows": sum(c.rows or 0 for c in objects)}

    def to_json(self) -> str:
        return json.dumps({"exit_code": self.exit_code, "interrupted": self.cancelled,
                           "destination": self.destination, "summary": self.summary(), "notices": self.notices,
                           "objects": [{**asdict(c), "ok": c.ok, "seconds": round(c.seconds, 3)}
                                       for c in self.checks]}, indent=2)


@dataclass(frozen=True)
class VerifyOptions:
    conninfo: str | None = None  # None: no live comparison
    deep: bool = False
    workers: int = 1
    date_column: str | None = None
    statement_timeout_ms: int = 0
    record: bool = True  # write the outcome to the cache


class VerifyRun(ConnectedWorkers[ArchivedObject]):
    def __init__(self, holdings: Holdings, storage: Storage, cache: Cache | None, options: VerifyOptions,
                 emit: Callable[[Any], None], sources: dict[str, Source] | None = None,
                 notes: list[str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(options.conninfo, options.workers, options.statement_timeout_ms)
        self.holdings, self.storage, self.cache, self.options = holdings, storage, cache, options
        self.emit, self.sources, self.notes, self.clock = emit, sources, list(notes or []), clock
        self._checks: list[ObjectCheck] = []

    def run(self) -> VerifyReport:
        started = self.clock()
        objects = self.holdings.objects
        self.emit(RunStarted(len(objects), self.workers, sum(o.rows or 0 for o in objects), self.storage.url,
                             False))
        if not objects:
            # the prefix apart from the URL: an S3 URL ends in ?endpoint=…, after which a prefix would misread
            self.notes.append(f"nothing archived for {self.holdings.schema}.{self.holdings.table} under prefix "
                              f"{self.holdings.prefix!r} of {self.storage.url} in the range; check --table, "
                              "--path-template and the dates")
        for note in self.notes:
            self.emit(Notice(note))
        for orphan in self.holdings.orphans:
            size = f" ({human_bytes(orphan.info.size)})" if orphan.info else ""
            self._finish(ObjectCheck(orphan.key, "orphan", [f"orphan{size}: no metadata and no cache entry "
                                                            "expects it"]))
        for item in self.holdings.unfinished:
            when = f" started {item.started:%Y-%m-%d %H:%M}" if item.started else ""
            self._finish(ObjectCheck(item.key, "unfinished", [
                f"unfinished upload{when} ({item.upload_id}): a run in progress, or one left behind that should "
                "be aborted"]))
        for obj in self.each(objects, lambda worker, obj: self._finish(self.check(worker, obj)), "verify"):
            self._finish(ObjectCheck(obj.key, cancelled=True, notes=["not started: run cancelled"]))
        order = {obj.key: n for n, obj in enumerate(objects)}
        checks = sorted(self._checks, key=lambda c: (c.kind != "object", order.get(c.key, 0), c.key))
        report = VerifyReport(checks, self.notes, self.clock() - started, self.cancelled.is_set(), self.storage.url)
        self.emit(report)
        return report

    def _finish(self, check: ObjectCheck) -> None:
        with self._lock:
            self._checks.append(check)
        if self.cache and self.options.record and check.kind == "object" and not check.cancelled:
            self.cache.record_verified(check.key, "ok" if check.ok else "problem: " + "; ".join(check.problems))
        self.emit(check)

    # -- one object ------------------------------------------------------------------------------------
    def check(self, worker: int, obj: ArchivedObject) -> ObjectCheck:
        result = ObjectCheck(obj.key, bytes_out=obj.info.size if obj.info else 0)
        if obj.sidecar_problem:
            result.problems.append(obj.sidecar_problem)
        elif obj.facts is None:
            result.problems.append(f"its metadata sidecar ({sidecar_key(obj.key)}) is missing; checked against the "
                                   "cache only")
        if obj.info is None:
            result.problems.append("missing from the destination")
            return result
        slices = self._live_slices(obj, result.notes)
        job = obj.job(self.holdings.schema, self.holdings.table, tuple(slices or ()), self.options.date_column)
        meter = Meter(self.emit, worker, job, self.clock)
        meter.stage(Stage.READING)
        try:
            readback = ReadBack(self.storage, obj, self.cancelled, meter)
        except IntegrityError as exc:
            result.problems.append(str(exc))
            return result
        try:
            if self.options.deep and self.options.conninfo:
                self._deep(worker, readback, obj.columns, job, result)
            else:
                readback.check(obj.columns)
                if slices is not None:
                    meter.stage(Stage.CHECKING)
                    result.live_rows = self._live_count(worker, job)
            result.rows = readback.records.rows
        except Cancelled:
            result.cancelled = True
            return result
        except IntegrityError as exc:
            result.problems.append(str(exc))
            try:
                readback.finish_reading()
            except ArchiverError as more:
                result.problems.append(str(more))
        except ArchiverError as exc:
            result.problems.append(f"{exc.category}: {exc}")
            result.seconds = meter.seconds
            return result
        result.problems += readback.integrity_problems()
        for source, expected in (("metadata", obj.facts), ("cache", obj.record)):
            if expected is not None and result.rows is not None and expected.rows != result.rows:
                result.problems.append(f"{result.rows} rows read, the {source} says {expected.rows}")
        if result.live_rows is not None and result.rows is not None and result.live_rows != result.rows:
            result.problems.append(f"the live table holds {result.live_rows} rows for this period, the object "
                                   f"{result.rows}")
        result.seconds = meter.seconds
        return result

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

    def _live_count(self, worker: int, job: Job) -> int:
        cursor = self.connection(worker).cursor()
        try:
            return count_job_rows(cursor, job)
        except psycopg.Error as exc:
            raise IntegrityError(f"counting the live rows failed: {first_line(exc)}") from None

    def _deep(self, worker: int, readback: ReadBack, columns: list[Column], job: Job, result: ObjectCheck) -> None:
        """Load the object into a temporary table of its archived types and compare row fingerprints."""
        if not columns:
            readback.check(columns)
            result.notes.append("no column types without metadata: content not compared")
            return
        conn = self.connection(worker)
        names = column_names(columns)
        try:
            with conn.transaction(force_rollback=True):
                cursor = conn.cursor()
                load_archived(cursor, DEEP_TABLE, readback, columns, self.cancelled)
                archived = fingerprint(cursor, sql.SQL("SELECT {} FROM {}").format(names, DEEP_TABLE))
                if not job.slices:
                    result.notes.append("loaded into its archived types; no live rows to compare with")
                    return
                live = [fingerprint(cursor, Selection.of(part, job.date_column).select(names))
                        for part in job.slices]
        except psycopg.Error as exc:
            if self.cancelled.is_set():
                raise Cancelled("cancelled") from None
            raise IntegrityError(f"does not load into its archived column types: {first_line(exc)}") from None
        result.live_rows = sum(rows for rows, _ in live)
        if result.live_rows == archived[0] and sum(total for _, total in live) != archived[1]:
            result.problems.append("content differs from the live rows (row fingerprints do not match)")
        elif result.live_rows == archived[0]:
            result.notes.append("every row matches the live table's")


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


def prepare_verify(settings: Settings, deep: bool, emit: Callable[[Any], None],
                   keys: Collection[str] | None = None) -> VerifyRun:
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
    return VerifyRun(holdings, storage, cache, options, emit, sources, notes)
