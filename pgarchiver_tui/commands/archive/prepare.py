"""Settings → a ready-to-run archive: validated, connected, discovered, planned, destination checked.

Everything that can be wrong with the input is found here, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from pgarchiver_tui.cache import Cache, open_cache
from pgarchiver_tui.commands.archive.plan import Plan, make_plan
from pgarchiver_tui.commands.archive.run import ArchiveOptions, ArchiveRun, archive_run, utc_now
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.events import Emit
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.db.connection import connect, translated_errors
from pgarchiver_tui.db.discovery import Discovery, check_privileges, discover, holds_rows
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

    def run(self, emit: Emit, jobs: list[Job] | None = None, dry_run: bool | None = None) -> ArchiveRun:
        """A run over the plan's jobs (or a chosen few: the UI's selection, the failures to retry), as prepared
        or as a dry run. A dry run writes nothing, so it neither reads nor writes the cache."""
        dry = self.options.dry_run if dry_run is None else dry_run
        options = replace(self.options, dry_run=dry)
        return archive_run(self.plan.jobs if jobs is None else jobs, options, self.storage,
                           None if dry else self.cache, emit, notes=self.notes)


def archive_options(settings: Settings) -> ArchiveOptions:
    return ArchiveOptions(
        conninfo=settings.conninfo(), format=settings.output_format, compression=settings.compression,
        level=settings.compression_level, zstd_threads=settings.zstd_threads, workers=settings.workers,
        dry_run=settings.dry_run, force=settings.force, statement_timeout_ms=settings.statement_timeout,
        lock_timeout_ms=settings.lock_timeout, retry=RetryPolicy(attempts=settings.retries),
        max_rate_mb=settings.max_rate, pause_seconds=settings.pause,
    )


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
            raise ConfigError(f"{schema}.{table} has no date partitions; give --date-column COLUMN to archive "
                              "it in date windows")
        plan = make_plan(schema, table, found.sources, requested, settings.duration(), settings.path_template,
                         options.extension, settings.date_column, now or utc_now(), settings.include_current)
        if plan.covers_nothing:
            raise ConfigError(f"nothing to archive: no partition of {schema}.{table} overlaps "
                              f"{plan.widened}; check --start-date/--end-date (and --date-column for rows "
                              "outside partitions)")
        used = {part.source for job in plan.jobs for part in job.slices}
        check_privileges(conn, sorted(used, key=lambda s: s.qualified))
        notes = found.notes + plan.notes
        if settings.date_column is None:
            for source in found.unbounded:
                if holds_rows(conn, source):
                    notes.append(f"{source.qualified} ({source.kind.value}) holds rows outside any dated partition;"
                                 " they are NOT archived: give --date-column to archive them by date")
    storage = open_destination(settings)
    cache = None if settings.dry_run else open_cache(storage.url, settings.cache_dir)
    if cache and cache.warning:
        notes.append(cache.warning)
    return Prepared(settings, options, found, plan, storage, cache, notes)
