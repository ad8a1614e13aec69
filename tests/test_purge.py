"""purge: each kind of source purged only on a proof, and given back whole by restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgarchiver_tui.core.sidecars import sidecar_key
from tests.archive_support import execute, query
from tests.purge_support import (
    archive,
    count,
    local_store,
    outcome,
    outcomes,
    purge,
    relations,
    restore,
    s3_store,
    same_rows,
    save,
    verify,
)

PREFIX = "public/events/2024/01/"
KEYS = [f"{PREFIX}events-2024-01-0{day}.jsonl.zst" for day in (1, 2, 3)]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_native_partitions_are_dropped_on_proof_and_restore_gives_them_back(
        seeded_events: str, s3_bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:  # type: ignore[no-untyped-def]
    store = local_store(tmp_path) if where == "local" else s3_store(s3_bucket, tmp_path)
    execute(seeded_events, "CREATE TABLE events_archive_p20240101 (id int)", "INSERT INTO events_archive_p20240101 "
                           "VALUES (1)")
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)
    for day in ("20240101", "20240102", "20240103"):
        save(seeded_events, f"events_{day}", f"saved_{day}")

    run = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)

    assert run.code == 0, run.err
    assert outcomes(run) == [(f"public.events_2024010{d}", "purged") for d in (1, 2, 3)]
    assert [p["rows"] for p in run.report["objects"]] == [300, 300, 300]
    assert relations(seeded_events, "events%") == ["events", "events_20240104", "events_20240105",
                                                   "events_archive_p20240101", "events_default"]
    assert count(seeded_events, "events_archive_p20240101") == 1
    for key in KEYS:
        record = store.record(key)
        assert record is not None and record["status"] == "purged", record
        assert record["proof"]["live_fingerprint"] == record["proof"]["archived_fingerprint"]
    proven = verify(capsys, seeded_events, "events", store, "--deep")
    assert proven.code == 0, proven.err
    back = restore(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)
    assert back.code == 0, back.err
    for day in ("20240101", "20240102", "20240103"):
        assert same_rows(seeded_events, f"events_{day}", f"saved_{day}")


def seed_plain(dsn: str, table: str = "plain", days: int = 5, per_day: int = 200) -> None:
    """A table that is not partitioned, dated by `at`, `per_day` rows a day from 2024-01-01."""
    execute(dsn, f"CREATE TABLE {table} (id bigint PRIMARY KEY, at timestamptz NOT NULL, body text)",
            f"INSERT INTO {table} SELECT g, '2024-01-01 00:00+00'::timestamptz + (g - 1) * interval '1 day' / "
            f"{per_day}, md5(g::text) FROM generate_series(1, {days * per_day}) AS g")


def test_a_sub_partition_leaf_is_dropped_and_its_siblings_and_parent_stay(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(tmp_path)
    execute(pg_dsn,
            "CREATE TABLE sub (id bigint, at timestamptz NOT NULL, body text) PARTITION BY RANGE (at)",
            "CREATE TABLE sub_2024_01 PARTITION OF sub FOR VALUES FROM ('2024-01-01 00:00+00') TO "
            "('2024-02-01 00:00+00') PARTITION BY RANGE (at)",
            *[f"CREATE TABLE sub_2024_01_0{d} PARTITION OF sub_2024_01 FOR VALUES FROM ('2024-01-0{d} 00:00+00') "
              f"TO ('2024-01-0{d + 1} 00:00+00')" for d in (1, 2, 3)],
            "INSERT INTO sub SELECT g, '2024-01-01 00:00+00'::timestamptz + g * interval '1 minute', md5(g::text) "
            "FROM generate_series(0, 3 * 1440 - 1) AS g")
    archive(capsys, pg_dsn, "sub", "2024-01-01", "2024-01-02", store)
    save(pg_dsn, "sub_2024_01_01", "saved_01")
    save(pg_dsn, "sub_2024_01_02", "saved_02")

    run = purge(capsys, pg_dsn, "sub", "2024-01-01", "2024-01-02", store)

    assert run.code == 0, run.err
    assert outcomes(run) == [("public.sub_2024_01_01", "purged"), ("public.sub_2024_01_02", "purged")]
    assert relations(pg_dsn, "sub%") == ["sub", "sub_2024_01", "sub_2024_01_03"]
    assert count(pg_dsn, "sub") == 1440
    assert verify(capsys, pg_dsn, "sub", store).code == 0
    # restore attaches new partitions to the root only: the rows come back into a table of their own here
    back = restore(capsys, pg_dsn, "sub", "2024-01-01", "2024-01-02", store, "--target-table", "sub_back")
    assert back.code == 0, back.err
    assert same_rows(pg_dsn, "(SELECT * FROM sub_back WHERE at < '2024-01-02 00:00+00')", "saved_01")
    assert same_rows(pg_dsn, "(SELECT * FROM sub_back WHERE at >= '2024-01-02 00:00+00')", "saved_02")


def test_legacy_tables_are_dropped_on_proof_and_come_back_by_restore(
        pg_dsn: str, s3_bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    store = s3_store(s3_bucket, tmp_path)
    for day in (1, 2, 3):
        execute(pg_dsn, f"CREATE TABLE logs_2024010{day} (id bigint, at timestamptz, body text)",
                f"INSERT INTO logs_2024010{day} SELECT g, '2024-01-0{day} 00:00+00'::timestamptz + g * "
                "interval '1 minute', repeat('x', g) FROM generate_series(0, 99) AS g")
    execute(pg_dsn, "CREATE TABLE logs_archive_p20240101 (id int)")
    archive(capsys, pg_dsn, "logs", "2024-01-01", "2024-01-03", store)
    save(pg_dsn, "logs_20240101", "saved_01")

    run = purge(capsys, pg_dsn, "logs", "2024-01-01", "2024-01-02", store)

    assert run.code == 0, run.err
    assert outcomes(run) == [("public.logs_20240101", "purged"), ("public.logs_20240102", "purged")]
    assert relations(pg_dsn, "logs%") == ["logs_20240103", "logs_archive_p20240101"]
    assert verify(capsys, pg_dsn, "logs", store).code == 0
    back = restore(capsys, pg_dsn, "logs", "2024-01-01", "2024-01-01", store, "--target-table", "logs_back")
    assert back.code == 0, back.err
    assert same_rows(pg_dsn, "logs_back", "saved_01")


def test_windows_of_a_plain_table_are_deleted_in_batches_and_nothing_outside_them(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(tmp_path)
    seed_plain(pg_dsn)
    archive(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-03", store, date_column="at")
    save(pg_dsn, "plain", "saved", "at < '2024-01-03 00:00+00'")

    run = purge(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-02", store, "--batch-rows", "64",
                date_column="at")

    assert run.code == 0, run.err
    assert outcomes(run) == [("public.plain [2024-01-01, 2024-01-02)", "purged"),
                             ("public.plain [2024-01-02, 2024-01-03)", "purged")]
    assert [p["removed"] for p in run.report["objects"]][0] == [
        {"schema": "public", "name": "plain", "action": "delete", "window": ["2024-01-01T00:00:00",
                                                                             "2024-01-02T00:00:00"], "rows": 200}]
    assert "deleted batch 4 of public.plain [2024-01-01, 2024-01-02): 200 of 200 rows" in run.err
    assert count(pg_dsn, "plain") == 600
    assert count(pg_dsn, "plain", "at < '2024-01-03 00:00+00'") == 0
    assert count(pg_dsn, "plain", "at < '2024-01-04 00:00+00'") == 200  # the 3rd day, archived, not in the range
    proven = verify(capsys, pg_dsn, "plain", store, "--date-column", "at", "--deep")
    assert proven.code == 0, proven.err
    again = purge(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-02", store, date_column="at")
    assert again.code == 0, again.err
    assert [o for _, o in outcomes(again)] == ["already purged", "already purged"]
    back = restore(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-02", store, "--date-column", "at")
    assert back.code == 0, back.err
    assert [o["outcome"] for o in back.report["objects"]] == ["restored", "restored"]
    assert same_rows(pg_dsn, "(SELECT * FROM plain WHERE at < '2024-01-03 00:00+00')", "saved")


def reasons(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {p["key"]: f"{outcome(p)}: {p['reason']}" for p in run.report["objects"]}


@pytest.mark.parametrize("where", ["local", "s3"])
def test_each_reason_to_refuse_is_found_and_refused_periods_stay_while_the_others_go(
        pg_dsn: str, s3_bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:  # type: ignore[no-untyped-def]
    from pgarchiver_tui.commands.demo_data import seed_events

    seed_events(pg_dsn, days=6, rows_per_day=300)
    store = local_store(tmp_path) if where == "local" else s3_store(s3_bucket, tmp_path)
    archive(capsys, pg_dsn, "events", "2024-01-01", "2024-01-05", store)
    keys = [f"{PREFIX}events-2024-01-0{day}.jsonl.zst" for day in range(1, 7)]
    # 1: a row changed after archiving
    execute(pg_dsn, "UPDATE events SET amount = amount + 1 WHERE id = 1")
    # 2: the object deleted
    store.storage.delete(keys[1])
    # 3: one byte flipped
    data = bytearray(b"".join(store.storage.read(keys[2])))
    data[len(data) // 2] ^= 0x01
    store.storage.put_bytes(keys[2], bytes(data))
    # 4: the sidecar removed (the cache still knows the object)
    store.storage.delete(sidecar_key(keys[3]))
    # 5: sound; 6: never archived

    run = purge(capsys, pg_dsn, "events", "2024-01-01", "2024-01-06", store)

    assert run.code == 1, run.err
    found = reasons(run)
    assert found["public.events_20240101"].startswith("refused: live rows differ from the archive: the same 300 "
                                                      "rows in number, but their content differs")
    assert found["public.events_20240102"] == f"refused: object missing: {keys[1]} is not in the destination; " \
                                              "left untouched"
    assert found["public.events_20240103"].startswith(f"refused: object corrupt: {keys[2]}")
    assert found["public.events_20240104"].startswith(f"refused: object without facts: {keys[3]} has no metadata")
    assert found["public.events_20240105"].startswith("purged: dropped public.events_20240105 (300 rows)")
    assert found["public.events_20240106"] == "refused: not archived: no archived object holds it; left untouched"
    assert relations(pg_dsn, "events%") == ["events", "events_20240101", "events_20240102", "events_20240103",
                                            "events_20240104", "events_20240106", "events_default"]
    assert count(pg_dsn, "events") == 5 * 300
    assert [store.record(k) is not None for k in keys] == [False, False, False, False, True, False]
    changed = next(p for p in run.report["objects"] if p["key"] == "public.events_20240101")
    proof = changed["proof"]
    assert proof["live_rows"] == proof["archived_rows"] == 300
    assert proof["live_fingerprint"] != proof["archived_fingerprint"]


def test_a_partition_covered_only_in_part_or_reaching_outside_the_range_is_refused(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(tmp_path)
    execute(pg_dsn, "CREATE TABLE monthly (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at)",
            "CREATE TABLE monthly_2024_01 PARTITION OF monthly FOR VALUES FROM ('2024-01-01 00:00+00') TO "
            "('2024-02-01 00:00+00')",
            "INSERT INTO monthly SELECT g, '2024-01-01 00:00+00'::timestamptz + g * interval '1 hour' "
            "FROM generate_series(0, 31 * 24 - 1) AS g")
    # daily objects of the monthly partition, for its first ten days only
    archive(capsys, pg_dsn, "monthly", "2024-01-01", "2024-01-10", store, date_column="at")

    partly = purge(capsys, pg_dsn, "monthly", "2024-01-01", "2024-01-31", store, date_column="at")
    outside = purge(capsys, pg_dsn, "monthly", "2024-01-01", "2024-01-10", store, date_column="at")

    assert partly.code == 1 and outside.code == 1
    assert reasons(partly) == {"public.monthly_2024_01": "refused: the archive covers public.monthly_2024_01 only "
                               "in part: [2024-01-11, 2024-02-01) in no archived object; left untouched"}
    assert reasons(outside)["public.monthly_2024_01"].startswith(
        "refused: public.monthly_2024_01 ([2024-01-01, 2024-02-01)) reaches outside [2024-01-01, 2024-01-11)")
    assert count(pg_dsn, "monthly_2024_01") == 31 * 24

    archive(capsys, pg_dsn, "monthly", "2024-01-11", "2024-01-31", store, date_column="at")
    whole = purge(capsys, pg_dsn, "monthly", "2024-01-01", "2024-01-31", store, date_column="at")
    assert whole.code == 0, whole.err
    assert outcomes(whole) == [("public.monthly_2024_01", "purged")]
    assert len(whole.report["objects"][0]["keys"]) == 31  # one transaction, proven by 31 daily objects
    assert relations(pg_dsn, "monthly%") == ["monthly"]


def test_a_period_whose_object_holds_days_outside_the_range_is_purged_only_whole(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(tmp_path)
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-05", store, output_duration="weekly")

    part = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)
    assert part.code == 1
    [(label, outcome)] = outcomes(part)
    assert (label, outcome) == ("public.events_20240101 +4", "refused")
    assert "reaches outside [2024-01-01, 2024-01-04)" in part.report["objects"][0]["reason"]
    assert count(seeded_events, "events") == 1500

    week = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-07", store)
    assert week.code == 0, week.err
    assert [p["rows"] for p in week.report["objects"]] == [1500]
    assert relations(seeded_events, "events%") == ["events", "events_default"]


def test_default_partition_rows_are_refused_without_a_date_column_and_purged_by_date_with_one(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    execute(seeded_events, "INSERT INTO events (id, created_at, note) VALUES (9001, '2024-01-06 12:00+00', 'late'), "
                           "(9002, '2024-02-01 00:00+00', 'outside the range')")
    bare, dated = local_store(tmp_path / "bare"), local_store(tmp_path / "dated")
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-06", bare)

    refused = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-06", bare, dry_run=True)

    assert refused.code == 1
    assert reasons(refused)["public.events_default [2024-01-01, 2024-01-07)"].startswith(
        "refused: default public.events_default holds 1 row in the range: they are purged only by date, archived "
        "by date: give --date-column")

    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-06", dated, date_column="created_at")
    run = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-06", dated, date_column="created_at")

    assert run.code == 0, run.err
    assert len(run.report["objects"]) == 6
    assert run.report["objects"][5]["removed"] == [{"schema": "public", "name": "events_default", "action": "delete",
                                                    "window": ["2024-01-06T00:00:00", "2024-01-07T00:00:00"],
                                                    "rows": 1}]
    assert query(seeded_events, "SELECT id FROM events") == [(9002,)]  # the one row outside the range
    again = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-06", dated, date_column="created_at")
    assert again.code == 0, again.err
    assert {o for _, o in outcomes(again)} == {"already purged"}


def test_a_lock_held_past_the_lock_timeout_refuses_that_period_only(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import psycopg

    store = local_store(tmp_path)
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)
    with psycopg.connect(seeded_events) as holder:  # as a writer of that partition holds it, till its commit
        holder.execute("LOCK TABLE events_20240102 IN ROW EXCLUSIVE MODE")

        run = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store, lock_timeout=200)

        holder.rollback()
    assert run.code == 1, run.err
    found = reasons(run)
    assert found["public.events_20240102"].startswith("refused: a lock was not granted within --lock-timeout (200 "
                                                      "ms): canceling statement due to lock timeout")
    assert [o for _, o in outcomes(run)] == ["purged", "refused", "purged"]
    assert count(seeded_events, "events_20240102") == 300


@pytest.mark.parametrize("default_partition", [True, False])
def test_detach_only_keeps_the_tables_detached_concurrently_where_allowed(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], default_partition: bool) -> None:
    from pgarchiver_tui.commands.demo_data import seed_events

    seed_events(pg_dsn, days=3, rows_per_day=100)
    if not default_partition:
        execute(pg_dsn, "DROP TABLE events_default")
    store = local_store(tmp_path)
    archive(capsys, pg_dsn, "events", "2024-01-01", "2024-01-02", store)

    run = purge(capsys, pg_dsn, "events", "2024-01-01", "2024-01-02", store, "--detach-only")

    assert run.code == 0, run.err
    assert [p["method"] for p in run.report["objects"]] == ["transaction" if default_partition else "concurrently"] * 2
    assert [p["removed"][0]["action"] for p in run.report["objects"]] == ["detach", "detach"]
    attached = query(pg_dsn, "SELECT c.relname, c.relispartition FROM pg_class c WHERE c.relname LIKE 'events_2024%%' "
                             "ORDER BY 1")
    assert attached == [("events_20240101", False), ("events_20240102", False), ("events_20240103", True)]
    assert count(pg_dsn, "events_20240101") == count(pg_dsn, "events_20240102") == 100
    assert count(pg_dsn, "events") == 100
    assert store.record(f"{PREFIX}events-2024-01-01.jsonl.zst")["targets"][0]["action"] == "detach"  # type: ignore[index]
    assert verify(capsys, pg_dsn, "events", store).code == 0
    again = purge(capsys, pg_dsn, "events", "2024-01-01", "2024-01-02", store, "--detach-only")
    assert again.code == 0 and [o for _, o in outcomes(again)] == ["already purged", "already purged"]


def test_rows_inserted_into_a_window_while_it_is_purged_stay(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pgarchiver_tui.commands.purge.run import prepare_purge
    from pgarchiver_tui.core.events import Notice
    from pgarchiver_tui.core.settings import Settings

    store = local_store(tmp_path)
    seed_plain(pg_dsn, days=1)
    archive(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-01", store, date_column="at")
    settings = Settings(dsn=pg_dsn, table="plain", start_date="2024-01-01", end_date="2024-01-01", date_column="at",
                        local_dir=str(tmp_path / "archive"), cache_dir=str(tmp_path / "cache"), no_ui=True)
    inserted: list[str] = []

    def meanwhile(event: object) -> None:
        if isinstance(event, Notice) and event.message.startswith("deleted batch 1 ") and not inserted:
            # another session adds a row to the window between two batches, and commits
            execute(pg_dsn, "INSERT INTO plain VALUES (5000, '2024-01-01 12:00+00', 'arrived during the purge')")
            inserted.append(event.message)

    report = prepare_purge(settings, meanwhile, batch_rows=50).run()

    assert inserted, "no batch was deleted: nothing was tested"
    assert report.exit_code == 0, report.results
    assert report.results[0].rows == 200
    assert query(pg_dsn, "SELECT id, body FROM plain") == [(5000, "arrived during the purge")]
    rerun = purge(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-01", store, date_column="at")
    assert rerun.code == 0
    assert reasons(rerun) == {"public.plain [2024-01-01, 2024-01-02)": "already purged: purged on "
                              f"{rerun.report['objects'][0]['reason'].split('purged on ')[1].split(';')[0]}; 1 row "
                              "now in its window(s) arrived later and are not archived"}
    assert count(pg_dsn, "plain") == 1


def test_a_column_added_after_archiving_refuses_the_purge(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(tmp_path)
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-01", store)
    # the fingerprint reads the archive's columns: a value only the live table has must not go unseen
    execute(seeded_events, "ALTER TABLE events ADD COLUMN extra text", "UPDATE events SET extra = 'kept'")

    run = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-01", store)

    assert run.code == 1
    assert reasons(run) == {"public.events_20240101": "refused: live columns differ from the archive's: "
                            "public.events_20240101 has extra text that the archive has not, the archive nothing "
                            "that it has not; archive it again (--force) before purging; left untouched"}
    assert count(seeded_events, "events_20240101", "extra = 'kept'") == 300


def settings_for(dsn: str, table: str, start: str, end: str, tmp_path: Path, **options: object):  # type: ignore[no-untyped-def]
    from pgarchiver_tui.core.settings import Settings

    return Settings(dsn=dsn, table=table, start_date=start, end_date=end, local_dir=str(tmp_path / "archive"),
                    cache_dir=str(tmp_path / "cache"), no_ui=True, **options)  # type: ignore[arg-type]


def test_a_row_changed_in_a_window_while_it_is_purged_rolls_the_window_back(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pgarchiver_tui.commands.purge.run import prepare_purge
    from pgarchiver_tui.core.events import Notice

    store = local_store(tmp_path)
    seed_plain(pg_dsn, days=1)
    archive(capsys, pg_dsn, "plain", "2024-01-01", "2024-01-01", store, date_column="at")
    changed: list[str] = []

    def meanwhile(event: object) -> None:
        if isinstance(event, Notice) and event.message.startswith("deleted batch 1 ") and not changed:
            # a row the next batches would delete is changed, and committed, by another session
            execute(pg_dsn, "UPDATE plain SET body = 'changed during the purge' WHERE id = 200")
            changed.append(event.message)

    report = prepare_purge(settings_for(pg_dsn, "plain", "2024-01-01", "2024-01-01", tmp_path, date_column="at"),
                           meanwhile, batch_rows=50).run()

    assert changed, "no batch was deleted: nothing was tested"
    [result] = report.results
    assert (result.outcome, report.exit_code) == ("refused", 1)
    assert result.reason.startswith("rows of the period changed while it was being purged")
    assert count(pg_dsn, "plain") == 200, "the batch already deleted was rolled back"
    assert count(pg_dsn, "plain", "body = 'changed during the purge'") == 1
    assert store.record("public/plain/2024/01/plain-2024-01-01.jsonl.zst") is None, "the intent was taken back"


def test_a_concurrent_detach_left_pending_is_finished_by_the_rerun(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    import psycopg

    from pgarchiver_tui.commands.demo_data import seed_events
    from pgarchiver_tui.commands.purge.run import prepare_purge
    from pgarchiver_tui.core.events import Notice
    from tests.support.waiting import wait_until

    seed_events(pg_dsn, days=2, rows_per_day=100)
    execute(pg_dsn, "DROP TABLE events_default")  # DETACH … CONCURRENTLY is not allowed beside a default partition
    store = local_store(tmp_path)
    archive(capsys, pg_dsn, "events", "2024-01-01", "2024-01-01", store)
    run = prepare_purge(settings_for(pg_dsn, "events", "2024-01-01", "2024-01-01", tmp_path), lambda e: None,
                        detach_only=True)
    watcher: list[threading.Thread] = []

    def cancel_once_it_waits() -> None:
        def detach_waiting() -> bool:
            return bool(query(pg_dsn, "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'ALTER TABLE%%CONCURRENTLY' "
                                      "AND wait_event_type IS NOT NULL AND state = 'active'"))
        wait_until(detach_waiting, "the DETACH waiting for an older snapshot")
        run.cancel()

    def hear(event: object) -> None:
        if isinstance(event, Notice) and "concurrently" in event.message and not watcher:
            watcher.append(threading.Thread(target=cancel_once_it_waits))
            watcher[0].start()

    run.emit = hear
    with psycopg.connect(pg_dsn) as reader:  # a snapshot that uses the partition: the DETACH waits for it
        reader.execute("SELECT count(*) FROM events")
        report = run.run()
        watcher[0].join()
    [result] = report.results
    assert report.exit_code == 130
    assert result.outcome == "failed" and "detach pending" in result.reason, result
    assert query(pg_dsn, "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'events_20240101'::regclass") \
        == [(True,)]

    rerun = purge(capsys, pg_dsn, "events", "2024-01-01", "2024-01-01", store, "--detach-only")

    assert rerun.code == 0, rerun.err
    [finished] = rerun.report["objects"]
    assert outcome(finished) == "already purged" and "was finished now" in finished["reason"], finished
    assert query(pg_dsn, "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'events_20240101'::regclass") == [(0,)]
    assert count(pg_dsn, "events_20240101") == 100
    assert store.record(f"{PREFIX}events-2024-01-01.jsonl.zst")["status"] == "purged"  # type: ignore[index]


def test_an_object_nothing_describes_is_refused_and_its_partition_stays(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.archive_support import flags

    store = local_store(tmp_path)
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-01", store)
    store.storage.delete(sidecar_key(KEYS[0]))
    store.args = flags(local_dir=tmp_path / "archive", cache_dir=tmp_path / "another-cache")  # no cache knows it

    run = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-01", store)

    assert run.code == 1
    assert reasons(run)["public.events_20240101"].startswith(f"refused: object without facts: {KEYS[0]} has no "
                                                             "metadata sidecar")
    assert count(seeded_events, "events_20240101") == 300


def test_detach_only_takes_a_legacy_child_out_of_its_inheritance_parent(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(tmp_path)
    execute(pg_dsn, "CREATE TABLE audit (id bigint, at timestamptz NOT NULL)",
            *[f"CREATE TABLE audit_2024010{d} () INHERITS (audit)" for d in (1, 2)],
            *[f"INSERT INTO audit_2024010{d} SELECT g, '2024-01-0{d} 00:00+00'::timestamptz + g * interval '1 minute' "
              "FROM generate_series(0, 99) AS g" for d in (1, 2)])
    archive(capsys, pg_dsn, "audit", "2024-01-01", "2024-01-02", store)

    run = purge(capsys, pg_dsn, "audit", "2024-01-01", "2024-01-01", store, "--detach-only")

    assert run.code == 0, run.err
    assert outcomes(run) == [("public.audit_20240101", "purged")]
    assert query(pg_dsn, "SELECT inhrelid::regclass::text FROM pg_inherits") == [("audit_20240102",)]
    assert count(pg_dsn, "audit_20240101") == 100 and count(pg_dsn, "audit") == 100
