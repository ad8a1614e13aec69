"""The archive cache with 100,000 records: writing them, reading one table's records, one lookup.

Run: `python benchmarks/cache_bench.py` (part of `nox -s bench`). Prints seconds; writes
benchmarks/results/cache.json.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from pgarchiver_tui.cache import Record, open_cache

RECORDS = 100_000


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        cache = open_cache("file:///bench/", directory)
        started = time.perf_counter()
        for n in range(RECORDS):
            cache.record_archived(Record(
                key=f"public/events/{n // 1000:03d}/events-{n:06d}.jsonl.zst", schema="public",
                table_name=f"events{n % 10}", period_start=f"{n}", period_end=f"{n + 1}", duration="daily",
                status="archived", rows=n, bytes_in=n * 10, bytes_out=n, etag="0" * 32, sha256="0" * 64))
        write = time.perf_counter() - started
        started = time.perf_counter()
        one_table = cache.records("public", "events3")
        read_table = time.perf_counter() - started
        started = time.perf_counter()
        for n in range(0, RECORDS, 100):
            cache.get(f"public/events/{n // 1000:03d}/events-{n:06d}.jsonl.zst")
        lookup = (time.perf_counter() - started) / (RECORDS // 100)
        started = time.perf_counter()
        everything = cache.records()
        read_all = time.perf_counter() - started
        cache.close()
    result = {"records": RECORDS, "write_seconds": round(write, 2), "read_one_table_seconds": round(read_table, 3),
              "one_table_records": len(one_table), "read_all_seconds": round(read_all, 3),
              "all_records": len(everything), "lookup_ms": round(lookup * 1000, 3)}
    print(f"cache with {RECORDS:,} records: written one by one in {write:.1f}s "
          f"({write / RECORDS * 1000:.2f} ms each, each its own transaction), one table's "
          f"{len(one_table):,} records read in {read_table * 1000:.0f} ms, all in {read_all * 1000:.0f} ms, "
          f"one lookup {lookup * 1000:.3f} ms")
    out = Path(__file__).parent / "results" / "cache.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
