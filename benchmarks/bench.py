"""pgarchiver-tui against `psql COPY | zstd -3`, side by side in one run (issue 6). Run: `nox -s bench`.

Starts a throwaway PostgreSQL and a moto S3 server on loopback, generates the tables (see dataset.py), then
alternates the contenders round by round so that machine noise hits them alike, and reports medians. The tool
runs as the real CLI in a child process, so its wall time includes start-up and its peak RSS is its own.

    python benchmarks/bench.py                 # default: partitions of 500,000 rows
    python benchmarks/bench.py --rows 50000    # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a clone without installing, too

import dataset  # noqa: E402
from measure import BenchError, Burners, Case, Sample, children_cpu, process_cpu, run_together  # noqa: E402

DEFAULT_ROWS = 500_000
LEVEL = 3
TARGETS = {
    "jsonl_local_vs_pipe": 0.95, "csv_local_vs_pipe": 0.95, "two_workers_vs_two_pipes": 0.9,
    "s3_vs_local": 0.9, "size_vs_zstd": 1.01, "rss_4_workers_mb": 150, "rss_large_vs_small": 1.10,
    "rerun_1000_seconds": 10, "discovery_10000_seconds": 3,
    # issue 16: CPU per row (user + system of the tool's process against psql's and zstd's), upper bounds
    "cpu_jsonl_vs_pipe": 1.0, "cpu_csv_vs_pipe": 1.0, "cpu_narrow_jsonl_vs_pipe": 1.0,
    "cpu_narrow_csv_vs_pipe": 1.0, "cpu_s3_vs_local": 1.1,
    # throughput with a CPU-burning neighbour on each core, and over many small partitions
    "loaded_one_vs_pipe": 0.95, "loaded_two_vs_two_pipes": 0.95, "many_small_vs_xargs": 1.0,
    # one partition read by 4 connections: ≥ 1.2× one pipe on 2 cores (≥ 2.5× on 4 or more)
    "split_4_vs_pipe": 1.2, "rss_split_4_mb": 150,
}
UPPER_BOUNDS = {"size_vs_zstd", "rss_4_workers_mb", "rss_large_vs_small", "rerun_1000_seconds",
                "discovery_10000_seconds", "cpu_jsonl_vs_pipe", "cpu_csv_vs_pipe", "cpu_narrow_jsonl_vs_pipe",
                "cpu_narrow_csv_vs_pipe", "cpu_s3_vs_local", "rss_split_4_mb"}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [tool for tool in ("psql", "zstd") if shutil.which(tool) is None]
    if missing:
        print(f"bench: error: {' and '.join(missing)} not found; install postgresql-client and zstd "
              "(the baseline pipes need them)", file=sys.stderr)
        return 2
    from pgarchiver_tui.db.throwaway import ThrowawayPostgres

    # started in the background, SIGINT may be ignored and SIGTERM would skip the clean-up: stop cleanly
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))  # a closed terminal: the servers are stopped too
    scratch = Path(tempfile.mkdtemp(prefix="pgarchiver-bench-"))
    try:
        with ThrowawayPostgres() as server, S3Server() as s3:
            bench = Bench(args, server.create_database("bench"), s3, scratch)
            bench.postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
            results = bench.run()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1))
    print(render(results))
    print(f"\nresults written to {args.output}")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help=f"rows per partition (default {DEFAULT_ROWS:,})")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the default rows per partition")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of alternating contenders (medians)")
    parser.add_argument("--many", type=int, default=1000, help="archived partitions for the rerun case")
    parser.add_argument("--wide", type=int, default=10_000, help="partitions for the discovery case")
    parser.add_argument("--small-partitions", type=int, default=200, help="partitions of the many-small case")
    parser.add_argument("--small-rows", type=int, default=20_000, help="rows in each of them")
    parser.add_argument("--only", nargs="*", default=[],
                        help="groups to run: single two memory rerun discovery cpu loaded small (default all), "
                             "and stores "
                             "(one partition to s3rver, Azurite and gcp-storage-emulator beside a directory; "
                             "only when named)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    parser.add_argument("--output", type=Path, default=HERE / "results" / f"bench-{stamp}.json")
    args = parser.parse_args(argv)
    args.rows = args.rows or max(1000, int(DEFAULT_ROWS * args.scale))
    if args.rows < 1000 or args.repeat < 1:
        parser.error("--rows must be at least 1000 and --repeat at least 1")
    return args


class S3Server:
    """moto's S3 on loopback, with one bucket."""

    bucket = "bench-archive"

    def __enter__(self) -> S3Server:
        # its own process: an S3 server inside the benchmark would take the GIL from the measurements
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # a server process says nothing when it is ready: ask it
            try:
                self.client().create_bucket(Bucket=self.bucket)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait()

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="bench", aws_secret_access_key="bench")

    def empty(self) -> None:
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})


