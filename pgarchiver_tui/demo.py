"""`pgarchiver-tui demo`: the main job with nothing set up, on a throwaway PostgreSQL."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import platformdirs

from pgarchiver_tui.settings import Settings

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


def run_demo(local_dir: str | None, workers: int, headless: bool, as_json: bool = False) -> int:
    from pgarchiver_tui.cli import fail, run_headless
    from pgarchiver_tui.demo_data import seed_events
    from pgarchiver_tui.throwaway import ThrowawayPostgres, ThrowawayPostgresError

    print("pgarchiver-tui demo: starting a throwaway PostgreSQL …", file=sys.stderr, flush=True)
    try:
        server = ThrowawayPostgres().start()
    except ThrowawayPostgresError as exc:
        return fail(str(exc))
    try:
        print(f"pgarchiver-tui demo: seeding {DEMO_TABLE}: {DEMO_DAYS} daily partitions × {DEMO_ROWS_PER_DAY} "
              "rows (jsonb, numeric, uuid, text) …", file=sys.stderr, flush=True)
        seed_events(server.dsn, DEMO_TABLE, DEMO_FIRST_DAY, DEMO_DAYS, DEMO_ROWS_PER_DAY)
        settings = demo_settings(server.dsn, local_dir, workers)
        if not headless:
            from pgarchiver_tui.cli import open_tui

            return open_tui(settings)
        settings = Settings(**{**settings.__dict__, "json": as_json})
        code = run_headless(settings)
        print(f"pgarchiver-tui demo: the archive is in {settings.local_dir}", file=sys.stderr, flush=True)
        return code
    finally:
        server.stop()
