"""restore: partitions recreated and attached, exactly once, atomically per object; dry run touches nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pgarchiver_tui.commands.demo_data import EVENT_COLUMNS
from pgarchiver_tui.core.sidecars import sidecar_key
from tests.archive_support import Run, archive_args, archive_events, execute, query, run_cli
from tests.readback_support import command, differences, flags

PREFIX = "public/events/2024/01/"
KEYS = [f"{PREFIX}events-2024-01-0{day}.jsonl.zst" for day in (1, 2, 3)]
EVENTS = [name for name, _ in EVENT_COLUMNS]


def restore(capsys: pytest.CaptureFixture[str], dsn: str, where: list[str], *extra: str) -> Run:
    return command(capsys, "restore", "--dsn", dsn, "--table", "events", *where, *extra)


def outcomes(run: Run) -> dict[str, str]:
    return {o["key"]: o["outcome"] for o in run.report["objects"]}


def keep_and_drop(dsn: str, *days: str) -> None:
    """Save each partition's rows aside (to compare with later), then drop it as an operator would."""
    for day in days:
        execute(dsn, f"CREATE TABLE saved_{day} AS SELECT * FROM events_{day}", f"DROP TABLE events_{day}")


def bounds(dsn: str, partition: str) -> str:
    [(bound,)] = query(dsn, "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = %s", (partition,))
    return bound


