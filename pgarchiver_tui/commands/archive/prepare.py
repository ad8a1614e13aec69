"""Settings → a ready-to-run archive: validated, connected, discovered, planned, destination checked.

Everything that can be wrong with the input is found here, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import psycopg

from pgarchiver_tui.cache import Cache, open_cache
from pgarchiver_tui.commands.archive.accounting import Census, take_census
from pgarchiver_tui.commands.archive.plan import Plan, make_plan
from pgarchiver_tui.commands.archive.run import ArchiveOptions, ArchiveRun, archive_run, utc_now
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.events import Emit
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.db.connection import connect, free_connection_slots, translated_errors
from pgarchiver_tui.db.discovery import Discovery, check_privileges, discover
from pgarchiver_tui.db.queries import partition_key_column
from pgarchiver_tui.runner.retry import RetryPolicy
from pgarchiver_tui.storage import Storage
from pgarchiver_tui.storage.destination import open_destination


@dataclass
class Prepared:
    settings: Settings
    options: ArchiveOptions
    discovery: Discovery
    plan: Plan
    storage: Storage
    cache: Cache | None
    notes: list[str] = field(default_factory=list)
    census: Census | None = None  # the rows of the range no object reads, counted

    def run(self, emit: Emit, jobs: list[Job] | None = None, dry_run: bool | None = None) -> ArchiveRun:
        """A run over the plan's jobs (or a chosen few: the UI's selection, the failures to retry), as prepared
        or as a dry run. A dry run writes nothing, so it neither reads nor writes the cache. Only a run of the
        whole plan accounts for every row of the range."""
        dry = self.options.dry_run if dry_run is None else dry_run
        options = replace(self.options, dry_run=dry)
        account = self.census.settle if self.census and jobs is None else None
        return archive_run(self.plan.jobs if jobs is None else jobs, options, self.storage,
                           None if dry else self.cache, emit, notes=self.notes, account=account)


def archive_options(settings: Settings) -> ArchiveOptions:
    return ArchiveOptions(
        conninfo=settings.conninfo(), format=settings.output_format, compression=settings.compression,
        level=settings.compression_level, zstd_threads=settings.zstd_threads, split=settings.split,
        workers=settings.workers,
        dry_run=settings.dry_run, force=settings.force, statement_timeout_ms=settings.statement_timeout,
        lock_timeout_ms=settings.lock_timeout,
        retry=RetryPolicy(attempts=settings.retries, budget_seconds=settings.retry_budget),
        max_rate_mb=settings.max_rate, pause_seconds=settings.pause,
    )


def cap_workers(conn: psycopg.Connection, options: ArchiveOptions) -> tuple[ArchiveOptions, str]:
    """Fewer workers when the server has fewer free connection slots: the limit is the server's, not a fault
    of the configuration. (A slot taken meanwhile is retried with backoff by the run.)"""
    free = free_connection_slots(conn)
    if options.workers <= free:
        return options, ""
    workers = max(1, free)
    return replace(options, workers=workers), (
        f"--workers {options.workers} capped to {workers}: the server has {free} free connection slot(s) for "
        "this role and database (max_connections, connection limits)")


def prepare(settings: Settings, now: datetime | None = None) -> Prepared:
    settings.validate()
    options = archive_options(settings)
    schema, table = settings.qualified_table()
    requested = settings.requested_range()
    # the run's timeouts apply to discovery too: a table locked by DDL must not make a cron run hang
    with translated_errors(), connect(options.conninfo, snapshot=False,
                                      statement_timeout_ms=options.statement_timeout_ms,
                                      lock_timeout_ms=options.lock_timeout_ms) as conn:
        found = discover(conn, schema, table, settings.date_column)
        options = replace(options, date_column=settings.date_column or partition_key_column(conn, schema, table))
        if not found.partitions and settings.date_column is None:
            unknown = ", ".join(s.qualified for s in found.unrecognised[:5])
            children = f" (no CHECK constraint or name dates its children {unknown})" if unknown else ""
            raise ConfigError(f"{schema}.{table} has no date partitions{children}; give --date-column COLUMN to "
                              "archive it in date windows")
        plan = make_plan(schema, table, found.sources, requested, settings.duration(), settings.path_template,
                         options.extension, settings.date_column, now or utc_now(), settings.include_current)
        if plan.covers_nothing:
            raise ConfigError(f"nothing to archive: no partition of {schema}.{table} overlaps "
                              f"{plan.widened}; check --start-date/--end-date (and --date-column for rows "
                              "outside partitions)")
        options, capped = cap_workers(conn, options)
        used = {part.source for job in plan.jobs for part in job.slices}
        check_privileges(conn, sorted(used, key=lambda s: s.qualified))
        census = take_census(conn, found, plan, settings.date_column)
        # said before the run too: the operator may stop it and add --date-column
        notes = found.notes + plan.notes + [shortfall.message for shortfall in census.shortfalls] + \
            ([capped] if capped else [])
    # a dry run writes nothing, not even the directory (validate found it creatable)
    storage = open_destination(settings, check=not (settings.dry_run and settings.local_dir))
    cache = None if settings.dry_run else open_cache(storage.url, settings.cache_dir)
    if cache and cache.warning:
        notes.append(cache.warning)
    return Prepared(settings, options, found, plan, storage, cache, notes, census)
