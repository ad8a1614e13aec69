"""purge as a process: killed at any moment it leaves each period untouched or fully purged, and a rerun finishes;
two purges at once purge each period once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pgarchiver_tui.commands.demo_data import seed_events
from tests.archive_support import Run, execute, query
from tests.purge_support import (
    Store,
    archive,
    count,
    local_store,
    outcome,
    outcomes,
    purge,
    relations,
    restore,
    same_rows,
    save,
    verify,
)

REPO = Path(__file__).resolve().parents[1]
PREFIX = "public/events/2024/01/"


def start(dsn: str, table: str, start_date: str, end_date: str, store: Store, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "pgarchiver_tui", "purge", "--no-ui", "--yes", "--json", "--dsn", dsn, "--table",
            table, "--start-date", start_date, "--end-date", end_date, *store.args, *extra]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(process: subprocess.Popen[str], text: str) -> None:
    """Read the process's stderr until a line holds `text`; fail if it ends first."""
    lines = []
    for line in process.stderr:  # type: ignore[union-attr]
        lines.append(line)
        if text in line:
            return
    process.wait()
    raise AssertionError(f"the process ended (exit {process.returncode}) before logging {text!r}: {lines}")


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def finish(process: subprocess.Popen[str]) -> Run:
    out, err = process.communicate(timeout=120)
    return Run(process.returncode, out, err)


def test_killed_between_periods_the_rerun_finishes(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(tmp_path)
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)
    for day in ("20240101", "20240102", "20240103"):
        save(seeded_events, f"events_{day}", f"saved_{day}")
    process = start(seeded_events, "events", "2024-01-01", "2024-01-03", store, "--pause", "600")
    try:
        wait_for_line(process, "purged public.events_20240101")
    finally:
        kill(process)  # in the pause before the second period
    assert relations(seeded_events, "events_2024010%") == ["events_20240102", "events_20240103", "events_20240104",
                                                          "events_20240105"]
    assert store.record(f"{PREFIX}events-2024-01-01.jsonl.zst")["status"] == "purged"  # type: ignore[index]

    rerun = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)

    assert rerun.code == 0, rerun.err
    assert outcomes(rerun) == [("public/events/2024/01/events-2024-01-01.jsonl.zst", "already purged"),
                               ("public.events_20240102", "purged"), ("public.events_20240103", "purged")]
    assert relations(seeded_events, "events_2024010%") == ["events_20240104", "events_20240105"]
    assert verify(capsys, seeded_events, "events", store).code == 0
    back = restore(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)
    assert back.code == 0, back.err
    for day in ("20240101", "20240102", "20240103"):
        assert same_rows(seeded_events, f"events_{day}", f"saved_{day}")


