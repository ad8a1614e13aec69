"""Records and keys with identity: an object is schema.table + destination + key; a layout is its template."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from pgarchiver_tui.cache import Record, open_cache
from pgarchiver_tui.core.periods import Duration, object_key
from tests.archive_support import archive_args, archived_files, execute, query, read_object, run_cli
from tests.layouts import COLUMNS, rows_through
from tests.readback_support import command, flags


def two_tables_named_ev(dsn: str) -> None:
    statements = ["CREATE SCHEMA a", "CREATE SCHEMA b"]
    for schema in ("a", "b"):
        statements += [f"CREATE TABLE {schema}.ev ({COLUMNS}) PARTITION BY RANGE (at)",
                       f"CREATE TABLE {schema}.ev_20240101 PARTITION OF {schema}.ev FOR VALUES FROM "
                       "('2024-01-01+00') TO ('2024-01-02+00')"]
    execute(dsn, *statements)
    rows_through(dsn, "a.ev", "2024-01-01 00:00", 24)
    rows_through(dsn, "b.ev", "2024-01-01 00:00", 12, start_id=1000)


@pytest.mark.parametrize("cache", ["shared cache", "fresh cache", "--force"])
def test_a_key_recorded_for_another_table_is_a_collision_never_a_skip(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], cache: str) -> None:
    """Before: b.ev was 'skipped, already archived' (the cache's record of a.ev) and archived nowhere."""
    two_tables_named_ev(pg_dsn)
    where = flags(local_dir=tmp_path / "a", path_template="{table}", cache_dir=tmp_path / "cache")
    first = run_cli(capsys, *archive_args(pg_dsn, "a.ev", "2024-01-01", "2024-01-01"), *where)
    assert first.code == 0, first.err
    [(key, path)] = archived_files(tmp_path / "a").items()
    before = path.read_bytes()
    if cache == "fresh cache":
        where = flags(local_dir=tmp_path / "a", path_template="{table}", cache_dir=tmp_path / "other-cache")
    second = run_cli(capsys, *archive_args(pg_dsn, "b.ev", "2024-01-01", "2024-01-01", force=cache == "--force"),
                     *where)
    assert second.code == 1, second.err
    [failed] = second.objects()
    assert failed["outcome"] == "failed" and failed["category"] == "configuration"
    assert failed["reason"].startswith(f"{key} already holds a.ev (")
    assert "b.ev cannot be archived under the same key" in failed["reason"]
    assert path.read_bytes() == before and len(read_object(path).splitlines()) == 24, "a.ev's object untouched"
    record = open_cache(first.report["destination"], str(tmp_path / "cache")).get(key)
    assert record is not None and (record.schema, record.table_name, record.error) == ("a", "ev", "")


def test_a_failure_of_another_table_leaves_the_record_alone(tmp_path: Path) -> None:
    cache = open_cache("file:///x/", str(tmp_path))
    mine = Record("k", "a", "ev", "2024-01-01T00:00:00", "2024-01-02T00:00:00", "daily", "archived", rows=3)
    cache.record_archived(mine)
    cache.record_failure(Record("k", "b", "ev", "2024-01-01T00:00:00", "2024-01-02T00:00:00", "daily", "failed"),
                         "collision")
    assert cache.get("k") == mine
    assert cache.record_of("k", "a", "ev") == mine and cache.record_of("k", "b", "ev") is None


def archive_two_layouts(dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], first: str,
                        second: str) -> list[str]:
    execute(dsn, f"CREATE TABLE ev ({COLUMNS}) PARTITION BY RANGE (at)",
            *[f"CREATE TABLE ev_2024010{d} PARTITION OF ev FOR VALUES FROM ('2024-01-0{d}+00') TO "
              f"('2024-01-0{d + 1}+00')" for d in (1, 2)])
    rows_through(dsn, "ev", "2024-01-01 00:00", 48)
    for template in (first, second):
        run = run_cli(capsys, *archive_args(dsn, "ev", "2024-01-01", "2024-01-02", path_template=template,
                                            local_dir=tmp_path / "a", cache_dir=tmp_path / "cache"))
        assert run.code == 0, run.err
    return sorted(archived_files(tmp_path / "a"))


@pytest.mark.parametrize(("first", "second"), [
    ("archives/{table}/{YYYY}/{MM}", "{schema}/{table}/{YYYY}"),  # apart: the cache knows the other's objects
    ("{schema}/{table}/{YYYY}/{MM}", "{schema}/{table}/{YYYY}"),  # under one prefix: the listing shows them
], ids=["other-prefix", "same-prefix"])
def test_verify_looks_only_at_the_layout_asked_for(pg_dsn: str, tmp_path: Path, first: str, second: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Before: the other layout's objects were verified too, or reported as missing their sidecars."""
    keys = archive_two_layouts(pg_dsn, tmp_path, capsys, first, second)
    assert len(keys) == 4
    for template in (first, second):
        run = command(capsys, "verify", "--dsn", pg_dsn, "--table", "ev", "--deep", "--path-template", template,
                      *flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache"))
        assert run.code == 0, run.err
        mine = [object_key(template, "public", "ev", datetime(2024, 1, day), Duration.DAILY, "jsonl.zst")
                for day in (1, 2)]
        assert sorted(c["key"] for c in run.report["objects"]) == mine
        assert all(c["ok"] for c in run.report["objects"])


def test_restore_takes_only_the_layout_asked_for(pg_dsn: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Before: both layouts under one prefix were restored: every row twice."""
    archive_two_layouts(pg_dsn, tmp_path, capsys, "{schema}/{table}/{YYYY}/{MM}", "{schema}/{table}/{YYYY}")
    run = command(capsys, "restore", "--dsn", pg_dsn, "--table", "ev", "--target-table", "back",
                  "--path-template", "{schema}/{table}/{YYYY}", *flags(local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    assert [o["key"] for o in run.report["objects"]] == [
        "public/ev/2024/ev-2024-01-01.jsonl.zst", "public/ev/2024/ev-2024-01-02.jsonl.zst"]
    assert query(pg_dsn, "SELECT count(*), count(DISTINCT id) FROM back") == [(48, 48)]
