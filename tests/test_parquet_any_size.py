"""Parquet at any size and content: values with newlines across pyarrow's blocks; one line for what it cannot hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgarchiver_tui.pipeline import source
from tests.archive_support import archive_args, execute, query, run_cli
from tests.readback_support import command, flags

PYARROW_BLOCK = 1 << 20  # pyarrow's default CSV block, which a chunk of COPY output used to be cut by
BODY = "e'line\\n' || repeat(e'text with \\r\\n newlines, \"quotes\", \\\\ and ü\\n', 1 + g % 40)"


def test_text_with_newlines_in_a_partition_larger_than_every_buffer(pg_dsn: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Before: 'CSV parse error: Expected 3 columns, got 1' once a partition outgrew pyarrow's 1 MiB block."""
    execute(pg_dsn, "CREATE TABLE big (id int, at timestamp NOT NULL, body text) PARTITION BY RANGE (at)",
            "CREATE TABLE big_20240101 PARTITION OF big FOR VALUES FROM ('2024-01-01') TO ('2024-01-02')",
            f"INSERT INTO big SELECT g, '2024-01-01'::timestamp + g * interval '1 second', {BODY} "
            "FROM generate_series(1, 4500) g",
            # one value larger than any buffer: pyarrow refused a row larger than its block
            "INSERT INTO big VALUES (0, '2024-01-01', repeat(e'a much longer text\n', 200000))")
    [(size,)] = query(pg_dsn, "SELECT sum(octet_length(body)) FROM big")
    assert size > 3 * max(source.CHUNK_BYTES, PYARROW_BLOCK)
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    run = run_cli(capsys, *archive_args(pg_dsn, "big", "2024-01-01", "2024-01-01", output_format="parquet"), *where)
    assert run.code == 0, run.err
    assert run.report["summary"]["rows"] == 4501
    restored = command(capsys, "restore", "--dsn", pg_dsn, "--table", "big", "--target-table", "back", *where)
    assert restored.code == 0, restored.err
    assert query(pg_dsn, "(SELECT * FROM big EXCEPT ALL SELECT * FROM back) UNION ALL "
                         "(SELECT * FROM back EXCEPT ALL SELECT * FROM big)") == []


@pytest.mark.parametrize(("column", "value", "shown"), [
    ("day date", "'infinity'", "column v (date) holds 'infinity', which Parquet cannot hold as date32[day]"),
    ("day date", "'0044-03-15 BC'", "column v (date) holds '0044-03-15 BC', which Parquet cannot hold as date32[day]"),
    ("ts timestamp", "'10000-01-01'", "column v (timestamp without time zone) holds '10000-01-01 00:00:00', which "
                                      "Parquet cannot hold as timestamp[us]"),
    ("n numeric(10,2)", "'NaN'", "column v (numeric(10,2)) holds 'NaN', which Parquet cannot hold as "
                                 "decimal128(10, 2)"),
])
def test_values_parquet_cannot_hold_are_refused_in_one_line(pg_dsn: str, tmp_path: Path, column: str, value: str,
                                                           shown: str, capsys: pytest.CaptureFixture[str]) -> None:
    kind = column.split(" ", 1)[1]
    execute(pg_dsn, f"CREATE TABLE odd (id int, at date NOT NULL, v {kind}) PARTITION BY RANGE (at)",
            "CREATE TABLE odd_20240101 PARTITION OF odd FOR VALUES FROM ('2024-01-01') TO ('2024-01-02')",
            f"INSERT INTO odd VALUES (1, '2024-01-01', NULL), (2, '2024-01-01', {value})")
    run = run_cli(capsys, *archive_args(pg_dsn, "odd", "2024-01-01", "2024-01-01", output_format="parquet",
                                        local_dir=tmp_path / "a"))
    assert run.code == 1
    [failed] = run.objects("failed")
    assert failed["category"] == "configuration"
    assert failed["reason"] == f"{shown}; archive this table with --output-format jsonl or csv"