def test_killed_inside_a_batched_delete_the_window_is_untouched_and_the_rerun_purges_it(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(tmp_path)
    execute(pg_dsn, "CREATE TABLE plain (id bigint PRIMARY KEY, at timestamptz NOT NULL, body text)",
            "INSERT INTO plain SELECT g, '2024-01-01 00:00+00'::timestamptz + (g - 1) * interval '1 day' / 200, "
            "md5(g::text) FROM generate_series(1, 400) AS g")
    archive(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-02", store, date_column="at")
    save(pg_dsn, "plain", "saved")
    key = "public/plain/2024/01/plain-2024-01-01.jsonl.zst"
    process = start(pg_dsn, "plain", "2024-01-01", "2024-01-02", store, "--date-column", "at", "--batch-rows", "50",
                    "--pause", "600")
    try:
        wait_for_line(process, "deleted batch 1 of public.plain [2024-01-01, 2024-01-02): 50 of 200 rows")
    finally:
        kill(process)  # with 50 rows deleted, uncommitted, in the pause before the second batch
    assert count(pg_dsn, "plain") == 400
    intent = store.record(key)
    assert intent is not None and intent["status"] == "purging" and intent["xid"], intent

    rerun = purge(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-02", store, date_column="at")

    assert rerun.code == 0, rerun.err
    assert [o for _, o in outcomes(rerun)] == ["purged", "purged"]
    assert count(pg_dsn, "plain") == 0
    assert store.record(key)["status"] == "purged"  # type: ignore[index]
    assert verify(capsys, pg_dsn, "plain", store, "--date-column", "at").code == 0
    back = restore(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-02", store, "--date-column", "at")
    assert back.code == 0, back.err
    assert same_rows(pg_dsn, "plain", "saved")


def test_stopped_after_the_commit_before_the_record_the_rerun_completes_the_record(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from pgarchiver_tui.commands.purge import period

    class Killed(BaseException):
        """Stands for the process dying: nothing after it runs."""

    store = local_store(tmp_path)
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-01", store)
    writes: list[str] = []
    real = period.write_records

    def write_then_die(storage, record):  # type: ignore[no-untyped-def]
        writes.append(record.status)
        if record.status == "purged":
            raise Killed()
        real(storage, record)

    monkeypatch.setattr(period, "write_records", write_then_die)
    died: list[type[BaseException]] = []  # periods are purged on a worker thread: Killed ends that thread
    monkeypatch.setattr(threading, "excepthook", lambda hook: died.append(hook.exc_type))
    stopped = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-01", store)
    monkeypatch.undo()
    key = f"{PREFIX}events-2024-01-01.jsonl.zst"
    assert died == [Killed] and writes == ["purging", "purged"]
    [stopped_period] = stopped.report["objects"]
    assert (stopped.code, stopped_period["outcome"]) == (1, "failed"), stopped.err
    assert stopped_period["reason"] == "its worker stopped before finishing it"
    assert relations(seeded_events, "events_20240101") == []
    assert store.record(key)["status"] == "purging"  # type: ignore[index]

    rerun = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-01", store)

    assert rerun.code == 0, rerun.err
    [period_report] = rerun.report["objects"]
    assert outcome(period_report) == "already purged"
    assert period_report["reason"].startswith("purged by an interrupted run (started ")
    assert store.record(key)["status"] == "purged"  # type: ignore[index]


def test_two_purges_at_once_purge_each_period_once(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_events(pg_dsn, days=8, rows_per_day=100)
    store = local_store(tmp_path)
    archive(capsys, pg_dsn, "events", "2024-01-01", "2024-01-08", store)

    first = start(pg_dsn, "events", "2024-01-01", "2024-01-08", store)
    second = start(pg_dsn, "events", "2024-01-01", "2024-01-08", store)
    runs = [finish(first), finish(second)]

    assert [r.code for r in runs] == [0, 0], "\n\n".join(f"run {n} (exit {r.code}):\n{r.err}" for n, r in enumerate(runs))
    purged: dict[str, int] = {}
    for run in runs:
        for item in json.loads(run.out)["objects"]:
            assert outcome(item) in ("purged", "already purged"), item
            if item["outcome"] == "purged":
                for key in item["keys"]:
                    purged[key] = purged.get(key, 0) + 1
    assert sorted(purged) == [f"{PREFIX}events-2024-01-0{day}.jsonl.zst" for day in range(1, 9)]
    assert set(purged.values()) == {1}
    assert relations(pg_dsn, "events%") == ["events", "events_default"]
    assert query(pg_dsn, "SELECT count(*) FROM events") == [(0,)]


def test_a_purge_waits_for_another_purge_of_the_table_past_its_lock_timeout(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import psycopg

    from tests.support.waiting import wait_until

    store = local_store(tmp_path)
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-01", store)
    with psycopg.connect(seeded_events, autocommit=True) as other:  # another purge of the table, mid-period
        other.execute("SELECT pg_advisory_lock(hashtextextended('pgarchiver-purge:public.events', 0))")
        process = start(seeded_events, "events", "2024-01-01", "2024-01-01", store, "--lock-timeout", "200")
        try:
            # the server's own clock says the wait has outlasted --lock-timeout five times over
            wait_until(lambda: query(seeded_events, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = "
                                                    "'advisory' AND clock_timestamp() - query_start > interval "
                                                    "'1 second'") == [(1,)], "the purge waiting for its turn")
        except AssertionError:
            process.kill()
            raise
        other.execute("SELECT pg_advisory_unlock(hashtextextended('pgarchiver-purge:public.events', 0))")
        run = finish(process)

    assert run.code == 0, run.err
    assert outcomes(run) == [("public.events_20240101", "purged")]
    assert relations(seeded_events, "events_20240101") == []
