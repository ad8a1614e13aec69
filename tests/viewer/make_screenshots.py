"""Write screenshots/viewer-*.png from the real page: `python -m tests.viewer.make_screenshots DIR`.

Fixed data (a cache written through the tool's own Cache, a run in progress published through its own
LiveState, both with fixed timestamps), the real viewer on loopback, Debian's Chromium with a frozen clock:
the same pictures on every machine with the same fonts.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pgarchiver_tui.cache import Record, open_cache
from pgarchiver_tui.core.events import JobProgress, JobResult, JobStarted, Outcome, RunStarted, Stage
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.core.periods import Duration, Period
from pgarchiver_tui.render.live_state import LiveState
from pgarchiver_tui.viewer.server import open_viewer
from tests.viewer.conftest import CHROMIUM, CHROMIUM_ARGS

NOW = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)
DESTINATION = "s3://archive-prod/?endpoint=https://s3.eu-central.example.com"
TOKEN = "screenshot-token-not-secret"
COLOR_SCHEME = "light"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def digest(name: str, n: int) -> str:
    return hashlib.new(name, str(n).encode()).hexdigest()


def seed_cache(cache_dir: Path) -> None:
    cache = open_cache(DESTINATION, str(cache_dir))
    for day in range(1, 32):  # public.events, daily, January 2024
        start = datetime(2024, 1, day)
        rows = 1_200_000 + (day * 7919) % 250_000
        finished = NOW - timedelta(days=2, hours=day % 5, minutes=day * 7 % 60)
        record = Record(f"public/events/2024/01/events-2024-01-{day:02d}.jsonl.zst", "public", "events",
                        start.isoformat(), (start + timedelta(days=1)).isoformat(), "daily", "archived",
                        sources=f"public.events_202401{day:02d}", format="jsonl", compression="zstd", rows=rows,
                        bytes_in=rows * 331, bytes_out=rows * 331 // (5 + day % 3), etag=digest("md5", day),
                        sha256=digest("sha256", day), started_at=stamp(finished - timedelta(seconds=9)),
                        finished_at=stamp(finished), seconds=8.6 + day % 4)
        if day == 17:
            cache.record_failure(record, "storage: SlowDown: please reduce your request rate (after 3 attempts)")
            continue
        cache.record_archived(record)
        if day <= 12:
            outcome = "problem: row count 1,229,412 in the object, 1,229,413 in the table" if day == 9 else "ok"
            cache.record_verified(record.key, outcome)
    for month in range(1, 13):  # sales.orders, monthly, 2023
        start = datetime(2023, month, 1)
        end = datetime(2023 + month // 12, month % 12 + 1, 1)
        rows = 310_000 + month * 12_345
        cache.record_archived(Record(f"sales/orders/2023/orders-2023-{month:02d}.csv.gz", "sales", "orders",
                                     start.isoformat(), end.isoformat(), "monthly", "archived",
                                     sources=f"sales.orders_2023_{month:02d}", format="csv", compression="gzip",
                                     rows=rows, bytes_in=rows * 188, bytes_out=rows * 188 // 4,
                                     etag=digest("md5", month + 100) + "-3",
                                     sha256=digest("sha256", month + 100),
                                     started_at=stamp(NOW - timedelta(days=30)),
                                     finished_at=stamp(NOW - timedelta(days=30) + timedelta(minutes=month)),
                                     seconds=4.2))
    cache.close()
    with sqlite3.connect(cache.path) as db:  # the cache stamps verifications with the real time: fix them
        db.execute("UPDATE objects SET verified_at = ? WHERE verified_at != ''", (stamp(NOW - timedelta(hours=20)),))
    db.close()


def publish_run(cache_dir: Path) -> LiveState:
    """An archive of February in progress: two workers, a few objects done."""
    live = LiveState("archive", str(cache_dir), clock=lambda: (NOW - timedelta(minutes=3)).timestamp())

    def job(day: int) -> Job:
        start = datetime(2024, 2, day, tzinfo=UTC)
        return Job("public", "events", Period(start, start + timedelta(days=1)), Duration.DAILY,
                   f"public/events/2024/02/events-2024-02-{day:02d}.jsonl.zst", ())

    live(RunStarted(jobs=29, workers=2, estimated_rows=29 * 1_250_000, destination=DESTINATION, dry_run=False))
    for day in range(1, 6):
        live(JobStarted(1, job(day)))
        live(JobResult(job(day), Outcome.ARCHIVED, worker=1, rows=1_250_000, bytes_in=413_750_000,
                       bytes_out=71_000_000, seconds=9.1))
    live(JobResult(job(6), Outcome.SKIPPED, reason="already archived"))
    live(JobStarted(1, job(7)))
    live(JobProgress(1, job(7), Stage.READING, 812_400, 268_904_400, 46_100_000, 5.8))
    live(JobStarted(2, job(8)))
    live(JobProgress(2, job(8), Stage.UPLOADING, 1_249_100, 413_452_100, 70_800_000, 8.9))
    live.state.update(pid=48213, host="batch-01")  # fixed for the picture (another host: its PID is not checked)
    for active in live.state["active"].values():
        active["estimated_rows"] = 1_250_000  # jobs without slices estimate nothing; a real run's do
    live.write()
    return live


def shoot(target: Path, cache_dir: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    viewer = open_viewer(cache_dir, port=0, token=TOKEN)
    server = viewer.start_in_thread()
    shots = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, size, after in [
                ("viewer-desktop", {"width": 1280, "height": 1000}, None),
                ("viewer-phone", {"width": 390, "height": 844}, None),
                ("viewer-phone-records", {"width": 390, "height": 844}, "records"),
                ("viewer-detail", {"width": 1280, "height": 820}, "detail"),
            ]:
                context = browser.new_context(viewport=size, color_scheme=COLOR_SCHEME, device_scale_factor=1)
                page = context.new_page()
                page.clock.set_fixed_time(NOW)
                page.goto(viewer.url + ("&status=problem" if after == "detail" else ""))
                expect(page.locator("#records tbody tr").first).to_be_visible()
                expect(page.locator("#runs article.run")).to_have_count(1)
                expect(page.locator("#live")).to_have_attribute("data-state", "live")
                if after == "detail":
                    page.locator("#records tbody tr").first.click()
                    expect(page.locator("#detail")).to_be_visible()
                if after == "records":
                    page.evaluate("window.scrollTo(0, document.querySelector('#records-title').getBoundingClientRect()"
                                  ".top + window.scrollY - 60)")
                path = target / f"{name}.png"
                page.screenshot(path=str(path), animations="disabled", caret="hide")
                shots.append(path)
                context.close()
            browser.close()
    finally:
        server.stop()
    return shots


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        cache_dir = Path(scratch)
        seed_cache(cache_dir)
        live = publish_run(cache_dir)
        try:
            for path in shoot(target, cache_dir):
                print(path)
        finally:
            live.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
