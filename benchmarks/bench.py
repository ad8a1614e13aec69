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
from measure import BenchError, Case, Sample, run_together  # noqa: E402

DEFAULT_ROWS = 500_000
LEVEL = 3
TARGETS = {
    "jsonl_local_vs_pipe": 0.95, "csv_local_vs_pipe": 0.95, "two_workers_vs_two_pipes": 0.9,
    "s3_vs_local": 0.85, "size_vs_zstd": 1.01, "rss_4_workers_mb": 150, "rss_large_vs_small": 1.10,
    "rerun_1000_seconds": 10, "discovery_10000_seconds": 3,
}


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
    parser.add_argument("--only", nargs="*", default=[],
                        help="groups to run: single two memory rerun discovery (default all)")
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

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "PGARCHIVER_"))}
        home = self.scratch / "home"
        env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"),
                   XDG_DATA_HOME=str(home / "data"), AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull, PYTHONPATH=str(HERE.parent))
        return env

    # -- the run -------------------------------------------------------------------------------------------
    def run(self) -> dict:
        args = self.args
        groups = set(args.only) or {"single", "two", "memory", "rerun", "discovery"}
        started = time.perf_counter()
        log(f"generating 4 partitions of {args.rows:,} rows and one of {args.rows // 10:,}")
        self.days = dataset.make_events(self.dsn, "events", 4, args.rows)
        self.small_day = dataset.make_events(self.dsn, "small", 1, args.rows // 10)[0]
        self.text_bytes = {("events", day): self._text_bytes(dataset.day_name("events", day)) for day in self.days}
        self.text_bytes["small", self.small_day] = self._text_bytes(dataset.day_name("small", self.small_day))
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
                log(f"  {name}: {sample.seconds:.2f}s cpu {sample.cpu_seconds:.2f}s rss {sample.peak_rss_mb:.0f}MB")

    def add(self, name: str, days: list[date], baseline: str | None = None, note: str = "",
            table: str = "events") -> str:
        rows = (self.args.rows // 10 if table == "small" else self.args.rows) * len(days)
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

    def tui_table(self) -> None:
        """Placeholder: the TUI's partition table with 10,000 rows is measured by the TUI's Pilot benchmark."""

    # -- contenders ----------------------------------------------------------------------------------------
    def pipes(self, days: list[date], kind: str) -> Sample:
        outputs, commands = [], []
        for day in days:
            partition = f"public.{dataset.day_name('events', day)}"
            out = self.scratch / f"pipe-{day}.{kind}.zst"
            copy = {
                "ceiling": f"COPY {partition} TO STDOUT",
                "jsonl": f"COPY (SELECT row_to_json(t) FROM {partition} t) TO STDOUT",
                "csv": f"COPY {partition} TO STDOUT (FORMAT csv, HEADER)",
            }[kind]
            psql = f"psql -X -q -v ON_ERROR_STOP=1 -d '{self.dsn}' -c \"{copy}\""
            shell = f"{psql} > /dev/null" if kind == "ceiling" else f"set -o pipefail; {psql} | zstd -{LEVEL} -q -c > {out}"
            commands.append(["bash", "-c", shell])
            outputs.append(out)
        sample, _ = run_together(commands, self.env, outputs, scratch=self.scratch)
        for out in outputs:
            out.unlink(missing_ok=True)
        return sample

    def tool(self, days: list[date], fmt: str, where: str, workers: int = 1, table: str = "events") -> Sample:
        self.runs += 1
        target = self.scratch / f"run-{self.runs}"
        if where == "local":
            destination = ["--local-dir", str(target / "archive")]
        else:
            self.s3.empty()
            destination = self._s3_flags()
        flags = ["--table", table, "--start-date", min(days).isoformat(), "--end-date", max(days).isoformat(),
                 "--output-format", fmt, "--compression", "zstd", "--compression-level", str(LEVEL),
                 "--workers", str(workers), "--cache-dir", str(target / "cache"), *destination]
        sample, stdout = run_together([self._cli(flags)], self.env, scratch=self.scratch)
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
        upper_bounds = {"size_vs_zstd", "rss_4_workers_mb", "rss_large_vs_small", "rerun_1000_seconds",
                        "discovery_10000_seconds"}
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
    lines += ["", "| target | wanted | measured | met |", "|---|---:|---:|---|"]
    for name, verdict in results["targets"].items():
        measured = "" if verdict["measured"] is None else f"{verdict['measured']:.3g}"
        met = {True: "yes", False: "NO", None: "not measured"}[verdict["met"]]
        lines.append(f"| {name} | {verdict['target']} | {measured} | {met} |")
    return "\n".join(lines)


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