class Bench:
    def __init__(self, args: argparse.Namespace, dsn: str, s3: S3Server, scratch: Path) -> None:
        self.args, self.dsn, self.s3, self.scratch = args, dsn, s3, scratch
        self.cases: dict[str, Case] = {}
        self.extra: dict[str, object] = {}
        self.env = self._child_env()
        self.runs = 0
        self.postmaster = 0  # PostgreSQL's pid: its CPU is counted apart, the same COPY runs for every contender

    def _child_env(self) -> dict[str, str]:
        # PYTHONDONTWRITEBYTECODE would make every run of the tool compile its own modules again (0.1 s of
        # start-up that an installed package never pays): run() compiles them once instead
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PG", "AWS_", "PGARCHIVER_")) and k != "PYTHONDONTWRITEBYTECODE"}
        home = self.scratch / "home"
        env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"),
                   XDG_DATA_HOME=str(home / "data"), AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull, PYTHONPATH=str(HERE.parent))
        return env

    # -- the run -------------------------------------------------------------------------------------------
    def run(self) -> dict:
        args = self.args
        groups = set(args.only) or {"single", "two", "memory", "rerun", "discovery", "cpu", "loaded", "small",
                                    "split"}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "pgarchiver_tui")], check=True,
                       stdout=subprocess.DEVNULL)
        self.extra["copy_reader"] = copy_reader()
        log(f"the tool reads COPY rows with its {self.extra['copy_reader']} reader")
        log(f"generating 4 partitions of {args.rows:,} rows and one of {args.rows // 10:,}")
        self.days = dataset.make_events(self.dsn, "events", 4, args.rows)
        self.small_day = dataset.make_events(self.dsn, "small", 1, args.rows // 10)[0]
        self.text_bytes = {("events", day): self._text_bytes(dataset.day_name("events", day)) for day in self.days}
        self.text_bytes["small", self.small_day] = self._text_bytes(dataset.day_name("small", self.small_day))
        if groups & {"cpu", "loaded"}:
            log(f"generating 1 partition of {args.rows:,} narrow rows")
            self.narrow_day = dataset.make_narrow(self.dsn, "narrow", 1, args.rows)[0]
            self.text_bytes["narrow", self.narrow_day] = self._text_bytes(dataset.day_name("narrow", self.narrow_day))
            self.extra["narrow_row_bytes"] = self.text_bytes["narrow", self.narrow_day] / args.rows
        self.extra["standard_row_bytes"] = self.text_bytes["events", self.days[0]] / args.rows
        if "single" in groups:
            self.single_partition()
        if "two" in groups:
            self.two_partitions()
        if "memory" in groups:
            self.memory()
        if "rerun" in groups:
            self.rerun()
        if "discovery" in groups:
            self.discovery()
        if "stores" in groups:
            self.stores()
        if "cpu" in groups:
            self.cpu_per_row()
        if "loaded" in groups:
            self.loaded()
        if "small" in groups:
            self.many_small()
        if "split" in groups:
            self.split()
        self.extra["tui_partition_table_10000"] = {
            "status": "not measured here",
            "note": "the TUI's 10,000-row partition table (open < 1 s, key < 100 ms) is measured by a Pilot "
                    "benchmark that the TUI's engineer adds; hook: Bench.tui_table()",
        }
        return {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(), "rows_per_partition": args.rows, "repeat": args.repeat, "level": LEVEL,
            "seconds": time.perf_counter() - started,
            "cases": [case.summary(self.cases) for case in self.cases.values()],
            "extra": self.extra, "targets": self.verdicts(),
            "reproduce": "nox -s bench" + (f" -- --rows {args.rows}" if args.rows != DEFAULT_ROWS else ""),
        }

    def alternate(self, contenders: dict[str, Callable[[], Sample]]) -> None:
        """Each round runs every contender once, starting one further along each time."""
        names = list(contenders)
        for round_ in range(self.args.repeat):
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                sample = contenders[name]()
                self.cases[name].samples.append(sample)
                log(f"  {name}: {sample.seconds:.2f}s cpu {sample.cpu_seconds:.2f}s (server {sample.server_cpu_seconds:.2f}s"
                    f" store {sample.store_cpu_seconds:.2f}s) rss {sample.peak_rss_mb:.0f}MB")

    def add(self, name: str, days: list[date], baseline: str | None = None, note: str = "",
            table: str = "events") -> str:
        per_day = {"small": self.args.rows // 10, "smallmany": self.args.small_rows}.get(table, self.args.rows)
        rows = per_day * len(days)
        self.cases[name] = Case(name, rows, sum(self.text_bytes[table, d] for d in days), baseline=baseline,
                                note=note)
        return name

    # -- groups --------------------------------------------------------------------------------------------
    def single_partition(self) -> None:
        log("one partition, one worker")
        day = [self.days[0]]
        contenders = {
            self.add("psql COPY > /dev/null (server ceiling)", day): lambda: self.pipes(day, "ceiling"),
            self.add("psql row_to_json | zstd -3", day): lambda: self.pipes(day, "jsonl"),
            self.add("psql csv | zstd -3", day): lambda: self.pipes(day, "csv"),
        }
        for fmt, pipe in (("jsonl", "psql row_to_json | zstd -3"), ("csv", "psql csv | zstd -3")):
            local = self.add(f"tool {fmt} → dir", day, pipe)
            contenders[local] = lambda fmt=fmt: self.tool(day, fmt, "local")
            s3 = self.add(f"tool {fmt} → S3", day, local, note="ratio: vs the same run to a directory")
            contenders[s3] = lambda fmt=fmt: self.tool(day, fmt, "s3")
        self.alternate(contenders)

    def two_partitions(self) -> None:
        log("two partitions: two workers against two pipes at once")
        days = self.days[:2]
        pipes = self.add("2 × psql row_to_json | zstd -3 at once", days)
        tool = self.add("tool jsonl → dir, 2 workers", days, pipes)
        self.alternate({pipes: lambda: self.pipes(days, "jsonl"),
                        tool: lambda: self.tool(days, "jsonl", "local", workers=2)})

    def memory(self) -> None:
        log("peak RSS: a small partition, one 10× larger, and 4 workers on 4 partitions")
        small = self.add("tool jsonl → dir, small partition", [self.small_day], table="small")
        large = self.add("tool jsonl → dir, 10× larger partition", self.days[:1], small,
                         note="ratio: rows/s vs the small one; compare peak RSS")
        four = self.add("tool jsonl → dir, 4 workers", self.days, note="peak RSS target < 150 MB")
        self.alternate({small: lambda: self.tool([self.small_day], "jsonl", "local", table="small"),
                        large: lambda: self.tool(self.days[:1], "jsonl", "local"),
                        four: lambda: self.tool(self.days, "jsonl", "local", workers=4)})

    def stores(self) -> None:
        """One partition to each kind of store, beside the directory: each store's throughput class.

        The servers are emulators on loopback sharing the machine's cores: compare the ratios, not MB/s.
        """
        from tests.servers import (
            S3RVER_KEY,
            azurite_connection_string,
            start_azurite,
            start_gcs_emulator,
            start_s3rver,
        )

        log("one partition to each store: a directory, moto, s3rver, Azurite, gcp-storage-emulator")
        day = [self.days[0]]
        servers = [start_s3rver(self.scratch / "s3rver"), start_azurite(self.scratch / "azurite"),
                   start_gcs_emulator()]
        try:
            s3rver, azurite, gcs = servers
            boto3 = __import__("boto3")
            boto3.client("s3", endpoint_url=s3rver.endpoint, region_name="us-east-1", aws_access_key_id=S3RVER_KEY,
                         aws_secret_access_key=S3RVER_KEY).create_bucket(Bucket="bench")
            from azure.storage.blob import BlobServiceClient

            BlobServiceClient.from_connection_string(
                azurite_connection_string(azurite.endpoint)).create_container("bench")
            os.environ["STORAGE_EMULATOR_HOST"] = gcs.endpoint
            from google.cloud import storage as gcs_client

            gcs_client.Client().create_bucket("bench")
            stores = {
                "moto": ("s3://{bucket}", ["--s3-endpoint", self.s3.endpoint, "--s3-region", "us-east-1"], {}),
                "s3rver": ("s3://bench", ["--s3-endpoint", s3rver.endpoint, "--s3-region", "us-east-1"],
                           {"AWS_ACCESS_KEY_ID": S3RVER_KEY, "AWS_SECRET_ACCESS_KEY": S3RVER_KEY}),
                "Azurite": ("az://bench", [], {"AZURE_STORAGE_CONNECTION_STRING":
                                               azurite_connection_string(azurite.endpoint)}),
                "gcp-storage-emulator": ("gs://bench", [], {"STORAGE_EMULATOR_HOST": gcs.endpoint}),
            }
            local = self.add("tool jsonl → dir (beside the stores)", day)
            contenders: dict[str, Callable[[], Sample]] = {local: lambda: self.tool(day, "jsonl", "local")}
            for name, (url, flags, env) in stores.items():
                case = self.add(f"tool jsonl → {name}", day, local, note="ratio: vs the same run to a directory")
                contenders[case] = lambda url=url, flags=flags, env=env: self.tool(
                    day, "jsonl", "dest", dest=[*flags, "--dest", url.format(bucket=self.s3.bucket)], env=env)
            self.alternate(contenders)
        finally:
            for server in servers:
                server.stop()

    def rerun(self) -> None:
        count = self.args.many
        log(f"rerun: {count:,} small partitions archived to S3, then archived again")
        days = dataset.make_empty_days(self.dsn, "many", count, rows_per_day=5)
        self.s3.empty()
        cache = self.scratch / "rerun-cache"
        flags = ["--table", "many", "--start-date", days[0].isoformat(), "--end-date", days[-1].isoformat(),
                 "--output-format", "jsonl", "--workers", "2", "--cache-dir", str(cache), *self._s3_flags()]
        first, _ = run_together([self._cli(flags)], self.env, scratch=self.scratch)
        log(f"  first run: {first.seconds:.1f}s")
        samples = []
        for _ in range(self.args.repeat):
            sample, stdout = run_together([self._cli(flags)], self.env, scratch=self.scratch)
            summary = json.loads(stdout[0])["summary"]
            if summary["skipped"] != count:
                raise BenchError(f"the rerun skipped {summary['skipped']} of {count} archived partitions")
            samples.append(sample)
            log(f"  rerun: {sample.seconds:.2f}s")
        samples.sort(key=lambda s: s.seconds)
        self.extra["rerun"] = {"partitions": count, "first_run_seconds": first.seconds,
                               "rerun_seconds": samples[len(samples) // 2].seconds,
                               "rerun_peak_rss_mb": max(s.peak_rss_mb for s in samples)}

    def discovery(self) -> None:
        from pgarchiver_tui.db.connection import connect
        from pgarchiver_tui.db.discovery import discover

        count = self.args.wide
        log(f"discovery: {count:,} partitions")
        dataset.make_empty_days(self.dsn, "wide", count)
        times = []
        for _ in range(self.args.repeat):
            with connect(self.dsn) as conn:
                started = time.perf_counter()
                found = discover(conn, "public", "wide")
                times.append(time.perf_counter() - started)
            if len(found.partitions) != count:
                raise BenchError(f"discovery found {len(found.partitions)} of {count} partitions")
        times.sort()
        self.extra["discovery"] = {"partitions": count, "seconds": times[len(times) // 2]}
        log(f"  discovery: {times[len(times) // 2]:.2f}s")

    # -- issue 16: CPU per row, a loaded machine, many small partitions ------------------------------------
    def cpu_per_row(self) -> None:
        """CPU per row against the pipe on narrow rows (the standard rows are the single group's cases), and
        the tool's start-up: one run over a partition of one row."""
        log("CPU per row: narrow rows, and the tool's start-up")
        day = [self.narrow_day]
        contenders: dict[str, Callable[[], Sample]] = {}
        for fmt in ("jsonl", "csv"):
            pipe = self.add(f"psql {fmt} | zstd -3, narrow rows", day, table="narrow")
            contenders[pipe] = lambda fmt=fmt: self.pipes(day, fmt, table="narrow")
            tool = self.add(f"tool {fmt} → dir, narrow rows", day, pipe, table="narrow")
            contenders[tool] = lambda fmt=fmt: self.tool(day, fmt, "local", table="narrow")
        self.alternate(contenders)
        tiny = dataset.make_narrow(self.dsn, "tiny", 1, 1)
        self.text_bytes["tiny", tiny[0]] = 0
        tools = sorted(self.tool(tiny, "jsonl", "local", table="tiny").cpu_seconds for _ in range(self.args.repeat))
        pipes = sorted(self.pipes(tiny, "jsonl", table="tiny").cpu_seconds for _ in range(self.args.repeat))
        to_s3 = sorted(self.tool(tiny, "jsonl", "s3", table="tiny").cpu_seconds for _ in range(self.args.repeat))
        self.extra["startup_s3_cpu_seconds"] = to_s3[len(to_s3) // 2]
        self.extra["startup_cpu_seconds"] = tools[len(tools) // 2]
        self.extra["pipe_startup_cpu_seconds"] = pipes[len(pipes) // 2]
        log(f"  start-up (a partition of one row): the tool {self.extra['startup_cpu_seconds']:.2f}s CPU "
            f"({self.extra['startup_s3_cpu_seconds']:.2f}s to S3), the pipe {self.extra['pipe_startup_cpu_seconds']:.2f}s")

    def loaded(self) -> None:
        """The same contenders with one CPU-burning process per core beside them, alternated in one run."""
        log(f"loaded: one CPU-burning process on each of {os.cpu_count()} cores")
        one, two = [self.days[0]], self.days[:2]
        pipe = self.add("loaded: psql row_to_json | zstd -3", one)
        tool = self.add("loaded: tool jsonl → dir", one, pipe)
        pipes = self.add("loaded: 2 × psql row_to_json | zstd -3 at once", two)
        tools = self.add("loaded: tool jsonl → dir, 2 workers", two, pipes)
        with Burners():
            self.alternate({pipe: lambda: self.pipes(one, "jsonl"), tool: lambda: self.tool(one, "jsonl", "local"),
                            pipes: lambda: self.pipes(two, "jsonl"),
                            tools: lambda: self.tool(two, "jsonl", "local", workers=2)})

    def many_small(self) -> None:
        """Many small partitions of narrow rows: `--workers 2` against the pipe under `xargs -P 2`, and what
        each object costs beyond its rows."""
        count, rows = self.args.small_partitions, self.args.small_rows
        log(f"many small partitions: {count} × {rows:,} narrow rows")
        days = dataset.make_narrow(self.dsn, "smallmany", count, rows)
        for day in days:
            self.text_bytes["smallmany", day] = 0
        xargs = self.add(f"xargs -P 2 psql row_to_json | zstd -3, {count} partitions", days, table="smallmany")
        tool = self.add(f"tool jsonl → dir, 2 workers, {count} partitions", days, xargs, table="smallmany")
        self.alternate({xargs: lambda: self.pipes(days, "jsonl", table="smallmany", xargs=2),
                        tool: lambda: self.tool(days, "jsonl", "local", workers=2, table="smallmany")})
        self.extra["per_object_steps_ms"] = self.object_steps(count)

    def object_steps(self, count: int) -> dict[str, float]:
        """Wall milliseconds of each per-object step beside the rows, each done `count` times in this process
        on the benchmark's own server, directory and cache: the median of each."""
        import threading

        from pgarchiver_tui.cache import Cache, Record
        from pgarchiver_tui.db.connection import connect
        from pgarchiver_tui.storage.local import LocalStorage

        root = self.scratch / "steps"
        storage = LocalStorage(root / "archive")
        cache = Cache(root / "cache" / "archive.sqlite3", storage.url)
        facts = json.dumps({"key": "k", "rows": 20_000, "columns": [{"name": f"c{n}"} for n in range(6)]}).encode()
        timings: dict[str, list[float]] = {k: [] for k in ("claim", "listing", "object fsync + rename", "sidecar",
                                                            "cache record")}

        def timed(name: str, step: Callable[[], object]) -> None:
            started = time.perf_counter()
            step()
            timings[name].append((time.perf_counter() - started) * 1000)

        with connect(self.dsn) as conn:
            conn.autocommit = True
            for n in range(count):
                key = f"public/steps/2024/steps-{n:04d}.jsonl.zst"
                timed("claim", lambda key=key: (
                    conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key]).fetchone(),
                    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key]).fetchone()))
                timed("object fsync + rename", lambda key=key: storage.write(key, [b"x" * 4096], threading.Event()))
                timed("sidecar", lambda key=key: storage.put_bytes(f"{key}.facts.json", facts))
                timed("cache record", lambda key=key: cache.record_archived(Record(
                    key=key, schema="public", table_name="steps", period_start="2024-01-01", period_end="2024-01-02",
                    duration="day", status="archived", rows=20_000)))
        timed("listing", lambda: list(storage.list("public/steps/")))
        timings["listing"] = [timings["listing"][0] / count]  # one listing for the run, per object
        return {name: sorted(values)[len(values) // 2] for name, values in timings.items()}

    def split(self) -> None:
        """One partition read by 2 and 4 connections on one snapshot (`--split`), against one pipe."""
        log("one partition, --split 2 and --split 4")
        day = [self.days[0]]
        pipe = self.add("psql row_to_json | zstd -3 (beside --split)", day)
        contenders: dict[str, Callable[[], Sample]] = {pipe: lambda: self.pipes(day, "jsonl")}
        for readers in (2, 4):
            case = self.add(f"tool jsonl → dir, --split {readers}", day, pipe)
            contenders[case] = lambda readers=readers: self.tool(day, "jsonl", "local", extra=["--split", str(readers)])
        self.alternate(contenders)

    def _issue16_measures(self, summaries: dict[str, dict]) -> dict[str, float | None]:
        def cpu_ratio(name: str) -> float | None:
            """CPU per row: each side's CPU less what it spends once per run (its start-up), the tool's over
            the pipe's; a run's other partitions pay no start-up. The whole runs' ratio is in cpu_table."""
            return per_row_ratio(summaries.get(name), summaries, self.extra)

        def ratio(name: str) -> float | None:
            return summaries[name]["ratio"] if name in summaries else None

        s3_cpu = [summaries[f"tool {f} → S3"]["cpu_seconds"] / summaries[f"tool {f} → dir"]["cpu_seconds"]
                  for f in ("jsonl", "csv") if f"tool {f} → S3" in summaries and f"tool {f} → dir" in summaries]
        count = self.args.small_partitions
        s3_startup, startup = self.extra.get("startup_s3_cpu_seconds"), self.extra.get("startup_cpu_seconds")
        if s3_startup is not None and startup is not None:  # what each row costs, beyond what each run pays once
            self.extra["cpu_s3_vs_local_per_row"] = max(
                ((summaries[f"tool {f} → S3"]["cpu_seconds"] - s3_startup)
                 / (summaries[f"tool {f} → dir"]["cpu_seconds"] - startup)
                 for f in ("jsonl", "csv") if f"tool {f} → S3" in summaries and f"tool {f} → dir" in summaries),
                default=None)
        return {
            "cpu_jsonl_vs_pipe": cpu_ratio("tool jsonl → dir"), "cpu_csv_vs_pipe": cpu_ratio("tool csv → dir"),
            "cpu_narrow_jsonl_vs_pipe": cpu_ratio("tool jsonl → dir, narrow rows"),
            "cpu_narrow_csv_vs_pipe": cpu_ratio("tool csv → dir, narrow rows"),
            "cpu_s3_vs_local": max(s3_cpu, default=None),
            "loaded_one_vs_pipe": ratio("loaded: tool jsonl → dir"),
            "loaded_two_vs_two_pipes": ratio("loaded: tool jsonl → dir, 2 workers"),
            "many_small_vs_xargs": ratio(f"tool jsonl → dir, 2 workers, {count} partitions"),
            "split_4_vs_pipe": ratio("tool jsonl → dir, --split 4"),
            "rss_split_4_mb": summaries.get("tool jsonl → dir, --split 4", {}).get("peak_rss_mb"),
        }

    def tui_table(self) -> None:
        """Placeholder: the TUI's partition table with 10,000 rows is measured by the TUI's Pilot benchmark."""

    # -- contenders ----------------------------------------------------------------------------------------
    def pipes(self, days: list[date], kind: str, table: str = "events", xargs: int = 0) -> Sample:
        """One `psql COPY | zstd` per partition, all at once, or `xargs -P <xargs>` over them."""
        outputs, shells = [], []
        for day in days:
            partition = f"public.{dataset.day_name(table, day)}"
            out = self.scratch / f"pipe-{table}-{day}.{kind}.zst"
            copy = {
                "ceiling": f"COPY {partition} TO STDOUT",
                "jsonl": f"COPY (SELECT row_to_json(t) FROM {partition} t) TO STDOUT",
                "csv": f"COPY {partition} TO STDOUT (FORMAT csv, HEADER)",
            }[kind]
            psql = f"psql -X -q -v ON_ERROR_STOP=1 -d '{self.dsn}' -c \"{copy}\""
            shell = f"{psql} > /dev/null" if kind == "ceiling" else f"set -o pipefail; {psql} | zstd -{LEVEL} -q -c > {out}"
            shells.append(shell)
            outputs.append(out)
        if xargs:  # the shell's own parallelism: one line per partition, N pipes at a time
            script = self.scratch / "pipes.txt"
            script.write_text("".join(shell.replace("\n", " ") + "\n" for shell in shells))
            commands = [["bash", "-c", f"set -o pipefail; tr '\\n' '\\0' < {script} | "
                                       f"xargs -0 -P {xargs} -n 1 bash -c"]]
        else:
            commands = [["bash", "-c", shell] for shell in shells]
        sample, _ = self.measured(commands, self.env, outputs)
        for out in outputs:
            out.unlink(missing_ok=True)
        return sample

    def measured(self, commands: list[list[str]], env: dict[str, str],
                 outputs: Sequence[Path] = ()) -> tuple[Sample, list[str]]:
        """run_together, plus the CPU PostgreSQL and the S3 server spent meanwhile (each counted apart)."""
        server, store = children_cpu(self.postmaster), process_cpu(self.s3.process.pid)
        sample, stdout = run_together(commands, env, outputs, scratch=self.scratch)
        sample.server_cpu_seconds = children_cpu(self.postmaster) - server
        sample.store_cpu_seconds = process_cpu(self.s3.process.pid) - store
        return sample, stdout

    def tool(self, days: list[date], fmt: str, where: str, workers: int = 1, table: str = "events",
             dest: list[str] | None = None, env: dict[str, str] | None = None, extra: Sequence[str] = ()) -> Sample:
        self.runs += 1
        target = self.scratch / f"run-{self.runs}"
        if where == "local":
            destination = ["--local-dir", str(target / "archive")]
        elif dest is not None:  # a --dest URL: each run under a prefix of its own, so that nothing is skipped
            destination = [*dest[:-1], f"{dest[-1]}/run-{self.runs}"]
        else:
            self.s3.empty()
            destination = self._s3_flags()
        flags = ["--table", table, "--start-date", min(days).isoformat(), "--end-date", max(days).isoformat(),
                 "--output-format", fmt, "--compression", "zstd", "--compression-level", str(LEVEL),
                 "--workers", str(workers), "--cache-dir", str(target / "cache"), *destination, *extra]
        sample, stdout = self.measured([self._cli(flags)], {**self.env, **(env or {})})
        report = json.loads(stdout[0])
        if report["summary"]["archived"] != len(days):
            raise BenchError(f"the tool archived {report['summary']['archived']} of {len(days)} partitions: "
                             f"{report['objects']}")
        sample.output_bytes = report["summary"]["bytes_out"]
        sample.job_seconds = report["summary"]["seconds"]
        sample.report = report
        shutil.rmtree(target, ignore_errors=True)
        return sample

    def _cli(self, flags: list[str]) -> list[str]:
        return [sys.executable, "-m", "pgarchiver_tui", "--no-ui", "--json", "--dsn", self.dsn, *flags]

    def _s3_flags(self) -> list[str]:
        return ["--s3-endpoint", self.s3.endpoint, "--s3-bucket", self.s3.bucket, "--s3-region", "us-east-1"]

    def _text_bytes(self, partition: str) -> int:
        """The partition's size as COPY text, the unit of MB/s for every contender."""
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            return int(conn.execute(f"SELECT sum(octet_length(t::text) + 1) FROM {partition} t").fetchone()[0])

    # -- verdicts ------------------------------------------------------------------------------------------
    def verdicts(self) -> dict:
        summaries = {name: case.summary(self.cases) for name, case in self.cases.items()}

        def ratio(name: str) -> float | None:
            return summaries[name]["ratio"] if name in summaries else None

        measured: dict[str, float | None] = {
            "jsonl_local_vs_pipe": ratio("tool jsonl → dir"),
            "csv_local_vs_pipe": ratio("tool csv → dir"),
            "two_workers_vs_two_pipes": ratio("tool jsonl → dir, 2 workers"),
            "s3_vs_local": min(filter(None, [ratio("tool jsonl → S3"), ratio("tool csv → S3")]), default=None),
            "size_vs_zstd": max(filter(None, [summaries.get(n, {}).get("size_ratio")
                                              for n in ("tool jsonl → dir", "tool csv → dir")]), default=None),
            "rss_4_workers_mb": summaries.get("tool jsonl → dir, 4 workers", {}).get("peak_rss_mb"),
            "rerun_1000_seconds": self.extra.get("rerun", {}).get("rerun_seconds"),  # type: ignore[union-attr]
            "discovery_10000_seconds": self.extra.get("discovery", {}).get("seconds"),  # type: ignore[union-attr]
        }
        small = summaries.get("tool jsonl → dir, small partition")
        large = summaries.get("tool jsonl → dir, 10× larger partition")
        measured["rss_large_vs_small"] = large["peak_rss_mb"] / small["peak_rss_mb"] if small and large else None
        measured.update(self._issue16_measures(summaries))
        upper_bounds = UPPER_BOUNDS
        return {
            name: {"target": target, "measured": measured[name],
                   "met": None if measured[name] is None else
                   (measured[name] <= target if name in upper_bounds else measured[name] >= target)}
            for name, target in TARGETS.items()
        }


def render(results: dict) -> str:
    lines = [f"rows per partition {results['rows_per_partition']:,}; zstd level {results['level']}; medians of "
             f"{results['repeat']}; {results['machine']}", "",
             "| case | rows/s | MB/s | compressed | peak RSS | CPU s | ratio | rows/s after start-up |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for case in results["cases"]:
        ratio = f"{case['ratio']:.2f}×" if case["ratio"] else ""
        size = f"{case['output_bytes'] / 1e6:.1f} MB" if case["output_bytes"] else ""
        if case["size_ratio"]:
            size += f" ({case['size_ratio']:.3f}×)"
        steady = f"{case['job_rows_per_second']:,.0f}" if case["job_rows_per_second"] else ""
        lines.append(f"| {case['name']} | {case['rows_per_second']:,.0f} | {case['mb_per_second']:.1f} | {size} | "
                     f"{case['peak_rss_mb']:.0f} MB | {case['cpu_seconds']:.2f} | {ratio} | {steady} |")
    extra = results["extra"]
    if "rerun" in extra:
        lines.append(f"\nrerun over {extra['rerun']['partitions']:,} archived partitions (S3): "
                     f"{extra['rerun']['rerun_seconds']:.2f}s (first run {extra['rerun']['first_run_seconds']:.1f}s)")
    if "discovery" in extra:
        lines.append(f"discovery of {extra['discovery']['partitions']:,} partitions: {extra['discovery']['seconds']:.2f}s")
    lines.append(f"TUI table of 10,000 rows: {extra['tui_partition_table_10000']['status']}")
    lines += cpu_table(results)
    lines += ["", "| target | wanted | measured | met |", "|---|---:|---:|---|"]
    for name, verdict in results["targets"].items():
        measured = "" if verdict["measured"] is None else f"{verdict['measured']:.3g}"
        met = {True: "yes", False: "NO", None: "not measured"}[verdict["met"]]
        lines.append(f"| {name} | {verdict['target']} | {measured} | {met} |")
    return "\n".join(lines)


def per_row_ratio(case: dict | None, cases: dict[str, dict], extra: dict) -> float | None:
    """(tool CPU − tool start-up) / (pipe CPU − pipe start-up), for a tool case measured against a pipe."""
    base = cases.get(case["baseline"] or "") if case else None
    tool_startup, pipe_startup = extra.get("startup_cpu_seconds"), extra.get("pipe_startup_cpu_seconds")
    if not case or not base or tool_startup is None or pipe_startup is None or "tool" in base["name"]:
        return case.get("cpu_ratio") if case else None
    return (case["cpu_seconds"] - tool_startup) / (base["cpu_seconds"] - pipe_startup)


def copy_reader() -> str:
    """Which COPY reader the tool will use here: "C" (the extension was built) or "Python"."""
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); from pgarchiver_tui.pipeline import source; "
             "import psycopg; print('C' if source.native_reader() else 'Python')")
    return subprocess.run([sys.executable, "-c", probe, str(HERE.parent)], capture_output=True, text=True,
                          check=True).stdout.strip()


def cpu_table(results: dict) -> list[str]:
    """CPU per row of every case (user + system of the contender's processes; PostgreSQL's and the S3
    server's counted apart), and what the tool pays once per run and once per object."""
    extra = results["extra"]
    cases = {case["name"]: case for case in results["cases"]}
    lines = ["", "| case | CPU s | µs/row | CPU vs baseline, whole runs | per row (each less its start-up) | "
             "PostgreSQL CPU s | S3 server CPU s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for case in results["cases"]:
        cpu_ratio = f"{case['cpu_ratio']:.2f}×" if case.get("cpu_ratio") else ""
        base = cases.get(case["baseline"] or "")
        less = ""
        if base and case.get("cpu_ratio") and "tool" in case["name"] and "tool" not in base["name"]:
            per_row = per_row_ratio(case, cases, extra)
            less = f"{per_row:.2f}×" if per_row is not None and per_row != case["cpu_ratio"] else ""
        lines.append(f"| {case['name']} | {case['cpu_seconds']:.2f} | {case['cpu_us_per_row'] or 0:.2f} | {cpu_ratio} | "
                     f"{less} | {case['server_cpu_seconds']:.2f} | {case['store_cpu_seconds']:.2f} |")
    if "startup_cpu_seconds" in extra:
        lines.append(f"\nstart-up (a run over a partition of one row): the tool {extra['startup_cpu_seconds']:.2f} "
                     f"CPU s ({extra.get('startup_s3_cpu_seconds', 0):.2f} to S3), the pipe "
                     f"{extra.get('pipe_startup_cpu_seconds', 0):.2f} CPU s")
    if extra.get("cpu_s3_vs_local_per_row") is not None:
        lines.append(f"the tool's CPU per row to S3, each run less its start-up: "
                     f"{extra['cpu_s3_vs_local_per_row']:.2f}× its CPU per row to a directory")
    if "copy_reader" in extra:
        lines.append(f"the tool's COPY reader: {extra['copy_reader']}")
    for shape in ("standard", "narrow"):
        if f"{shape}_row_bytes" in extra:
            lines.append(f"{shape} rows: {extra[f'{shape}_row_bytes']:.0f} bytes per row as COPY text")
    if "per_object_steps_ms" in extra:
        steps = ", ".join(f"{name} {ms:.2f} ms" for name, ms in extra["per_object_steps_ms"].items())
        lines.append(f"per-object steps (wall, median): {steps}")
    return lines


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    server = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} CPUs {cpu}; {server}; Python {sys.version.split()[0]}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
