"""Archives the tools users already have can read: DuckDB over Hive-style prefixes; facts where engines skip them."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pgarchiver_tui.commands.demo_data import EVENT_COLUMNS
from pgarchiver_tui.core.sidecars import legacy_sidecar_key, sidecar_key
from tests.archive_support import archive_args, archived_files, run_cli
from tests.readback_support import command, flags

HIVE = "{schema}/{table}/year={YYYY}/month={MM}"
READERS = {  # format, compression → the DuckDB reader and the glob of the data files' extension
    ("jsonl", "zstd"): ("read_json", "*.jsonl.zst"),
    ("csv", "gzip"): ("read_csv", "*.csv.gz"),
    ("parquet", "zstd"): ("read_parquet", "*.parquet"),
}


@pytest.mark.parametrize(("fmt", "compression"), list(READERS), ids=[f for f, _ in READERS])
def test_duckdb_reads_every_format_of_a_hive_style_archive(seeded_events: str, tmp_path: Path, fmt: str,
                                                          compression: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "lake"
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", path_template=HIVE,
                                        output_format=fmt, compression=compression, local_dir=root))
    assert run.code == 0, run.err
    assert all("/year=2024/month=01/" in key for key in archived_files(root))
    reader, pattern = READERS[(fmt, compression)]
    source = f"{reader}('{root}/**/{pattern}', hive_partitioning = true)"
    with duckdb.connect() as lake:
        assert lake.execute(f"SELECT count(*) FROM {source}").fetchall() == [(1500,)]
        names = [column[0] for column in lake.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        columns = [name for name, _ in EVENT_COLUMNS]
        assert names[:len(columns)] == columns and sorted(names[len(columns):]) == ["month", "year"]
        assert lake.execute(f"SELECT DISTINCT year::int, month::int FROM {source}").fetchall() == [(2024, 1)]


def test_facts_live_where_table_engines_skip_them(seeded_events: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "lake"
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-05", path_template=HIVE,
                                        output_format="parquet", local_dir=root))
    assert run.code == 0, run.err
    data = set(archived_files(root))
    stored = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert stored == data | {sidecar_key(key) for key in data}
    for key in stored - data:  # Hive, Spark, Athena and Trino skip a path with a part starting with _ or .
        assert any(part.startswith(("_", ".")) for part in key.split("/")), key
    for key in data:  # and every other file of a table location is a data file
        assert not any(part.startswith(("_", ".")) for part in key.split("/")), key


def test_facts_under_their_old_name_are_still_read(seeded_events: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "a"
    first = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-03", local_dir=root,
                                          cache_dir=tmp_path / "cache"))
    assert first.code == 0, first.err
    keys = sorted(archived_files(root))
    for key in keys:  # as an earlier version wrote them
        shutil.move(root / sidecar_key(key), root / legacy_sidecar_key(key))
    where = flags(local_dir=root, cache_dir=tmp_path / "new-cache")

    rerun = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-03"), *where)
    assert rerun.code == 0, rerun.err
    assert [o["reason"] for o in rerun.objects()] == [
        "found in the destination with matching facts; recorded in the cache"] * 3
    verify = command(capsys, "verify", "--dsn", seeded_events, "--table", "events", "--deep",
                     "--start-date", "2024-01-01", "--end-date", "2024-01-03", *where)
    assert verify.code == 0, verify.err
    assert [c["key"] for c in verify.report["objects"]] == keys and all(c["ok"] for c in verify.report["objects"])

    forced = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-01", force=True), *where)
    assert forced.code == 0, forced.err
    assert (root / sidecar_key(keys[0])).exists() and not (root / legacy_sidecar_key(keys[0])).exists()
