"""The TUI at scale, driven through Pilot: the partitions screen with 100,000 partitions and the cache screen
with 100,000 records — how long they take to open, what a key costs, what a sort costs, what a refresh costs
the UI thread while another run writes. Writes benchmarks/results/tui.json.

    python benchmarks/tui_bench.py                      # 100,000 rows, 30 presses of each key
    python benchmarks/tui_bench.py --rows 20000 --presses 10

What is measured:
- open: from pushing the screen until its rows are drawn (the first refresh after they arrived). For the
  partitions screen, without the database's part (a synthetic loader stands in for discovery and planning and
  reports its own time): `entries` is what the worker thread adds (statuses from the cache), `table` the rest
  (each row's facts and each column's order are then worked out in a thread behind the shown table).
  The cache screen reads the cache file in its worker thread; its CPU seconds are given too, as the wall
  time depends on what else the machine runs.
- a key (down, j, space, page down, end) and a sort (o): the CPU seconds from posting the key until it, all it
  caused and the redraw after it are done (Pilot's press, then pause, which draws the screen). CPU time, not
  wall time: Pilot sleeps while it waits for the app to be idle, and nothing else runs meanwhile (no worker
  thread), so the app's CPU time is the time a user waits.
- refresh: another connection writes 100 records while the cache screen is open; `refresh_ui_ms` is what
  taking the new reading in costs the UI thread (reading, diffing and ordering happen in a worker thread).

Targets (issue 13): open < 1 s, every key < 50 ms, a sort < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a clone without installing, too

from pgarchiver_tui.cache import Record, cache_path, open_cache  # noqa: E402
from pgarchiver_tui.commands.archive.plan import make_plan  # noqa: E402
from pgarchiver_tui.commands.archive.prepare import Prepared, archive_options  # noqa: E402
from pgarchiver_tui.core.model import Source, SourceKind  # noqa: E402
from pgarchiver_tui.core.periods import Duration, Period  # noqa: E402
from pgarchiver_tui.core.settings import Settings  # noqa: E402
from pgarchiver_tui.db.discovery import Discovery  # noqa: E402
from pgarchiver_tui.storage.local import LocalStorage  # noqa: E402
from pgarchiver_tui.tui.app import ArchiverApp  # noqa: E402
from pgarchiver_tui.tui.screens.cache import CacheScreen, Reading  # noqa: E402
from pgarchiver_tui.tui.screens.partitions import SORTABLE, Discovered, PartitionsScreen  # noqa: E402

FIRST_DAY = datetime(1800, 1, 1)
KEYS = ("down", "j", "space", "pagedown", "end", "home")
TARGETS = {"open_seconds": 1.0, "key_max_ms": 50.0, "sort_max_ms": 100.0}
SIZE = (120, 40)
URL = "file:///bench/archive/"


class SyntheticLoader:
    """`prepare` without a database: `partitions` daily partitions, a local directory, an empty cache.

    It stands for the database's part of opening the screen (discovery, planning), which no TUI can make
    shorter: its own seconds are taken out of the screen's open time and reported beside it."""

    def __init__(self, partitions: int, scratch: Path) -> None:
        self.partitions, self.scratch, self.seconds = partitions, scratch, 0.0

    def __call__(self, settings: Settings) -> Prepared:
        started = time.perf_counter()
        prepared = self.load(settings)
        self.seconds = time.perf_counter() - started
        return prepared

    def load(self, settings: Settings) -> Prepared:
        partitions, scratch = self.partitions, self.scratch
        sources = [Source("public", f"events_{FIRST_DAY + timedelta(days=n):%Y%m%d}", SourceKind.NATIVE,
                          Period(FIRST_DAY + timedelta(days=n), FIRST_DAY + timedelta(days=n + 1)),
                          40_000 + n % 977, 9_000_000 + 1_000 * (n % 731))
                   for n in range(partitions)]
        options = archive_options(settings)
        requested = Period(FIRST_DAY, FIRST_DAY + timedelta(days=partitions))
        plan = make_plan("public", "events", sources, requested, Duration.DAILY, settings.path_template,
                         options.extension, None, datetime(2200, 1, 1))
        storage = LocalStorage(str(scratch / "archive"))
        cache = open_cache(storage.url, settings.cache_dir)
        return Prepared(settings, options, Discovery("public", "events", "native", sources, []), plan, storage,
                        cache, [])


