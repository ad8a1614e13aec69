"""`pgarchiver-tui demo`: the main job with nothing set up, on a throwaway PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import platformdirs

from pgarchiver_tui.commands.demo_data import seed_events
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.db.throwaway import ThrowawayPostgres, ThrowawayPostgresError

DEMO_TABLE = "events"
DEMO_FIRST_DAY = date(2024, 1, 1)
DEMO_DAYS = 31
DEMO_ROWS_PER_DAY = 2000


def demo_dir() -> Path:
    return Path(platformdirs.user_data_dir("pgarchiver-tui")) / "demo-archive"


def demo_settings(dsn: str, local_dir: str | None, workers: int) -> Settings:
    return Settings(
        dsn=dsn, table=DEMO_TABLE, start_date=DEMO_FIRST_DAY.isoformat(),
        end_date=date.fromordinal(DEMO_FIRST_DAY.toordinal() + DEMO_DAYS - 1).isoformat(),
        local_dir=str(local_dir or demo_dir()), workers=workers, path_template="{schema}/{table}/{YYYY}/{MM}",
        no_ui=True,
    )


@contextmanager
def demo_database(local_dir: str | None, workers: int) -> Iterator[Settings]:
    """A throwaway PostgreSQL seeded with the demo table, for as long as the block runs; its settings."""
    print("pgarchiver-tui demo: starting a throwaway PostgreSQL …", file=sys.stderr, flush=True)
    try:
        server = ThrowawayPostgres().start()
    except ThrowawayPostgresError as exc:
        raise ConfigError(str(exc)) from None
    try:
        print(f"pgarchiver-tui demo: seeding {DEMO_TABLE}: {DEMO_DAYS} daily partitions × {DEMO_ROWS_PER_DAY} "
              "rows (jsonb, numeric, uuid, text, text[]) …", file=sys.stderr, flush=True)
        seed_events(server.dsn, DEMO_TABLE, DEMO_FIRST_DAY, DEMO_DAYS, DEMO_ROWS_PER_DAY)
        yield demo_settings(server.dsn, local_dir, workers)
    finally:
        server.stop()
