"""Settings → the periods to purge → each purged in turn: a thin sequential loop around `purge_period`.

`prepare_purge(settings, emit)` finds everything wrong with the input before anything is changed and gives a
PurgeRun; `run()` blocks and returns a PurgeReport, emitting PurgeStarted, Notice, a PurgeStep now and then, a
PurgeResult per period and the PurgeReport at the end. `cancel()` may be called from any thread.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from pgarchiver_tui.cache import Cache, open_cache
from pgarchiver_tui.commands.holdings import find_archived, open_archive
from pgarchiver_tui.commands.purge.period import (
    CANCELLED,
    DEFAULT_BATCH_ROWS,
    DEFAULT_LOCK_TIMEOUT_MS,
    DRY_RUN,
    FAILED,
    OUTCOMES,
    PURGED_OUTCOME,
    REFUSED,
    PurgeOptions,
    PurgeResult,
    purge_period,
)
from pgarchiver_tui.commands.purge.plan import PeriodPlan, plan_purge
from pgarchiver_tui.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ArchiverError, ConfigError
from pgarchiver_tui.core.events import Notice
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.core.units import rows_text
from pgarchiver_tui.db.connection import connect, translated_errors
from pgarchiver_tui.db.discovery import discover
from pgarchiver_tui.storage import Storage


@dataclass(frozen=True)
class PurgeStarted:
    periods: int
    destination: str
    dry_run: bool
    detach_only: bool


@dataclass
class PurgeReport:
    results: list[PurgeResult]
    notices: list[str]
    seconds: float
    cancelled: bool
    dry_run: bool
    destination: str = ""
    table: str = ""

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)

    @property
    def exit_code(self) -> int:
        if self.cancelled:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.count(REFUSED) or self.count(FAILED) else EXIT_OK

    def summary(self) -> dict[str, int]:
        counts = {outcome: self.count(outcome) for outcome in OUTCOMES}
        removed = sum(r.rows for r in self.results if r.outcome in (PURGED_OUTCOME, DRY_RUN))
        return {"periods": len(self.results), **counts, "rows": removed}

    def to_json(self) -> str:
        return json.dumps({"exit_code": self.exit_code, "interrupted": self.cancelled, "dry_run": self.dry_run,
                           "table": self.table, "destination": self.destination, "summary": self.summary(),
                           "notices": self.notices,
                           "periods": [{**asdict(r), "rows": r.rows, "seconds": round(r.seconds, 3)}
                                       for r in self.results]}, indent=2)


class PurgeRun:
    def __init__(self, plans: list[PeriodPlan], storage: Storage, cache: Cache | None, options: PurgeOptions,
                 conninfo: str, emit: Callable[[Any], None], notes: list[str] | None = None,
                 statement_timeout_ms: int = 0, table: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.plans, self.storage, self.cache, self.options = plans, storage, cache, options
        self.conninfo, self.emit, self.notes = conninfo, emit, list(notes or [])
        self.statement_timeout_ms, self.table, self.clock = statement_timeout_ms, table, clock
        self.cancelled = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def cancel(self) -> None:
        self.cancelled.set()
        with self._lock:
            conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):  # a connection already gone needs no cancelling
                conn.cancel_safe(timeout=2)

    def run(self) -> PurgeReport:
        started = self.clock()
        options = self.options
        self.emit(PurgeStarted(len(self.plans), self.storage.url, options.dry_run, options.detach_only))
        for note in self.notes:
            self.emit(Notice(note))
        results: list[PurgeResult] = []
        try:
            for number, plan in enumerate(self.plans):
                if number and options.pause_seconds and not options.dry_run:
                    self.cancelled.wait(options.pause_seconds)  # --pause: between periods too
                if self.cancelled.is_set():
                    result = PurgeResult(plan.label, str(plan.period or ""), CANCELLED, "not started: run cancelled",
                                         "cancelled", keys=plan.keys)
                else:
                    result = purge_period(self.connection(), self.storage, plan, options, cancel=self.cancelled,
                                          progress=self.emit, cache=None if options.dry_run else self.cache,
                                          clock=self.clock)
                results.append(result)
                self.emit(result)
        finally:
            self.close()
        report = PurgeReport(results, self.notes, self.clock() - started, self.cancelled.is_set(), options.dry_run,
                             self.storage.url, self.table)
        self.emit(report)
        return report

    def connection(self) -> psycopg.Connection:
        """One connection for the run, opened again after a period broke it."""
        with self._lock:
            conn = self._conn
        if conn is None or conn.closed or conn.broken:
            conn = connect(self.conninfo, snapshot=False, statement_timeout_ms=self.statement_timeout_ms,
                           lock_timeout_ms=self.options.lock_timeout_ms)
            with self._lock:
                self._conn = conn
        return conn

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def purge_options(settings: Settings, detach_only: bool = False, batch_rows: int | None = None) -> PurgeOptions:
    if batch_rows is not None and batch_rows < 1:
        raise ConfigError(f"--batch-rows {batch_rows} must be at least 1")
    return PurgeOptions(date_column=settings.date_column, detach_only=detach_only, dry_run=settings.dry_run,
                        batch_rows=batch_rows or DEFAULT_BATCH_ROWS, max_rate_mb=settings.max_rate,
                        pause_seconds=settings.pause, lock_timeout_ms=settings.lock_timeout or DEFAULT_LOCK_TIMEOUT_MS,
                        database=settings.database_label())


def prepare_purge(settings: Settings, emit: Callable[[Any], None], *, detach_only: bool = False,
                  keys: Collection[str] | None = None, batch_rows: int | None = None) -> PurgeRun:
    """Everything that can be wrong with the input is found here, before anything is changed.

    `keys`: only the periods proven by these objects (the TUI's selected rows).
    """
    settings.validate()
    schema, table = settings.qualified_table()
    requested = settings.requested_range()
    options = purge_options(settings, detach_only, batch_rows)
    storage = open_archive(settings)
    cache = open_cache(storage.url, settings.cache_dir)
    notes = [cache.warning] if cache.warning else []
    try:
        with translated_errors(), connect(settings.conninfo(), snapshot=False,
                                          statement_timeout_ms=settings.statement_timeout,
                                          lock_timeout_ms=options.lock_timeout_ms) as conn:
            found = discover(conn, schema, table, settings.date_column)
            if found.layout == "plain" and settings.date_column is None:
                raise ConfigError(f"{schema}.{table} is not partitioned: give --date-column COLUMN to purge it in "
                                  "the date windows it was archived in")
            holdings = find_archived(storage, schema, table, settings.path_template, requested, cache)
            objects = holdings.objects + [o for o in holdings.orphans if o.named is not None]
            plans = plan_purge(conn, found, objects, requested, settings.date_column)
    except ArchiverError:
        cache.close()
        raise
    if keys is not None:
        wanted = set(keys)
        plans = [plan for plan in plans if wanted & set(plan.keys)]
    if not plans:
        notes.append(f"nothing to purge: no partition, window or archived object of {schema}.{table} in "
                     f"{requested}")
    return PurgeRun(plans, storage, cache, options, settings.conninfo(), emit, notes, settings.statement_timeout,
                    f"{schema}.{table}")



def describe_plan(plan: PeriodPlan, detach_only: bool) -> tuple[str, str]:
    """(kind, text) of one period before anything is proven, for a confirmation: kind is purge, refused or
    nothing; the rows are the archive's (the proof refuses a period whose live rows are not those)."""
    if plan.refusal:
        return "refused", f"{plan.label}: {plan.refusal}"
    if not plan.targets:
        return "nothing", f"{plan.keys[0] if plan.keys else plan.label}: nothing left in the database"
    parts = []
    for target in plan.targets:
        if target.whole:
            parts.append(f"{'detach' if detach_only else 'drop'} {target.source.qualified}")
        else:
            parts.append(f"delete the rows of {target.label}")
    return "purge", f"{', '.join(parts)}: {rows_text(plan.archived_rows)} as archived"