def record(n: int) -> Record:
    day = FIRST_DAY + timedelta(days=n)
    return Record(key=f"public/events/{day:%Y/%m}/events-{day:%Y-%m-%d}.jsonl.zst", schema="public",
                  table_name="events", period_start=f"{day:%Y-%m-%d}T00:00:00",
                  period_end=f"{day + timedelta(days=1):%Y-%m-%d}T00:00:00", duration="daily",
                  status="failed" if n % 97 == 0 else "archived", sources=f"public.events_{day:%Y%m%d}",
                  format="jsonl", compression="zstd", rows=40_000 + n % 977, bytes_in=12_000_000 + n,
                  bytes_out=1_500_000 + n % 5000, etag=f"{n:032x}", sha256=f"{n:064x}",
                  started_at="2200-01-01T03:00:00Z", finished_at=f"2200-01-01T03:{n % 60:02d}:00Z",
                  seconds=10.0 + n % 7, error="connection reset" if n % 97 == 0 else "")


def fill_cache(records: range, cache_dir: Path) -> None:
    """Write records straight into the cache file in one transaction (the Cache writes one at a time)."""
    open_cache(URL, str(cache_dir)).close()  # the schema
    names = [f.name for f in fields(Record)]
    with sqlite3.connect(cache_path(URL, str(cache_dir))) as db:
        db.executemany(f"INSERT OR REPLACE INTO objects ({', '.join(names)}) VALUES "
                       f"({', '.join('?' for _ in names)})", (tuple(asdict(record(n)).values()) for n in records))


class TimedPartitionsScreen(PartitionsScreen):
    """Notes when discovery's result reaches the UI thread, and when the rows are first on screen."""

    arrived = drawn = 0.0

    def loaded(self, found: Discovered) -> None:
        self.arrived = time.perf_counter()
        super().loaded(found)
        self.handled = time.perf_counter()
        self.call_after_refresh(self.was_drawn)

    def was_drawn(self) -> None:
        self.drawn = time.perf_counter()


