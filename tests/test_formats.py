"""Type fidelity of every format and codec: through the real engine into a directory, and back."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
from decimal import Decimal
from pathlib import Path

import lz4.frame
import psycopg
import pytest
import zstandard

from tests.archive_support import (
    archive_args,
    archived,
    archived_files,
    execute,
    read_object,
    run_cli,
    sidecar,
)

# One partition of every common type; each row stresses something an archiver gets wrong.
TYPES_DDL = """
CREATE TABLE types (
    id int, day date NOT NULL, small smallint, big bigint, num numeric, fixed numeric(18,6), r real,
    d double precision, jb jsonb, js json, raw bytea, ints int[], texts text[], grid int[], tz timestamptz,
    ts timestamp, iv interval, u uuid, ip inet, flag boolean, t text, ch char(5), nothing text
) PARTITION BY RANGE (day);
CREATE TABLE types_202401 PARTITION OF types FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
"""
TYPES_ROWS = r"""
INSERT INTO types VALUES
 (1, '2024-01-01', -32768, 9223372036854775807,
  123456789012345678901234567890.123456789012345678901234567890, 123456789012.123456, 3.4028235e38,
  0.1, '{"a": [1, 2.50, null], "b": "x\ny", "c": {"deep": true}}',
  E'{\n  "k" : "v\\nw",\r\n  "n": 1.50\n}', '\x00ff10', '{1,NULL,3}', '{"a,b","q\"uote",NULL,"",x}',
  '{{1,2},{3,4}}', '2024-01-01 12:34:56.789+05', '2024-02-29 23:59:59.999999', '1 year 2 mons 3 days 04:05:06.7',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', true,
  E'line1\nline2\r\n"quoted" \\back\\slash\\ tab\t ünïcödé ✓ 🐘 \x01\x02 end', 'ab', NULL),
 (2, '2024-01-15', 0, -1, 'NaN', 'NaN', 'NaN', 'Infinity', '[]', '"just a string"', '', '{}', '{}', '{}',
  '1999-12-31 23:59:59+00', '0001-01-01 00:00:00', '-1 days', '00000000-0000-0000-0000-000000000000',
  '::1', false, '', '', NULL),
 (3, '2024-01-31', NULL, NULL, 'Infinity', -0.000001, '-Infinity', '-Infinity', 'null', 'null', NULL, NULL,
  '{NULL}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, E'\\N', 'NULL', NULL),
 (4, '2024-01-31', NULL, NULL, '-Infinity', NULL, 1.5e-40, 1e308, NULL, NULL, '\x5c', NULL, NULL, NULL,
  'infinity', '-infinity', NULL, NULL, NULL, NULL, ',', NULL, NULL),
 (5, '2024-01-31', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL)
"""


@pytest.fixture
def types_dsn(pg_dsn: str) -> str:
    execute(pg_dsn, TYPES_DDL, TYPES_ROWS)
    return pg_dsn


def server_copy(dsn: str, statement: str) -> bytes:
    """What the server itself gives for `statement` (a COPY ... TO STDOUT) in a UTC session."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        with conn.cursor().copy(statement) as copy:  # type: ignore[arg-type]
            return b"".join(bytes(chunk) for chunk in copy)


def row_to_json_lines(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return [r[0] for r in conn.execute("SELECT row_to_json(t.*)::text FROM types_202401 t ORDER BY id")]


def archive(capsys: pytest.CaptureFixture[str], dsn: str, root: Path, **options: object) -> Path:
    """January of `types` as one monthly object; its path."""
    archived(capsys, dsn, "types", "2024-01-01", "2024-01-31", output_duration="monthly", local_dir=root, **options)
    [path] = archived_files(root).values()
    return path


def assert_jsonl_matches_row_to_json(data: bytes, expected: list[str]) -> None:
    lines = data.decode().split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(expected), "one line per row, each ending in a newline"
    for line, want in zip(lines, expected, strict=False):
        if "\n" in want or "\r" in want:  # only json (not jsonb) values keep raw newlines: whitespace, not data
            assert json.loads(line) == json.loads(want)
        else:
            assert line == want


# -- JSONL -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("split", [False, True], ids=["whole-partition", "date-windows"])
def test_jsonl_is_row_to_json_for_every_common_type(types_dsn: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str], split: bool) -> None:
    options: dict[str, object] = {"date_column": "day", "output_duration": "daily"} if split else {}
    run = run_cli(capsys, *archive_args(types_dsn, "types", "2024-01-01", "2024-01-31",
                                        local_dir=tmp_path / "a", **{"output_duration": "monthly", **options}))
    assert run.code == 0, run.err
    data = b"".join(read_object(p) for p in archived_files(tmp_path / "a").values())
    assert_jsonl_matches_row_to_json(data, row_to_json_lines(types_dsn))
    first = json.loads(data.decode().split("\n")[0])
    assert list(first) == ["id", "day", "small", "big", "num", "fixed", "r", "d", "jb", "js", "raw", "ints",
                           "texts", "grid", "tz", "ts", "iv", "u", "ip", "flag", "t", "ch", "nothing"]
    assert '"num":123456789012345678901234567890.123456789012345678901234567890,' in data.decode()
    assert first["jb"] == {"a": [1, 2.5, None], "b": "x\ny", "c": {"deep": True}}
    assert first["js"] == {"k": "v\nw", "n": 1.5} and first["raw"] == "\\x00ff10"
    assert first["ints"] == [1, None, 3] and first["grid"] == [[1, 2], [3, 4]]
    assert first["tz"] == "2024-01-01T07:34:56.789+00:00" and first["ts"] == "2024-02-29T23:59:59.999999"
    second = json.loads(data.decode().split("\n")[1])
    assert (second["num"], second["r"], second["d"]) == ("NaN", "NaN", "Infinity")


def test_exact_numbers_survive_a_json_parser_that_keeps_decimals(types_dsn: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = archive(capsys, types_dsn, tmp_path / "a")
    first = json.loads(read_object(path).decode().split("\n")[0], parse_float=Decimal)
    assert first["num"] == Decimal("123456789012345678901234567890.123456789012345678901234567890")
    assert first["fixed"] == Decimal("123456789012.123456")


def test_session_settings_of_the_database_do_not_change_the_output(types_dsn: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    expected_csv = server_copy(types_dsn, "COPY types_202401 TO STDOUT (FORMAT csv, HEADER)")
    dbname = psycopg.conninfo.conninfo_to_dict(types_dsn)["dbname"]
    execute(types_dsn, f"ALTER DATABASE {dbname} SET DateStyle = 'SQL, DMY'",
            f"ALTER DATABASE {dbname} SET IntervalStyle = 'sql_standard'",
            f"ALTER DATABASE {dbname} SET extra_float_digits = -3",
            f"ALTER DATABASE {dbname} SET TimeZone = 'Asia/Kolkata'",
            f"ALTER DATABASE {dbname} SET bytea_output = 'escape'")
    path = archive(capsys, types_dsn, tmp_path / "a", output_format="csv")
    assert read_object(path) == expected_csv


# -- CSV ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("split", [False, True], ids=["whole-partition", "date-windows"])
def test_csv_is_byte_identical_to_copy_csv_header(types_dsn: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str], split: bool) -> None:
    options = {"date_column": "day"} if split else {}
    path = archive(capsys, types_dsn, tmp_path / "a", output_format="csv", **options)
    data = read_object(path)
    expected = server_copy(types_dsn, "COPY (SELECT * FROM types_202401 ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
    assert data == expected
    lines = data.split(b"\n")
    assert lines[0].startswith(b"id,day,small,big,num,")
    assert sidecar(path)["rows"] == 5
    # NULL and '' stay distinct: row 2's t is '' (quoted), row 5's is NULL (nothing)
    assert b',f,"",     ,\n' in data and b"\n5,2024-01-31,,,,,,,,,,,,,,,,,,,,,\n" in data


def test_csv_of_several_partitions_has_one_header(seeded_events: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-07",
                                        output_duration="weekly", output_format="csv", local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    [path] = archived_files(tmp_path / "a").values()
    expected = server_copy(seeded_events, "COPY events_20240101 TO STDOUT (FORMAT csv, HEADER)") + b"".join(
        server_copy(seeded_events, f"COPY events_2024010{d} TO STDOUT (FORMAT csv)") for d in range(2, 6))
    assert read_object(path) == expected
    assert sidecar(path)["rows"] == 1500 == run.report["summary"]["rows"]


# -- Parquet -----------------------------------------------------------------------------------------------------

PARQUET_DDL = """
CREATE TABLE facts (
    day date NOT NULL, s smallint, i int, b bigint, r real, d double precision, amount numeric(18,6),
    big numeric(38,10), tz timestamptz, ts timestamp, flag boolean, t text, jb jsonb, u uuid, free numeric
) PARTITION BY RANGE (day);
CREATE TABLE facts_202401 PARTITION OF facts FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
INSERT INTO facts VALUES
 ('2024-01-01', 1, 2, 9223372036854775807, 1.5, 'NaN', 123456789012.123456, 1234567890123456789012345678.0123456789,
  '2024-01-01 12:00:00.123456+02', '2024-01-01 12:00:00.5', true, E'a,"b"\nc', '{"k": 1}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'NaN'),
 ('2024-01-02', -1, -2, -3, 'Infinity', '-Infinity', -0.000001, 0, '1970-01-01 00:00:00+00',
  '1970-01-01 00:00:00', false, '', '[]', NULL, 1.5),
 ('2024-01-03', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO facts SELECT '2024-01-04', 1, g, g, g, g, g, g, '2024-01-04', '2024-01-04', true, 'x' || g, NULL, NULL, g
  FROM generate_series(1, 5000) g;
"""


def test_parquet_has_catalog_types_and_every_row(pg_dsn: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    execute(pg_dsn, PARQUET_DDL)
    run = run_cli(capsys, *archive_args(pg_dsn, "facts", "2024-01-01", "2024-01-31", output_duration="monthly",
                                        output_format="parquet", local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    [(key, path)] = archived_files(tmp_path / "a").items()
    assert key.endswith("/facts-2024-01.parquet")
    table = pq.read_table(path)
    assert table.num_rows == 5003 == sidecar(path)["rows"]
    types = {f.name: f.type for f in table.schema}
    assert types == {
        "day": pa.date32(), "s": pa.int16(), "i": pa.int32(), "b": pa.int64(), "r": pa.float32(),
        "d": pa.float64(), "amount": pa.decimal128(18, 6), "big": pa.decimal128(38, 10),
        "tz": pa.timestamp("us", tz="UTC"), "ts": pa.timestamp("us"), "flag": pa.bool_(), "t": pa.string(),
        "jb": pa.string(), "u": pa.string(), "free": pa.string(),
    }
    rows = table.slice(0, 3).to_pylist()
    first, second, third = rows
    assert first["b"] == 9223372036854775807 and first["r"] == 1.5 and math.isnan(first["d"])
    assert first["amount"] == Decimal("123456789012.123456")
    assert first["big"] == Decimal("1234567890123456789012345678.0123456789")
    assert first["tz"] == dt.datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert first["ts"] == dt.datetime(2024, 1, 1, 12, 0, 0, 500000)
    assert first["t"] == 'a,"b"\nc' and first["jb"] == '{"k": 1}' and first["free"] == "NaN"
    assert second["r"] == math.inf and second["d"] == -math.inf and second["amount"] == Decimal("-0.000001")
    assert second["t"] == "" and second["flag"] is False and second["day"] == dt.date(2024, 1, 2)
    assert all(value is None for name, value in third.items() if name != "day"), "NULL stays NULL, not ''"
    assert table.column("i").to_pylist()[3:] == list(range(1, 5001))


def test_parquet_compresses_inside_the_file(pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    execute(pg_dsn, PARQUET_DDL)
    for codec in ("zstd", "gzip", "none"):
        run = run_cli(capsys, *archive_args(pg_dsn, "facts", "2024-01-01", "2024-01-31", output_duration="monthly",
                                            output_format="parquet", compression=codec, local_dir=tmp_path / codec))
        assert run.code == 0, run.err
        [(key, path)] = archived_files(tmp_path / codec).items()
        assert key.endswith(".parquet")
        meta = pq.ParquetFile(path).metadata
        assert meta.row_group(0).column(0).compression == {"zstd": "ZSTD", "gzip": "GZIP", "none": "UNCOMPRESSED"}[codec]
        assert meta.num_rows == 5003


# -- compression -------------------------------------------------------------------------------------------------

def decode_with_tool(path: Path, codec: str) -> bytes:
    command = {"zstd": ["zstd", "-dc"], "gzip": ["gzip", "-dc"], "lz4": ["lz4", "-dc"], "none": ["cat"]}[codec]
    return subprocess.run([*command, str(path)], check=True, capture_output=True).stdout


def decode_with_library(data: bytes, codec: str) -> bytes:
    if codec == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(data).read()
    if codec == "gzip":
        return gzip.decompress(data)
    if codec == "lz4":
        return lz4.frame.decompress(data)
    return data


@pytest.mark.parametrize(("codec", "level", "extension"), [
    ("zstd", None, ".jsonl.zst"), ("zstd", 19, ".jsonl.zst"), ("gzip", None, ".jsonl.gz"), ("gzip", 9, ".jsonl.gz"),
    ("lz4", None, ".jsonl.lz4"), ("lz4", 12, ".jsonl.lz4"), ("none", None, ".jsonl"),
])
def test_every_compression_decodes_with_the_standard_tools(seeded_events: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str], codec: str,
                                                           level: int | None, extension: str) -> None:
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-01", compression=codec,
                                        compression_level=level, local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    [(key, path)] = archived_files(tmp_path / "a").items()
    assert key == f"public/events/2024/01/events-2024-01-01{extension}"
    with psycopg.connect(seeded_events) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        expected = "".join(r[0] + "\n" for r in conn.execute(
            "SELECT row_to_json(t.*)::text FROM events_20240101 t")).encode()
    assert decode_with_tool(path, codec) == expected
    assert decode_with_library(path.read_bytes(), codec) == expected
    facts = sidecar(path)
    assert facts["compression"] == codec and facts["bytes_in"] == len(expected)
    assert facts["bytes_out"] == path.stat().st_size
    if codec != "none":
        assert path.stat().st_size < len(expected) / 2


def test_multithreaded_zstd_is_one_ordinary_stream(seeded_events: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-01", zstd_threads=2,
                                        local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    [path] = archived_files(tmp_path / "a").values()
    assert decode_with_tool(path, "zstd").count(b"\n") == 300


# -- empty partitions --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "extension"), [("jsonl", "jsonl.zst"), ("csv", "csv.zst"), ("parquet", "parquet")])
def test_an_empty_partition_is_archived_as_an_empty_object(pg_dsn: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str], fmt: str,
                                                           extension: str) -> None:
    import pyarrow.parquet as pq

    execute(pg_dsn, "CREATE TABLE e (id int, at date NOT NULL) PARTITION BY RANGE (at)",
            "CREATE TABLE e_20240101 PARTITION OF e FOR VALUES FROM ('2024-01-01') TO ('2024-01-02')")
    run = run_cli(capsys, *archive_args(pg_dsn, "e", "2024-01-01", "2024-01-01", output_format=fmt,
                                        local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    assert [(o["outcome"], o["rows"]) for o in run.objects()] == [("archived", 0)]
    [(key, path)] = archived_files(tmp_path / "a").items()
    assert key == f"public/e/2024/01/e-2024-01-01.{extension}" and sidecar(path)["rows"] == 0
    if fmt == "parquet":
        table = pq.read_table(path)
        assert table.num_rows == 0 and table.column_names == ["id", "at"]
    else:
        assert read_object(path) == (b"id,at\n" if fmt == "csv" else b"")
