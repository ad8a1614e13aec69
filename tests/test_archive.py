"""Headless end to end: `pgarchiver-tui --no-ui …` into moto's S3 and into a directory, reruns, bad input."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgarchiver_tui.commands.archive.prepare import prepare
from pgarchiver_tui.commands.demo_data import seed_events
from pgarchiver_tui.core.events import Event, JobResult, JobStarted
from pgarchiver_tui.core.settings import Settings, load_settings
from pgarchiver_tui.core.sidecars import sidecar_key
from pgarchiver_tui.db.throwaway import dsn_with_dbname
from pgarchiver_tui.pipeline.digest import multipart_etag
from pgarchiver_tui.storage import s3 as s3_storage
from tests.archive_support import (
    Run,
    archive_args,
    archived_files,
    execute,
    jsonl_rows,
    query,
    read_object,
    run_cli,
    sidecar,
)
from tests.support.waiting import wait_until

DAYS = [f"2024-01-0{d}" for d in range(1, 6)]
KEYS = [f"public/events/2024/01/events-{day}.jsonl.zst" for day in DAYS]


def s3_args(bucket) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"s3_endpoint": bucket.endpoint, "s3_bucket": bucket.name, "s3_region": "us-east-1"}


def bucket_objects(bucket) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    pages = bucket.client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name)
    return {item["Key"]: item for page in pages for item in page.get("Contents", [])}


def our_sessions(dsn: str) -> int:
    return query(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgarchiver-tui'")[0][0]


def partition_scans(dsn: str) -> dict[str, int]:
    """Sequential scans per dated partition, once every pgarchiver-tui session has ended (and flushed its stats)."""
    wait_until(lambda: our_sessions(dsn) == 0, "pgarchiver-tui sessions to end")
    rows = query(dsn, "SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname ~ '^events_2024' "
                      "ORDER BY relname")
    return dict(rows)  # type: ignore[arg-type]


def cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "xdg" / "cache").rglob("*.sqlite*"))


# -- the main job, into S3 and into a directory ------------------------------------------------------------------

def test_archive_into_s3(seeded_events: str, s3_bucket, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", workers=2,
                                        path_template="archives/{table}/{YYYY}/{MM}", **s3_args(s3_bucket)))
    assert run.code == 0, run.err
    summary = run.report["summary"]
    assert [summary[k] for k in ("archived", "skipped", "failed", "cancelled", "dry_run", "rows")] == [
        5, 0, 0, 0, 0, 1500]
    assert summary["bytes_in"] > summary["bytes_out"] > 0
    keys = [f"archives/events/2024/01/events-{day}.jsonl.zst" for day in DAYS]
    stored = bucket_objects(s3_bucket)
    assert sorted(stored) == sorted(keys + [sidecar_key(k) for k in keys])
    for key in keys:
        body = s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=key)["Body"].read()
        facts = json.loads(s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=sidecar_key(key))["Body"].read())
        assert facts["etag"] == stored[key]["ETag"].strip('"') == hashlib.md5(body).hexdigest()
        assert facts["sha256"] == hashlib.sha256(body).hexdigest() and facts["bytes_out"] == len(body)
        assert (facts["rows"], facts["schema"], facts["table"], facts["format"], facts["compression"]) == (
            300, "public", "events", "jsonl", "zstd")
        assert [c["name"] for c in facts["columns"]][:3] == ["id", "created_at", "account_id"]
        assert facts["period_start"].startswith(key[-20:-10]) and facts["tool_version"]
    assert s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", []) == []
    lines = run.err.splitlines()
    assert sum(" events-2024-01-0" in line and "←" in line for line in lines) == 5  # one "started" each
    archived = [line for line in lines if "archived archives/events" in line]
    assert len(archived) == 5 and all("300 rows" in line and "MB/s" in line and "ratio" in line for line in archived)
    assert "finished: 5 archived, 0 skipped, 0 failed" in lines[-1]


def test_archive_into_a_directory(seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "archive"
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", local_dir=root))
    assert run.code == 0, run.err
    assert sorted(archived_files(root)) == KEYS
    for key, path in archived_files(root).items():
        facts = sidecar(path)
        assert facts["key"] == key and facts["rows"] == 300
        assert facts["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert facts["etag"] == ""  # a directory has no ETag: the SHA-256 and the size are its digest
        assert facts["bytes_out"] == path.stat().st_size
    assert len(jsonl_rows(root)) == 1500
    assert not [p for p in root.rglob("*") if p.name.startswith(".pgarchiver-tmp")]


def test_a_failed_object_gives_exit_1_and_the_others_are_archived(pg_dsn: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # legacy tables of week 1 disagree on their columns: one object cannot hold both; week 2 is fine
    execute(pg_dsn, "CREATE TABLE logs_20240101 (id int, msg text)", "CREATE TABLE logs_20240102 (id int)",
            "CREATE TABLE logs_20240108 (id int, msg text)", "INSERT INTO logs_20240108 VALUES (1, 'x')")
    root = tmp_path / "archive"
    run = run_cli(capsys, *archive_args(pg_dsn, "logs", "2024-01-01", "2024-01-14", output_duration="weekly",
                                        local_dir=root))
    assert run.code == 1
    assert [o["outcome"] for o in run.objects()] == ["failed", "archived"]
    failed = run.objects("failed")[0]
    assert failed["category"] == "integrity" and "different columns" in failed["reason"]
    assert "1 archived, 0 skipped, 1 failed" in run.err and f"failed {failed['key']} [integrity]" in run.err
    assert list(archived_files(root)) == ["public/logs/2024/01/logs-2024-W02.jsonl.zst"]
    assert not [p for p in root.rglob("*") if p.name.startswith(".pgarchiver-tmp")]


# -- skip and resume ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["s3", "local"])
def test_a_rerun_skips_everything_without_reading_the_database(seeded_events: str, s3_bucket, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               capsys: pytest.CaptureFixture[str], where: str) -> None:
    destination = s3_args(s3_bucket) if where == "s3" else {"local_dir": str(tmp_path / "archive")}
    args = archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", **destination)
    before = partition_scans(seeded_events)
    first = run_cli(capsys, *args)
    assert first.code == 0, first.err
    after_first = partition_scans(seeded_events)
    assert all(after_first[name] > before[name] for name in before)  # the counters do see a COPY

    again = run_cli(capsys, *args)
    assert again.code == 0, again.err
    assert [(o["outcome"], o["reason"]) for o in again.objects()] == [
        ("skipped", "already archived (cache and destination agree)")] * 5
    assert partition_scans(seeded_events) == after_first  # no COPY, no scan of any partition
    assert "←" not in again.err  # no job started
    assert "finished: 0 archived, 5 skipped, 0 failed" in again.err


def test_objects_present_but_not_cached_are_recorded_and_skipped(seeded_events: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", local_dir=tmp_path / "archive")
    assert run_cli(capsys, *args).code == 0
    before = {key: path.stat().st_mtime_ns for key, path in archived_files(tmp_path / "archive").items()}
    for path in cache_files(tmp_path):
        path.unlink()
    again = run_cli(capsys, *args)
    assert again.code == 0, again.err
    assert {o["reason"] for o in again.objects()} == {
        "found in the destination with matching facts; recorded in the cache"}
    assert {key: path.stat().st_mtime_ns for key, path in archived_files(tmp_path / "archive").items()} == before
    third = run_cli(capsys, *args)  # recorded: now the cache and the destination agree
    assert {o["reason"] for o in third.objects()} == {"already archived (cache and destination agree)"}


def test_a_corrupt_cache_is_set_aside_with_a_warning_and_rebuilt(seeded_events: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", local_dir=tmp_path / "archive")
    assert run_cli(capsys, *args).code == 0
    [database] = [p for p in cache_files(tmp_path) if p.suffix == ".sqlite"]
    for path in cache_files(tmp_path):
        if path != database:
            path.unlink()
    database.write_bytes(b"this is not a database " * 200)
    again = run_cli(capsys, *args)
    assert again.code == 0, again.err
    assert "WARNING" in again.err and "unreadable" in again.err
    assert any("unreadable" in n for n in again.report["notices"])
    assert {o["outcome"] for o in again.objects()} == {"skipped"}
    assert list(database.parent.glob("*.corrupt-*"))  # kept aside for a look, not deleted
    third = run_cli(capsys, *args)
    assert {o["reason"] for o in third.objects()} == {"already archived (cache and destination agree)"}
    assert "unreadable" not in third.err


def test_force_archives_again(seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", local_dir=tmp_path / "archive")
    assert run_cli(capsys, *args).code == 0
    forced = run_cli(capsys, *args, "--force")
    assert forced.code == 0, forced.err
    assert [o["outcome"] for o in forced.objects()] == ["archived"] * 5
    assert len(jsonl_rows(tmp_path / "archive")) == 1500


def test_dry_run_reads_and_compresses_but_writes_nothing(seeded_events: str, s3_bucket, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    for destination in (s3_args(s3_bucket), {"local_dir": str(tmp_path / "archive")}):
        run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", dry_run=True,
                                            **destination))
        assert run.code == 0, run.err
        assert [(o["outcome"], o["reason"], o["rows"]) for o in run.objects()] == [
            ("dry-run", f"would write {key}", 300) for key in KEYS]
        assert all(o["bytes_out"] > 0 for o in run.objects())
        assert "dry run" in run.err
    assert bucket_objects(s3_bucket) == {}
    assert s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", []) == []
    assert not [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]
    assert cache_files(tmp_path) == []


# -- multipart ---------------------------------------------------------------------------------------------------

def test_an_object_larger_than_one_part_is_a_checked_multipart_upload(pg_dsn: str, s3_bucket,  # type: ignore[no-untyped-def]
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(s3_storage, "FIRST_PART_BYTES", 5 * s3_storage.MiB)
    execute(pg_dsn, "CREATE TABLE big (id int, day date NOT NULL, h text) PARTITION BY RANGE (day)",
            "CREATE TABLE big_20240101 PARTITION OF big FOR VALUES FROM ('2024-01-01') TO ('2024-01-02')",
            "INSERT INTO big SELECT g, '2024-01-01', md5(g::text) || md5((-g)::text) FROM generate_series(1, 80000) g")
    run = run_cli(capsys, *archive_args(pg_dsn, "big", "2024-01-01", "2024-01-01", compression="none",
                                        **s3_args(s3_bucket)))
    assert run.code == 0, run.err
    key = "public/big/2024/01/big-2024-01-01.jsonl"
    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=key)
    facts = json.loads(s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=sidecar_key(key))["Body"].read())
    assert head["ContentLength"] > 5 * s3_storage.MiB
    assert facts["part_sizes"][0] == 5 * s3_storage.MiB and sum(facts["part_sizes"]) == head["ContentLength"]
    assert len(facts["part_sizes"]) == 2 and head["ETag"].strip('"').endswith("-2")
    assert facts["etag"] == head["ETag"].strip('"')
    body = s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=key)["Body"].read()
    cuts, offset = [], 0
    for size in facts["part_sizes"]:
        cuts.append(hashlib.md5(body[offset:offset + size]).digest())
        offset += size
    assert multipart_etag(cuts) == facts["etag"]  # S3's ETag, recomputed from the real part boundaries
    assert facts["rows"] == 80000 == body.count(b"\n")
    assert s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", []) == []


def test_part_sizes_fit_any_object_into_10000_parts() -> None:
    sizes = [s3_storage.part_size(n) for n in range(1, s3_storage.MAX_PARTS + 1)]
    assert all(5 * s3_storage.MiB <= size <= 5 * 1024 * s3_storage.MiB for size in sizes)
    assert sum(sizes) >= 5 * 1024**4  # S3's largest object, 5 TiB
    assert sizes[0] == s3_storage.FIRST_PART_BYTES  # small objects keep small parts


# -- workers -----------------------------------------------------------------------------------------------------

def test_workers_archive_that_many_objects_at_once(seeded_events: str, tmp_path: Path) -> None:
    prepared = prepare(Settings(dsn=seeded_events, table="events", start_date="2024-01-01", end_date="2024-01-05",
                                local_dir=str(tmp_path / "archive"), workers=3, no_ui=True))
    three_started = threading.Event()
    events: list[Event] = []

    def collect(event: Event) -> None:
        events.append(event)
        if sum(isinstance(e, JobStarted) for e in events) >= 3:
            three_started.set()

    # every partition locked: a worker that starts a job stays in it until the lock goes
    with psycopg.connect(seeded_events) as blocker:
        blocker.execute("LOCK TABLE " + ", ".join(f"events_{d.replace('-', '')}" for d in DAYS) +
                        " IN ACCESS EXCLUSIVE MODE")
        run = prepared.run(collect)
        thread = threading.Thread(target=run.run)
        thread.start()
        try:
            assert three_started.wait(15)
            wait_until(lambda: query(seeded_events, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                     "'pgarchiver-tui' AND wait_event_type = 'Lock'")[0][0] == 3,
                       "three sessions waiting on their partitions")
            started = [e for e in events if isinstance(e, JobStarted)]
            assert {e.worker for e in started} == {1, 2, 3}
            assert not any(isinstance(e, JobResult) for e in events)  # all three are in flight together
        finally:
            blocker.rollback()
            thread.join(30)
    if prepared.cache:
        prepared.cache.close()
    results = [e for e in events if isinstance(e, JobResult)]
    assert [r.outcome.value for r in results] == ["archived"] * 5


# -- output periods that differ from partition periods -----------------------------------------------------------

@pytest.mark.parametrize(("duration", "objects"), [
    ("hourly", 120), ("daily", 5), ("weekly", 1), ("monthly", 1), ("yearly", 1),
])
def test_output_periods_never_overwrite(seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        duration: str, objects: int) -> None:
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", workers=2,
                                        output_duration=duration, date_column="created_at",
                                        local_dir=tmp_path / "archive"))
    assert run.code == 0, run.err
    archived = run.objects("archived")
    keys = [o["key"] for o in archived]
    assert len(keys) == len(set(keys)) == objects == len(archived_files(tmp_path / "archive"))
    total = query(seeded_events, "SELECT count(*) FROM events")[0][0]
    assert sum(o["rows"] for o in archived) == total == 1500
    ids = [row["id"] for row in jsonl_rows(tmp_path / "archive")]
    assert sorted(ids) == list(range(1, 1501))  # every row exactly once


# -- bad input: one line, exit 2, nothing written ----------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_input_db(pg_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """One seeded database for every bad-input case (they only read the catalog)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = pg_server.create_database(name)
    seed_events(dsn, days=2, rows_per_day=10)
    execute(dsn, "CREATE TABLE plain (id int, at date)")
    try:
        yield dsn
    finally:
        pg_server.drop_database(name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


BAD_INPUT = {
    "impossible date": ({"start_date": "2024-02-30"}, "--start-date '2024-02-30' is not a date"),
    "bad date": ({"end_date": "yesterday"}, "--end-date 'yesterday' is not a date"),
    "not YYYY-MM-DD": ({"start_date": "20240101"}, "--start-date '20240101' is not a date"),
    "month 13": ({"end_date": "2024-13-01"}, "--end-date '2024-13-01' is not a date"),
    "end before start": ({"start_date": "2024-01-02", "end_date": "2024-01-01"}, "is before --start-date"),
    "unknown table": ({"table": "nope"}, "table public.nope does not exist"),
    "unknown schema": ({"table": "nope.events"}, "schema 'nope' does not exist"),
    "no partitions, no date column": ({"table": "plain"}, "give --date-column"),
    "bad template": ({"path_template": "{table}/{month}"}, "unknown placeholder {month}"),
    "malformed template": ({"path_template": "{table"}, "--path-template '{table' is malformed"),
    "unknown format": ({"output_format": "xml"}, "--output-format 'xml' is unknown; use one of jsonl, csv, parquet"),
    "unknown compression": ({"compression": "bz2"}, "--compression 'bz2' is unknown; use one of zstd"),
    "zstd level": ({"compression_level": "23"}, "--compression-level 23 is out of range for zstd"),
    "gzip level": ({"compression": "gzip", "compression_level": "0"}, "out of range for gzip; use 1..9"),
    "bad duration": ({"output_duration": "fortnightly"}, "fortnightly"),
    "no destination": ({"local_dir": None}, "no destination"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_2(bad_input_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          case: str) -> None:
    changes, message = BAD_INPUT[case]
    options = {"dsn": bad_input_db, "table": "events", "start_date": "2024-01-01", "end_date": "2024-01-02",
               "local_dir": str(tmp_path / "archive"), **changes}
    args = [f"--{k.replace('_', '-')}={v}" for k, v in options.items() if v is not None]
    if case == "bad duration":
        with pytest.raises(SystemExit) as stopped:  # argparse's choices: its own usage line and exit 2
            run_cli(capsys, *args)
        assert stopped.value.code == 2 and "invalid choice: 'fortnightly'" in capsys.readouterr().err
        return
    assert_refused(run_cli(capsys, *args), message, tmp_path)


def assert_refused(run: Run, message: str, tmp_path: Path, code: int = 2) -> None:
    """One line naming the problem, the exit code (2: fix the configuration, 3: a service is unavailable)."""
    assert run.code == code, run.err
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("pgarchiver-tui: error: ") and message in lines[0], lines[0]
    assert run.report == {"exit_code": code, "error": lines[0].removeprefix("pgarchiver-tui: error: ")}
    assert not [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]


def test_unreachable_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dsn = f"postgresql://nobody@127.0.0.1:{free_port()}/x?connect_timeout=5"
    run = run_cli(capsys, *archive_args(dsn, "events", "2024-01-01", "2024-01-02", local_dir=tmp_path / "archive"))
    assert_refused(run, "cannot connect to the database", tmp_path, code=3)


@pytest.mark.parametrize("who", ["unknown role", "unknown database"])
def test_refused_credentials(bad_input_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], who: str) -> None:
    from psycopg.conninfo import make_conninfo

    if who == "unknown role":
        dsn = make_conninfo(bad_input_db, user="no_such_role", password="wrong")
        expected = 'role "no_such_role" does not exist'
    else:
        dsn = dsn_with_dbname(bad_input_db, "no_such_db")
        expected = 'database "no_such_db" does not exist'
    run = run_cli(capsys, *archive_args(dsn, "events", "2024-01-01", "2024-01-02", local_dir=tmp_path / "archive"))
    assert_refused(run, expected, tmp_path)
    assert "wrong" not in run.err


def test_missing_bucket(bad_input_db: str, s3_bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    run = run_cli(capsys, *archive_args(bad_input_db, "events", "2024-01-01", "2024-01-02",
                                        s3_endpoint=s3_bucket.endpoint, s3_bucket="no-such-bucket"))
    assert_refused(run, "bucket 'no-such-bucket' does not exist", tmp_path)


def test_unreachable_s3_endpoint_is_said_within_seconds(bad_input_db: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    run = run_cli(capsys, *archive_args(bad_input_db, "events", "2024-01-01", "2024-01-02", s3_bucket="archive",
                                        s3_endpoint=f"http://127.0.0.1:{free_port()}", s3_access_key="k",
                                        s3_secret_key="s", s3_region="us-east-1"))
    assert_refused(run, "cannot reach the S3 endpoint", tmp_path, code=3)
    assert time.monotonic() - started < 10


def test_no_select_privilege_on_a_partition(bad_input_db: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from psycopg.conninfo import make_conninfo

    role = f"r_{uuid.uuid4().hex[:10]}"
    execute(bad_input_db, f"CREATE ROLE {role} LOGIN", f"GRANT SELECT ON events, events_20240101 TO {role}")
    try:
        dsn = make_conninfo(bad_input_db, user=role)
        run = run_cli(capsys, *archive_args(dsn, "events", "2024-01-01", "2024-01-02",
                                            local_dir=tmp_path / "archive"))
        assert_refused(run, "no SELECT privilege on public.events_20240102", tmp_path)
    finally:
        execute(bad_input_db, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


# -- settings ----------------------------------------------------------------------------------------------------

def test_settings_precedence_flags_env_profile_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('workers = 5\ncompression = "gzip"\n\n[profiles.nightly]\nworkers = 3\n'
                      'output_format = "csv"\npath-template = "p/{table}"\n')
    env = {"PGARCHIVER_WORKERS": "2", "PGARCHIVER_OUTPUT_FORMAT": "parquet"}
    layered = load_settings({"workers": 4}, env, str(config), "nightly")
    assert (layered.workers, layered.output_format, layered.path_template, layered.compression) == (
        4, "parquet", "p/{table}", "gzip")
    assert load_settings({}, env, str(config), "nightly").workers == 2
    assert load_settings({}, {}, str(config), "nightly").workers == 3
    assert load_settings({}, {}, str(config), None).workers == 5
    assert load_settings({}, {"PGARCHIVER_PROFILE": "nightly"}, str(config)).output_format == "csv"
    defaults = load_settings({}, {})  # no config file in the (isolated) user config dir
    assert (defaults.workers, defaults.output_format, defaults.compression) == (1, "jsonl", "zstd")


def test_settings_reach_the_run_through_every_layer(seeded_events: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "xdg" / "config" / "pgarchiver-tui" / "config.toml"  # the platform's user config dir
    config.parent.mkdir(parents=True)
    config.write_text(f'table = "events"\ncompression = "lz4"\n[profiles.nightly]\noutput_format = "csv"\n'
                      f'local_dir = "{tmp_path / "from-profile"}"\npath_template = "{{table}}"\n')
    monkeypatch.setenv("PGARCHIVER_DSN", seeded_events)
    monkeypatch.setenv("PGARCHIVER_COMPRESSION", "gzip")
    monkeypatch.setenv("PGARCHIVER_PROFILE", "nightly")
    run = run_cli(capsys, "--start-date", "2024-01-01", "--end-date", "2024-01-01",
                  "--local-dir", str(tmp_path / "from-flag"))
    assert run.code == 0, run.err
    assert list(archived_files(tmp_path / "from-flag")) == ["events/events-2024-01-01.csv.gz"]
    assert not (tmp_path / "from-profile").exists()


def test_log_format_json_gives_one_json_object_per_line(seeded_events: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-02", log_format="json",
                                        local_dir=tmp_path / "archive"))
    assert run.code == 0, run.err
    lines = [json.loads(line) for line in run.err.splitlines()]
    assert [line["event"] for line in lines] == ["run_started", "started", "archived", "started", "archived",
                                                 "summary"]
    assert lines[-1]["archived"] == 2 and lines[2]["rows"] == 300


# -- secrets -----------------------------------------------------------------------------------------------------

def test_secrets_are_never_printed_or_stored(seeded_events: str, s3_bucket, tmp_path: Path,  # type: ignore[no-untyped-def]
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from psycopg.conninfo import make_conninfo

    db_secret, s3_secret, url_secret = "db-Pw-7f3a9", "s3-Sk-91bd2", "url-Pw-c0ffee"
    dsn = make_conninfo(seeded_events, password=url_secret)
    secrets = (db_secret, s3_secret, url_secret)

    def with_secrets(*args: str, bucket: str = s3_bucket.name) -> list[str]:
        return [*args, "--s3-endpoint", s3_bucket.endpoint, "--s3-bucket", bucket, "--s3-region", "us-east-1",
                "--s3-access-key", "testing", "--s3-secret-key", s3_secret, "--db-password", db_secret]

    runs = [
        run_cli(capsys, *with_secrets(*archive_args(dsn, "events", "2024-01-01", "2024-01-02"))),
        run_cli(capsys, *with_secrets(*archive_args(dsn, "events", "2024-01-01", "2024-01-02", log_format="json"))),
        run_cli(capsys, *with_secrets(*archive_args(dsn, "nope", "2024-01-01", "2024-01-02"))),
        run_cli(capsys, *with_secrets(*archive_args(dsn, "events", "2024-01-01", "2024-01-02"),
                                      bucket="no-such-bucket")),
    ]
    assert [r.code for r in runs] == [0, 0, 2, 2]
    assert runs[0].report["database"].endswith("/" + psycopg.conninfo.conninfo_to_dict(seeded_events)["dbname"])
    written = b"".join(p.read_bytes() for p in cache_files(tmp_path))
    written += b"".join(s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=k)["Body"].read()
                        for k in bucket_objects(s3_bucket) if k.endswith(".meta.json"))
    assert written
    for secret in secrets:
        for run in runs:
            assert secret not in run.out and secret not in run.err
        assert secret.encode() not in written
    assert Settings(db_password=db_secret, s3_secret_key=s3_secret, dsn=dsn).masked()["dsn"].count(url_secret) == 0


def test_bytes_in_is_the_uncompressed_size(seeded_events: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-01",
                                        local_dir=tmp_path / "archive"))
    [path] = archived_files(tmp_path / "archive").values()
    assert len(read_object(path)) == run.objects()[0]["bytes_in"] == sidecar(path)["bytes_in"]
