"""Helpers for the TUI tests: the app with fixed clocks, fixed data for snapshots, waiting on the app."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pgarchiver_tui.cache import Record, open_cache
from pgarchiver_tui.commands.archive.plan import make_plan
from pgarchiver_tui.commands.archive.prepare import Prepared, archive_options
from pgarchiver_tui.core.model import Source, SourceKind
from pgarchiver_tui.core.periods import Duration, Period
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.db.discovery import Discovery
from pgarchiver_tui.storage.local import LocalStorage
from pgarchiver_tui.tui.app import ArchiverApp
from pgarchiver_tui.tui.widgets.row_table import RowTable
from tests.support.waiting import wait_for_app as wait_until  # noqa: F401 - the TUI tests' name for it

FIXED_NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
FIXED_DSN = "postgresql://archiver@db1.example.com:5432/shop"
FIXED_DIR = "/srv/archive"


class FixedClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(settings: Settings, **kwargs: object) -> ArchiverApp:
    kwargs.setdefault("config_path", Path(settings.cache_dir or "/nonexistent") / "config.toml")
    kwargs.setdefault("wall", lambda: FIXED_NOW)
    return ArchiverApp(settings, **kwargs)  # type: ignore[arg-type]


# -- fixed data for snapshots: nothing depends on the machine, the clock or a random database name ----------

def fixed_settings(cache_dir: Path) -> Settings:
    return Settings(dsn=FIXED_DSN, table="events", start_date="2024-01-01", end_date="2024-01-12",
                    local_dir=FIXED_DIR, cache_dir=str(cache_dir), workers=2)


def fixed_sources() -> list[Source]:
    sources = []
    for day in range(1, 13):
        start = datetime(2024, 1, day)
        sources.append(Source("public", f"events_202401{day:02d}", SourceKind.NATIVE,
                              Period(start, Duration.DAILY.next(start)), 40_000 + day * 1_250,
                              8_000_000 + day * 250_000))
    return sources


def fixed_records() -> list[Record]:
    done = [Record(key=f"public/events/2024/01/events-2024-01-{d:02d}.jsonl.zst", schema="public",
                   table_name="events", period_start=f"2024-01-{d:02d}T00:00:00",
                   period_end=f"2024-01-{d + 1:02d}T00:00:00", duration="daily", status="archived",
                   sources=f"public.events_202401{d:02d}", format="jsonl", compression="zstd",
                   rows=40_000 + d * 1_250, bytes_in=12_000_000 + d * 10_000, bytes_out=1_500_000 + d * 1_000,
                   etag=f"{d:02d}" * 16, sha256=f"{d:02d}ab" * 16, started_at=f"2024-02-{d:02d}T03:00:00Z",
                   finished_at=f"2024-02-{d:02d}T03:00:{10 + d:02d}Z", seconds=10.0 + d)
            for d in (1, 2, 3)]
    failed = Record(key="public/events/2024/01/events-2024-01-04.jsonl.zst", schema="public", table_name="events",
                    period_start="2024-01-04T00:00:00", period_end="2024-01-05T00:00:00", duration="daily",
                    status="failed", sources="public.events_20240104", format="jsonl", compression="zstd",
                    started_at="2024-02-29T11:00:00Z")
    return [*done, failed]


def fixed_prepared(settings: Settings) -> Prepared:
    """A Prepared as `prepare` would make it, from fixed sources and a cache seeded with fixed records."""
    sources = fixed_sources()
    options = archive_options(settings)
    plan = make_plan("public", "events", sources, settings.requested_range(), Duration.DAILY,
                     settings.path_template, options.extension, None, datetime(2024, 3, 1))
    storage = LocalStorage(FIXED_DIR)
    cache = open_cache(storage.url, settings.cache_dir)
    for record in fixed_records():
        if record.status == "archived":
            cache.record_archived(record)
        else:
            cache.record_failure(record, "storage: connection reset by peer while uploading part 3")
    # record_failure stamps the real time; a snapshot needs a fixed one
    cache._db.execute("UPDATE objects SET error_at = '2024-02-29T11:00:05Z' WHERE status = 'failed'")
    # verify outcomes as the TUI's verify records them, at fixed moments
    cache._db.execute("UPDATE objects SET verified_at = '2024-02-29T12:00:00Z', verify_outcome = 'ok' "
                      "WHERE key LIKE '%2024-01-01%'")
    cache._db.execute("UPDATE objects SET verified_at = '2024-03-01T11:30:00Z', verify_outcome = "
                      "'problem: SHA-256 differs from the metadata''s' WHERE key LIKE '%2024-01-02%'")
    # an exact count that disagrees with what was archived: shows as "changed"
    cache.remember_row_count("object:public/events/2024/01/events-2024-01-03.jsonl.zst", 43_800)
    discovery = Discovery("public", "events", "native", sources, [])
    return Prepared(settings, options, discovery, plan, storage, cache, [])


def cell(table: RowTable, row: int, column: str) -> str:
    """The text of one cell of a RowTable, by row number and column key."""
    index = [c.key for c in table.columns].index(column)
    value = table.cells(table.keys[row])[index]
    return value if isinstance(value, str) else value[0]
