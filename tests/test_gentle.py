"""Gentle on production: named, read-only sessions that take only ACCESS SHARE locks, timeouts and throttles."""

from __future__ import annotations

import time

import psycopg
import pytest
from faults.harness import archive_settings, local, run_in_process, seed_big, verify_destination
from psycopg import errors

from pgarchiver_tui.core.events import Event, JobProgress, JobResult, JobStarted, Stage
from pgarchiver_tui.db.connection import APPLICATION_NAME, connect


@pytest.fixture
def one_big_day(pg_dsn: str) -> str:
    seed_big(pg_dsn, days=1, mib_per_day=11)
    return pg_dsn


def test_engine_sessions_are_named_and_only_read_with_access_share_locks(one_big_day, tmp_path, capsys):  # type: ignore[no-untyped-def]
    seen: list[list[tuple]] = []

    def look_while_copying(event: Event) -> None:
        if isinstance(event, JobProgress) and event.stage is Stage.READING and event.rows > 0 and not seen:
            with psycopg.connect(one_big_day, autocommit=True) as admin:
                seen.append(admin.execute(
                    "SELECT a.application_name, a.query, a.backend_xid, l.locktype, l.mode, l.relation::regclass "
                    "FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                    "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND l.granted "
                    "AND l.locktype IN ('relation', 'advisory')").fetchall())

    # throttled, so the COPY is still running when the first rows arrive
    settings = archive_settings(one_big_day, "big", 1, local_dir=str(tmp_path / "a"), max_rate=20.0)
    run = run_in_process(settings, capsys, look_while_copying)

    assert run.code == 0, run.log
    [locks] = seen
    assert {row[0] for row in locks} == {APPLICATION_NAME}  # every session of the run is named
    assert all(row[1].startswith("COPY") for row in locks)
    assert {row[2] for row in locks} == {None}  # no transaction id: it never wrote
    relation_modes = {(str(row[5]), row[4]) for row in locks if row[3] == "relation"}
    assert ("big_20240101", "AccessShareLock") in relation_modes
    assert {mode for _, mode in relation_modes} == {"AccessShareLock"}
    assert [row[4] for row in locks if row[3] == "advisory"] == ["ExclusiveLock"]  # the claim
    verify_destination(local(tmp_path / "a"), one_big_day)


def test_engine_connection_refuses_writes_and_carries_the_timeouts(one_big_day):  # type: ignore[no-untyped-def]
    conn = connect(one_big_day, statement_timeout_ms=1234, lock_timeout_ms=567)
    try:
        with conn.transaction():
            settings = conn.execute("SELECT current_setting('transaction_read_only'), "
                                    "current_setting('transaction_isolation'), current_setting('statement_timeout'), "
                                    "current_setting('lock_timeout'), current_setting('application_name')").fetchone()
        assert settings == ("on", "repeatable read", "1234ms", "567ms", APPLICATION_NAME)
        with pytest.raises(errors.ReadOnlySqlTransaction), conn.transaction():
            conn.execute("DELETE FROM big")
    finally:
        conn.close()
    with psycopg.connect(one_big_day) as check:
        assert check.execute("SELECT count(*) FROM big").fetchone()[0] > 0


def test_statement_timeout_stops_a_long_copy(one_big_day, tmp_path, capsys):  # type: ignore[no-untyped-def]
    # the server alone needs ~200 ms to format 12 MB as JSON, and read at 5 MB/s the COPY lasts two seconds:
    # far more than the 50 ms allowed
    settings = archive_settings(one_big_day, "big", 1, local_dir=str(tmp_path / "a"), max_rate=5.0,
                                statement_timeout=50)
    run = run_in_process(settings, capsys)

    assert run.code == 1, run.log
    [item] = run.objects()
    assert (item["outcome"], item["category"], item["attempts"]) == ("failed", "database", 1), item
    assert "statement timeout" in item["reason"]
    assert verify_destination(local(tmp_path / "a"), one_big_day) == {}


def test_max_rate_bounds_the_reading_speed(one_big_day, tmp_path, capsys):  # type: ignore[no-untyped-def]
    max_rate = 10.0  # MB/s
    settings = archive_settings(one_big_day, "big", 1, local_dir=str(tmp_path / "a"), max_rate=max_rate,
                                compression="none")
    run = run_in_process(settings, capsys)

    assert run.code == 0, run.log
    [item] = run.objects()
    assert item["bytes_in"] > 11e6
    # the token bucket lets the first 1 MiB chunk through at once: a small burst above the rate
    assert item["bytes_in"] / 1e6 / item["seconds"] <= max_rate * 1.25, item
    summary = run.report["summary"]
    assert summary["bytes_in"] / 1e6 / summary["seconds"] <= max_rate * 1.25, summary


def test_lock_timeout_stops_a_run_behind_ddl_instead_of_hanging(one_big_day, tmp_path, capsys):  # type: ignore[no-untyped-def]
    settings = archive_settings(one_big_day, "big", 1, local_dir=str(tmp_path / "a"), lock_timeout=200)
    with psycopg.connect(one_big_day) as ddl:
        ddl.execute("LOCK TABLE big_20240101 IN ACCESS EXCLUSIVE MODE")  # as an ALTER TABLE would
        run = run_in_process(settings, capsys)

    assert run.code != 0
    assert "canceling statement due to lock timeout" in run.log and "Traceback" not in run.log
    assert verify_destination(local(tmp_path / "a"), one_big_day) == {}


def test_pause_spaces_the_objects_of_a_worker(seeded_events, tmp_path, capsys):  # type: ignore[no-untyped-def]
    moments: dict[str, float] = {}

    def note(event: Event) -> None:
        if isinstance(event, JobResult) and event.job.key.endswith("01.jsonl.zst"):
            moments["first done"] = time.monotonic()
        elif isinstance(event, JobStarted) and event.job.key.endswith("02.jsonl.zst"):
            moments["second started"] = time.monotonic()

    settings = archive_settings(seeded_events, "events", 2, local_dir=str(tmp_path / "a"), pause=0.5)
    run = run_in_process(settings, capsys, note)

    assert run.code == 0, run.log
    assert moments["second started"] - moments["first done"] >= 0.5