def test_a_dropped_partition_comes_back_attached_with_its_bounds_once(
        seeded_events: str, s3_bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    where = flags(s3_endpoint=s3_bucket.endpoint, s3_bucket=s3_bucket.name, cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)
    keep_and_drop(seeded_events, "20240102")

    first = restore(capsys, seeded_events, where, "--start-date", "2024-01-02", "--end-date", "2024-01-02")
    again = restore(capsys, seeded_events, where, "--start-date", "2024-01-02", "--end-date", "2024-01-02")

    assert first.code == 0, first.err
    assert outcomes(first) == {KEYS[1]: "restored"}
    assert "new partition public.events_20240102" in first.report["objects"][0]["reason"]
    assert bounds(seeded_events, "events_20240102") == \
        "FOR VALUES FROM ('2024-01-02 00:00:00+00') TO ('2024-01-03 00:00:00+00')"
    assert differences(seeded_events, "saved_20240102", "events_20240102", columns=EVENTS) == []
    assert again.code == 0 and outcomes(again) == {KEYS[1]: "skipped"}
    assert "already restored into public.events" in again.report["objects"][0]["reason"]
    assert query(seeded_events, "SELECT count(*) FROM events_20240102") == [(300,)], "never twice"
    assert query(seeded_events, "SELECT target, key, rows FROM pgarchiver_restored") == \
        [("public.events", KEYS[1], 300)]


def test_rows_still_in_the_table_are_never_doubled(seeded_events: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)

    run = restore(capsys, seeded_events, where)

    assert run.code == 1
    assert set(outcomes(run).values()) == {"failed"}
    assert "would double them" in run.report["objects"][0]["reason"]
    assert query(seeded_events, "SELECT count(*) FROM events") == [(1500,)]


def test_dry_run_says_what_it_would_do_and_changes_nothing(seeded_events: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)
    keep_and_drop(seeded_events, "20240101")
    tables = "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') ORDER BY 1"
    before = query(seeded_events, tables)

    into_partition = restore(capsys, seeded_events, where, "--dry-run", "--start-date", "2024-01-01",
                             "--end-date", "2024-01-01")
    into_new_table = restore(capsys, seeded_events, where, "--dry-run", "--target-table", "elsewhere.copy")
    execute(seeded_events, "CREATE SCHEMA elsewhere")
    into_new_table = restore(capsys, seeded_events, where, "--dry-run", "--target-table", "elsewhere.copy")

    assert into_partition.code == 0, into_partition.err
    [planned] = into_partition.report["objects"]
    assert planned["outcome"] == "dry-run"
    assert planned["reason"] == ("would COPY 300 rows into new partition public.events_20240101 "
                                 "[2024-01-01, 2024-01-02)")
    assert into_new_table.code == 0 and set(outcomes(into_new_table).values()) == {"dry-run"}
    assert "would create table elsewhere.copy" in into_new_table.err
    assert query(seeded_events, tables) == before, "no table, partition or bookkeeping was created"


def test_a_failed_object_leaves_nothing_behind_and_a_rerun_finishes_the_rest(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)
    keep_and_drop(seeded_events, "20240101", "20240102", "20240103")
    damaged = tmp_path / "a" / KEYS[1]
    shutil.copy(damaged, tmp_path / "good-copy")
    data = bytearray(damaged.read_bytes())
    data[-20] ^= 0xFF  # late in the stream: most rows are already in the COPY when the damage shows
    damaged.write_bytes(bytes(data))

    failed = restore(capsys, seeded_events, where, "--workers", "2")

    assert failed.code == 1
    assert outcomes(failed) == {KEYS[0]: "restored", KEYS[1]: "failed", KEYS[2]: "restored"}
    assert failed.report["objects"][1]["category"] == "integrity"
    assert query(seeded_events, "SELECT count(*) FROM pg_class WHERE relname = 'events_20240102'") == [(0,)]
    assert query(seeded_events, "SELECT count(*) FROM events WHERE created_at < '2024-01-04'") == [(600,)]

    shutil.copy(tmp_path / "good-copy", damaged)
    rerun = restore(capsys, seeded_events, where, "--workers", "2")

    assert rerun.code == 0, rerun.err
    assert outcomes(rerun) == {KEYS[0]: "skipped", KEYS[1]: "restored", KEYS[2]: "skipped"}
    for day in ("20240101", "20240102", "20240103"):
        assert differences(seeded_events, f"saved_{day}", f"events_{day}", columns=EVENTS) == []


def test_an_object_without_its_sidecar_is_restored_by_its_name_only_when_allowed(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)
    keep_and_drop(seeded_events, "20240103")
    (tmp_path / "a" / sidecar_key(KEYS[2])).unlink()
    day = ("--start-date", "2024-01-03", "--end-date", "2024-01-03")

    refused = restore(capsys, seeded_events, where, *day)
    assert refused.code == 0, refused.err
    assert outcomes(refused) == {KEYS[2]: "skipped"} and "--allow-unverified" in refused.objects()[0]["reason"]
    assert query(seeded_events, "SELECT count(*) FROM pg_class WHERE relname = 'events_2024_01_03'") == [(0,)]

    run = restore(capsys, seeded_events, where, *day, "--allow-unverified")

    assert run.code == 0, run.err
    assert "without metadata" in run.err
    [restored] = run.objects()
    assert "new partition public.events_2024_01_03" in restored["reason"]
    assert any(note.startswith("unverified: no metadata") for note in restored["notes"]), restored
    assert differences(seeded_events, "saved_20240103", "events_2024_01_03", columns=EVENTS) == []


def test_bad_input_exits_2_a_database_down_3_and_an_empty_range_1(seeded_events: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)

    unreachable = restore(capsys, "postgresql://nobody@127.0.0.1:1/none", where)
    only_start = restore(capsys, seeded_events, where, "--start-date", "2024-01-01")
    empty = restore(capsys, seeded_events, where, "--start-date", "2023-01-01", "--end-date", "2023-01-31")

    assert unreachable.code == 3 and "cannot connect" in unreachable.err
    assert only_start.code == 2 and "--end-date" in only_start.err
    assert empty.code == 1 and "nothing to restore" in empty.err


# -- exactly once, for real (issue 9) ----------------------------------------------------------------------------

def test_after_the_partition_is_dropped_again_the_object_restores_again(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)
    keep_and_drop(seeded_events, "20240102")
    day = ("--start-date", "2024-01-02", "--end-date", "2024-01-02")
    assert outcomes(restore(capsys, seeded_events, where, *day)) == {KEYS[1]: "restored"}

    execute(seeded_events, "DROP TABLE events_20240102")
    again = restore(capsys, seeded_events, where, *day)

    assert again.code == 0, again.err
    assert outcomes(again) == {KEYS[1]: "restored"}, "the record of a dropped relation restores nothing"
    assert "dropped or truncated: restored again" in again.objects()[0]["notes"][0]
    assert differences(seeded_events, "saved_20240102", "events_20240102", columns=EVENTS) == []
    assert outcomes(restore(capsys, seeded_events, where, *day)) == {KEYS[1]: "skipped"}


def test_after_the_target_is_truncated_the_objects_restore_again(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)
    first = restore(capsys, seeded_events, where, "--target-table", "events_back")
    assert first.code == 0 and set(outcomes(first).values()) == {"restored"}, first.err

    execute(seeded_events, "TRUNCATE events_back")
    again = restore(capsys, seeded_events, where, "--target-table", "events_back")

    assert again.code == 0, again.err
    assert set(outcomes(again).values()) == {"restored"}
    assert query(seeded_events, "SELECT count(*) FROM events_back") == [(900,)]
    assert differences(seeded_events, "(SELECT * FROM events WHERE created_at < '2024-01-04') AS e",
                       "events_back", columns=EVENTS) == []


def test_a_plain_table_that_holds_the_rows_is_refused_without_date_column_unless_append(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    execute(pg_dsn, "CREATE TABLE logs (id bigint, created_at timestamptz NOT NULL, line text)",
            "INSERT INTO logs SELECT g, '2024-01-01 00:00+00'::timestamptz + g * interval '1 hour', 'line ' || g "
            "FROM generate_series(0, 71) AS g")
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archived = run_cli(capsys, *archive_args(pg_dsn, "logs", "2024-01-01", "2024-01-03", date_column="created_at"),
                       *where)
    assert archived.code == 0 and len(archived.objects("archived")) == 3, archived.err

    def restore_logs(*extra: str) -> Run:
        return command(capsys, "restore", "--dsn", pg_dsn, "--table", "logs", *where, *extra)

    refused = restore_logs()  # no --date-column: the facts say created_at dates the rows
    assert refused.code == 1
    assert set(outcomes(refused).values()) == {"failed"}
    assert "would double them" in refused.objects()[0]["reason"] and "--append" in refused.objects()[0]["reason"]
    assert query(pg_dsn, "SELECT count(*) FROM logs") == [(72,)], "nothing doubled"

    appended = restore_logs("--append")
    assert appended.code == 0 and set(outcomes(appended).values()) == {"restored"}, appended.err
    assert query(pg_dsn, "SELECT count(*) FROM logs") == [(144,)], "asked for: every row added"
    assert set(outcomes(restore_logs("--append")).values()) == {"skipped"}, "and still only once"


def test_without_a_dating_column_rows_no_restore_put_there_are_refused(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)
    for meta in (tmp_path / "a").rglob("*.meta.json"):  # as an older version wrote them: no date column named
        facts = json.loads(meta.read_text())
        del facts["date_column"]
        meta.write_text(json.dumps(facts))
    first = restore(capsys, seeded_events, where, "--target-table", "events_back", "--start-date", "2024-01-01",
                    "--end-date", "2024-01-01")
    assert first.code == 0, first.err
    execute(seeded_events, "INSERT INTO events_back SELECT * FROM events WHERE created_at >= '2024-01-02' LIMIT 1")

    refused = restore(capsys, seeded_events, where, "--target-table", "events_back")

    assert refused.code == 1
    assert outcomes(refused) == {KEYS[0]: "skipped", KEYS[1]: "failed", KEYS[2]: "failed"}
    assert "holds 1 row(s) that no restore put there" in refused.objects()[1]["reason"]
    assert query(seeded_events, "SELECT count(*) FROM events_back") == [(301,)]


def test_someone_elses_file_named_like_an_object_is_not_loaded_as_ours(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    archive_events(capsys, seeded_events, where)
    stranger = tmp_path / "a" / PREFIX / "events-2024-01-04.jsonl.zst"  # no sidecar, no cache record
    shutil.copy(tmp_path / "a" / KEYS[0], stranger)
    keep_and_drop(seeded_events, "20240104")
    day = ("--start-date", "2024-01-04", "--end-date", "2024-01-04")

    verified = command(capsys, "verify", "--dsn", seeded_events, "--table", "events", *where, *day)
    run = restore(capsys, seeded_events, where, *day)

    assert [(o["key"], o["kind"]) for o in verified.report["objects"]] == [(PREFIX + stranger.name, "orphan")]
    assert run.code == 0, run.err
    assert outcomes(run) == {PREFIX + stranger.name: "skipped"}
    assert "--allow-unverified" in run.objects()[0]["reason"]
    assert query(seeded_events, "SELECT count(*) FROM events WHERE created_at >= '2024-01-04' "
                                "AND created_at < '2024-01-05'") == [(0,)], "nothing loaded"
