"""The TUI's partition table at scale (issue 6): open time and per-key latency, driven through Pilot.

The partitions screen gets 10,000 synthetic daily partitions from a loader that needs no database, so the
figures are the TUI's own. Writes benchmarks/results/tui.json.

    python benchmarks/tui_bench.py                  # 10,000 partitions, 50 presses of each key
    python benchmarks/tui_bench.py --partitions 2000 --presses 20

What is measured:
- open: from mounting the screen until its 10,000 rows are in the table, the app idle and the first frame drawn;
  `table` is the part of it after discovery returned (filling and drawing the table), `discovery` the synthetic
  loader plus building the entries in the worker thread.
- a key: the CPU time from posting it until it, every message it caused and the idle pass after it are
  handled and the screen is redrawn (see `press`).
  Presses take turns (down, space, o, down, space, o, …) so that each sees the others' aftermath.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a clone without installing, too

from pgarchiver_tui.cache import open_cache  # noqa: E402
from pgarchiver_tui.commands.archive.plan import make_plan  # noqa: E402
from pgarchiver_tui.commands.archive.prepare import Prepared, archive_options  # noqa: E402
from pgarchiver_tui.commands.inventory import Entry  # noqa: E402
from pgarchiver_tui.core.model import Source, SourceKind  # noqa: E402
from pgarchiver_tui.core.periods import Duration, Period  # noqa: E402
from pgarchiver_tui.core.settings import Settings  # noqa: E402
from pgarchiver_tui.db.discovery import Discovery  # noqa: E402
from pgarchiver_tui.storage.local import LocalStorage  # noqa: E402
from pgarchiver_tui.tui.app import ArchiverApp  # noqa: E402
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen  # noqa: E402

FIRST_DAY = datetime(1990, 1, 1)
KEYS = ("down", "space", "o")
TARGETS = {"open_seconds": 1.0, "key_max_ms": 100.0}
SIZE = (120, 36)


def synthetic_loader(partitions: int, scratch: Path) -> Callable[[Settings], Prepared]:
    """`prepare` without a database: `partitions` daily partitions, a local directory, an empty cache."""

    def load(settings: Settings) -> Prepared:
        sources = [Source("public", f"events_{FIRST_DAY + timedelta(days=n):%Y%m%d}", SourceKind.NATIVE,
                          Period(FIRST_DAY + timedelta(days=n), FIRST_DAY + timedelta(days=n + 1)),
                          40_000 + n % 977, 9_000_000 + 1_000 * (n % 731))
                   for n in range(partitions)]
        options = archive_options(settings)
        requested = Period(FIRST_DAY, FIRST_DAY + timedelta(days=partitions))
        plan = make_plan("public", "events", sources, requested, Duration.DAILY, settings.path_template,
                         options.extension, None, datetime(2100, 1, 1))
        storage = LocalStorage(str(scratch / "archive"))
        cache = open_cache(storage.url, settings.cache_dir)
        return Prepared(settings, options, Discovery("public", "events", "native", sources, []), plan, storage,
                        cache, [])

    return load


class TimedPartitionsScreen(PartitionsScreen):
    """Notes when discovery's result reaches the UI thread."""

    arrived = 0.0

    def loaded(self, prepared: Prepared, entries: list[Entry]) -> None:
        self.arrived = time.perf_counter()
        super().loaded(prepared, entries)


async def measure(partitions: int, presses: int, scratch: Path) -> dict[str, object]:
    settings = Settings(dsn="postgresql://bench@localhost/bench", table="events", start_date="1990-01-01",
                        end_date="2100-01-01", local_dir=str(scratch / "archive"), cache_dir=str(scratch / "cache"))
    app = ArchiverApp(settings, config_path=scratch / "config.toml",
                      wall=lambda: datetime(2100, 1, 1, tzinfo=UTC), start_screen="connection")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        opened = time.perf_counter()
        timed = TimedPartitionsScreen(settings, synthetic_loader(partitions, scratch))
        await app.push_screen(timed)
        while not (isinstance(app.screen, PartitionsScreen) and app.screen.prepared is not None):
            await asyncio.sleep(0.001)
        await settle(pilot)
        ready = time.perf_counter()
        screen = app.screen
        assert isinstance(screen, PartitionsScreen)
        table_rows = screen.query_one("#partitions").row_count  # type: ignore[attr-defined]
        if table_rows != partitions:
            raise SystemExit(f"the table shows {table_rows} rows, expected {partitions}")
        latencies: dict[str, list[float]] = {key: [] for key in KEYS}
        for _ in range(presses):
            for key in KEYS:
                latencies[key].append(await press(pilot, key))
        if len(screen.selected) == 0:
            raise SystemExit("space selected nothing: the benchmark did not drive the screen")
    report: dict[str, object] = {
        "partitions": partitions, "presses": presses, "terminal": list(SIZE),
        "open_seconds": round(ready - opened, 3),
        "discovery_seconds": round(timed.arrived - opened, 3),
        "table_seconds": round(ready - timed.arrived, 3),
        "keys": {key: {"median_ms": round(statistics.median(values) * 1000, 1),
                       "max_ms": round(max(values) * 1000, 1)} for key, values in latencies.items()},
    }
    worst = max(v["max_ms"] for v in report["keys"].values())  # type: ignore[union-attr]
    report["targets"] = {"open_seconds": TARGETS["open_seconds"], "key_max_ms": TARGETS["key_max_ms"],
                         "met": report["open_seconds"] < TARGETS["open_seconds"]  # type: ignore[operator]
                         and worst < TARGETS["key_max_ms"]}
    return report


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Redraw now, then let the idle handlers run (DataTable does deferred work there)."""
    pilot.app.screen._on_timer_update()
    await pilot.pause()
    pilot.app.screen._on_timer_update()


async def press(pilot, key: str) -> float:  # type: ignore[no-untyped-def]
    """The CPU seconds one key costs: handling it, what it causes, the idle pass and the redraw.

    CPU time, not wall time: Pilot sleeps at least 3 × 20 ms per press while it waits for the app to go
    idle, and the app does nothing else meanwhile (no worker thread is running), so its CPU time is the time
    a user waits for the answer.
    """
    started = time.process_time()
    await pilot.press(key)
    await settle(pilot)
    return time.process_time() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--presses", type=int, default=50, help="presses of each key")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "tui.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        report = asyncio.run(measure(args.partitions, args.presses, Path(scratch)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"partitions table, {report['partitions']:,} rows: opens in {report['open_seconds']:.2f}s "
          f"(discovery {report['discovery_seconds']:.2f}s, table {report['table_seconds']:.2f}s)")
    for key, figures in report["keys"].items():  # type: ignore[union-attr]
        print(f"  {key:<6} median {figures['median_ms']:6.1f} ms  max {figures['max_ms']:6.1f} ms")
    print(f"targets (open < 1 s, every key < 100 ms): {'met' if report['targets']['met'] else 'NOT met'}"  # type: ignore[index]
          f" → {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
