"""Settings → the periods to purge → each purged in turn on the run skeleton (runner/run.py).

`prepare_purge(settings, emit)` finds everything wrong with the input before anything is changed and gives the
run: an ObjectRun of a PurgeHandler over the periods. `run()` blocks and returns the RunReport, emitting the
events every run emits (per period: JobStarted, JobProgress at each stage, a Notice per delete batch, the
JobResult); `cancel()` may be called from any thread. Periods are purged one after another (one worker): each
takes the table's claim for itself anyway, so a second worker would only wait for it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Collection, Iterator

from pgarchiver_tui.cache import Cache, open_cache
from pgarchiver_tui.commands.holdings import find_archived, open_archive
from pgarchiver_tui.commands.purge.period import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_LOCK_TIMEOUT_MS,
    PurgeOptions,
    cache_entries,
    period_job,
    period_result,
    purge_period,
    table_claim,
)
from pgarchiver_tui.commands.purge.plan import PeriodPlan, plan_purge
from pgarchiver_tui.commands.purge.record import PurgeRecord
from pgarchiver_tui.core.errors import ArchiverError, CacheError, ConfigError
from pgarchiver_tui.core.events import Emit, JobResult, Outcome
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.core.units import rows_text
from pgarchiver_tui.db.connection import connect, translated_errors
from pgarchiver_tui.db.discovery import discover
from pgarchiver_tui.runner.retry import RetryPolicy
from pgarchiver_tui.runner.run import Attempt, Claim, JobHandler, ObjectRun, RunOptions
from pgarchiver_tui.storage import Storage


class PurgeHandler(JobHandler[PeriodPlan]):
    """Purging one period: claimed, proven, removed and recorded (period.py), or left as it was."""

    command = "purge"

    def __init__(self, storage: Storage, cache: Cache | None, options: PurgeOptions) -> None:
        """`cache`: where completed purges are recorded; closed when the run ends."""
        self.storage, self.cache, self.options = storage, cache, options
        self._lock = threading.Lock()
        self._completed: dict[str, tuple[PeriodPlan, PurgeRecord]] = {}  # by period, till recorded in the cache

    def job(self, item: PeriodPlan) -> Job:
        return period_job(item, self.options.date_column)

    def estimated_rows(self, items: list[PeriodPlan]) -> int:
        return sum(plan.archived_rows for plan in items)

    def prepare(self, run: ObjectRun[PeriodPlan]) -> Iterator[JobResult]:
        """Periods refused before anything is read: those no archived object holds. A refused period with
        objects is left to its attempt: a purge record beside them may say it is purged already."""
        for plan in run.items:
            if plan.refusal and not plan.objects:
                yield period_result(plan, self.options.date_column, Outcome.REFUSED,
                                    f"{plan.refusal}; left untouched", "refused")

    def claim(self, item: PeriodPlan) -> Claim | None:
        if self.options.dry_run:  # a dry run changes nothing: it need not wait for a purge in progress
            return None
        return Claim(table_claim(item.schema, item.table), wait=True, patient=True)

    def attempt(self, work: Attempt, item: PeriodPlan) -> JobResult:
        def completed(record: PurgeRecord) -> None:
            with self._lock:
                self._completed[item.label] = (item, record)

        return purge_period(work, self.storage, item, self.options, completed)

    def session(self, run: ObjectRun[PeriodPlan]) -> contextlib.AbstractContextManager[object]:
        return contextlib.closing(self.cache) if self.cache is not None else contextlib.nullcontext()

    def finished(self, result: JobResult) -> None:
        """A purge this run completed goes into the cache (a dry run completes none)."""
        with self._lock:
            completed = self._completed.pop(result.key, None)
        if completed is None or self.cache is None:
            return
        try:
            for entry in cache_entries(*completed):
                self.cache.record_purged(entry)
        except (sqlite3.Error, CacheError) as exc:
            raise CacheError(f"the cache cannot record the purge ({exc}); the record beside the objects holds "
                             "it") from None


def purge_options(settings: Settings, detach_only: bool = False, batch_rows: int | None = None) -> PurgeOptions:
    if batch_rows is not None and batch_rows < 1:
        raise ConfigError(f"--batch-rows {batch_rows} must be at least 1")
    return PurgeOptions(date_column=settings.date_column, detach_only=detach_only, dry_run=settings.dry_run,
                        batch_rows=batch_rows or DEFAULT_BATCH_ROWS, max_rate_mb=settings.max_rate,
                        pause_seconds=settings.pause, lock_timeout_ms=settings.lock_timeout or DEFAULT_LOCK_TIMEOUT_MS,
                        database=settings.database_label())


def prepare_purge(settings: Settings, emit: Emit, *, detach_only: bool = False,
                  keys: Collection[str] | None = None, batch_rows: int | None = None) -> ObjectRun[PeriodPlan]:
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
    run_options = RunOptions(settings.conninfo(), workers=1, statement_timeout_ms=settings.statement_timeout,
                             lock_timeout_ms=options.lock_timeout_ms, retry=RetryPolicy(attempts=settings.retries),
                             pause_seconds=0.0 if options.dry_run else options.pause_seconds,
                             dry_run=options.dry_run, destination=storage.url)
    return ObjectRun(PurgeHandler(storage, cache, options), plans, run_options, emit, notes)


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