class TimedCacheScreen(CacheScreen):
    """Notes what taking a reading in costs the UI thread."""

    applied: list[float] = []  # noqa: RUF012 - one list per benchmark run is what is wanted
    drawn = 0.0

    def apply(self, reading: Reading) -> None:
        started = time.perf_counter()
        super().apply(reading)
        self.applied.append(time.perf_counter() - started)
        if not self.drawn:
            self.call_after_refresh(self.was_drawn)

    def was_drawn(self) -> None:
        self.drawn = time.perf_counter()


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Everything handled, then the screen drawn (Pilot's pause draws it)."""
    await pilot.pause()


async def press(pilot, key: str) -> float:  # type: ignore[no-untyped-def]
    """The CPU seconds one key costs: handling it, what it causes and the redraw."""
    started = time.process_time()
    await pilot.press(key)
    await settle(pilot)
    return time.process_time() - started


async def keys_and_sorts(pilot, presses: int) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    latencies: dict[str, list[float]] = {key: [] for key in (*KEYS, "o")}
    for _ in range(presses):
        for key in (*KEYS, "o"):
            latencies[key].append(await press(pilot, key))
    return {key: {"median_ms": round(statistics.median(values) * 1000, 1), "max_ms": round(max(values) * 1000, 1)}
            for key, values in latencies.items()}


def app_for(settings: Settings, scratch: Path) -> ArchiverApp:
    return ArchiverApp(settings, config_path=scratch / "config.toml", cache_refresh_seconds=3600,
                       wall=lambda: datetime(2200, 1, 2, tzinfo=UTC), start_screen="connection")


async def partitions(rows: int, presses: int, scratch: Path) -> dict[str, object]:
    settings = Settings(dsn="postgresql://bench@localhost/bench", table="events", start_date="1800-01-01",
                        end_date="2200-01-01", local_dir=str(scratch / "archive"), cache_dir=str(scratch / "p-cache"))
    app = app_for(settings, scratch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        opened = time.perf_counter()
        loader = SyntheticLoader(rows, scratch)
        timed = TimedPartitionsScreen(settings, loader)
        await app.push_screen(timed)
        while not timed.drawn:
            await asyncio.sleep(0.001)
        ready = timed.drawn
        while len(timed.orders) < len(SORTABLE):  # the orders worked out behind the table: keys come after
            await asyncio.sleep(0.01)
        await settle(pilot)
        if timed.table.row_count != rows:
            raise SystemExit(f"the partitions table shows {timed.table.row_count} rows, expected {rows}")
        keys = await keys_and_sorts(pilot, presses)
        if timed.sort_column == "period" and presses % 6:
            raise SystemExit("o did not sort: the benchmark did not drive the screen")
    return {"rows": rows, "open_seconds": round(ready - opened - loader.seconds, 3),
            "database_seconds": round(loader.seconds, 3),
            "entries_seconds": round(timed.arrived - opened - loader.seconds, 3),
            "table_seconds": round(ready - timed.arrived, 3), "loaded_seconds": round(timed.handled - timed.arrived, 3),
            "keys": keys}


async def cache(rows: int, presses: int, scratch: Path) -> dict[str, object]:
    cache_dir = scratch / "c-cache"
    fill_cache(range(rows), cache_dir)
    settings = Settings(table="events", local_dir="/bench/archive", cache_dir=str(cache_dir))
    app = app_for(settings, scratch)
    TimedCacheScreen.applied = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        opened, cpu = time.perf_counter(), time.process_time()
        screen = TimedCacheScreen(settings)
        await app.push_screen(screen)
        while not screen.drawn:
            await asyncio.sleep(0.001)
        ready, cpu = screen.drawn, time.process_time() - cpu
        await settle(pilot)
        if screen.table.row_count != rows:
            raise SystemExit(f"the cache table shows {screen.table.row_count} rows, expected {rows}")
        keys = await keys_and_sorts(pilot, presses)
        fill_cache(range(rows, rows + 100), cache_dir)  # another run writes
        before = len(screen.applied)
        screen.reload()
        while len(screen.applied) == before:
            await asyncio.sleep(0.001)
        await settle(pilot)
        if screen.table.row_count != rows + 100:
            raise SystemExit(f"after the refresh the table shows {screen.table.row_count} rows")
    return {"rows": rows, "open_seconds": round(ready - opened, 3), "open_cpu_seconds": round(cpu, 3), "keys": keys,
            "refresh_ui_ms": round(screen.applied[-1] * 1000, 1)}


def verdict(report: dict[str, object]) -> dict[str, object]:
    keys: dict[str, dict[str, float]] = report["keys"]  # type: ignore[assignment]
    key_max = max(v["max_ms"] for k, v in keys.items() if k != "o")
    return {"open": report["open_seconds"] < TARGETS["open_seconds"],  # type: ignore[operator]
            "keys": key_max < TARGETS["key_max_ms"], "sort": keys["o"]["max_ms"] < TARGETS["sort_max_ms"]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=30, help="presses of each key")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "tui.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        report = {"terminal": list(SIZE), "targets": TARGETS,
                  "partitions": asyncio.run(partitions(args.rows, args.presses, Path(scratch))),
                  "cache": asyncio.run(cache(args.rows, args.presses, Path(scratch)))}
    for name in ("partitions", "cache"):
        report[name]["met"] = verdict(report[name])  # type: ignore[index]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    for name in ("partitions", "cache"):
        part: dict = report[name]  # type: ignore[assignment]
        extra = (f" (entries {part['entries_seconds']:.2f}s, table {part['table_seconds']:.2f}s; the database's "
                 f"part, synthetic here, {part['database_seconds']:.2f}s more)" if name == "partitions" else
                 f" ({part['open_cpu_seconds']:.2f}s of CPU), a refresh costs the UI {part['refresh_ui_ms']:.0f} ms")
        print(f"{name} screen, {part['rows']:,} rows: opens in {part['open_seconds']:.2f}s{extra}")
        for key, figures in part["keys"].items():
            print(f"  {'o (sort)' if key == 'o' else key:<9} median {figures['median_ms']:6.1f} ms  "
                  f"max {figures['max_ms']:6.1f} ms")
        print(f"  targets (open < 1 s, keys < 50 ms, sort < 100 ms): {part['met']}")
    print(f"→ {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
