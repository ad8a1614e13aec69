"""Generated rows of every supported type, archived and restored in JSONL, CSV and Parquet: the same rows back.

Hypothesis draws the awkward values (text with LF, CR, tabs, quotes, backslashes and non-ASCII; json with odd
whitespace; arrays with NULLs; extreme numerics, dates and timestamps) and the run goes through the real chain
into a directory and back. The chain's buffers are made small for the test (a few KiB, 16 Parquet rows) and
every example holds more than three times the largest of them, before and after compression, so every chunk,
read, block and batch boundary falls somewhere inside a row, many times over.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgarchiver_tui.pipeline import decode, source
from pgarchiver_tui.storage import local
from tests.archive_support import archive_args, execute, query, run_cli
from tests.readback_support import column_types, command, differences, flags

SMALL_BYTES = 2048  # every byte buffer of the chain, for this test
SMALL_BATCH = 16  # Parquet rows decoded at a time
ROWS = 160  # per example, the drawn rows repeated: > 3 × SMALL_BATCH, and > 3 × SMALL_BYTES before and after zstd

COLUMNS = ["at", "id", "small", "whole", "big", "num", "fixed", "wide", "r", "d", "flag", "body", "raw", "js", "jb",
           "ints", "texts", "day", "ts", "tz", "iv", "u", "ip", "ch", "vc", "noise"]
DDL = """
CREATE TABLE gen (
    at timestamp NOT NULL, id int NOT NULL, small smallint, whole integer, big bigint, num numeric,
    fixed numeric(38,20), wide numeric(60,30), r real, d double precision, flag boolean, body text, raw bytea,
    js json, jb jsonb, ints int[], texts text[], day date, ts timestamp, tz timestamptz, iv interval, u uuid,
    ip inet, ch char(5), vc varchar(10), noise text
) PARTITION BY RANGE (at);
CREATE TABLE gen_20240101 PARTITION OF gen FOR VALUES FROM ('2024-01-01') TO ('2024-01-02');
CREATE TABLE seeds (LIKE gen);
"""
# what Parquet cannot hold (infinite, BC or year-10000 dates and timestamps, NaN in a decimal) made NULL
PARQUET_ONLY = "UPDATE gen SET " + ", ".join([
    *[f"{c} = CASE WHEN {c} >= '0001-01-01' AND {c} < '10000-01-01' THEN {c} END" for c in ("day", "ts", "tz")],
    "fixed = CASE WHEN fixed <> 'NaN' THEN fixed END",
])

CHARS = st.one_of(st.sampled_from(list("\n\r\t\"'\\,;|{}[] NULL\\N.éü€✓🐘\x01\x7f")),
                  st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
TEXT = st.text(alphabet=CHARS, max_size=24)


def nullable(values: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), values)


def float_text(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x)


def array_text(items: list[str | None]) -> str:
    quoted = ("NULL" if s is None else '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in items)
    return "{" + ",".join(quoted) + "}"


def interval_text(parts: tuple[int, int, int, int]) -> str:
    months, days, seconds, micros = parts
    return f"{months} mons {days} days {seconds} seconds {micros} microseconds"


JSON_VALUES = st.recursive(
    st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(st.one_of(st.none(), inner), max_size=3)
    | st.dictionaries(TEXT.map(lambda s: s[:6]), st.one_of(st.none(), inner), max_size=3),
    max_leaves=6)
JSON_TEXT = st.builds(lambda value, indent, separators: json.dumps(value, indent=indent, separators=separators,
                                                                 ensure_ascii=False),
                      JSON_VALUES, st.sampled_from([None, 0, 2, "\t"]),
                      st.sampled_from([(",", ":"), (", ", ": "), (" ,\r\n ", " :\n\t")]))
DATES = st.one_of(st.dates().map(str), st.sampled_from(["infinity", "-infinity", "4713-01-01 BC", "0044-03-15 BC"]))
TIMESTAMPS = st.one_of(st.datetimes().map(lambda t: t.isoformat(sep=" ")),
                       st.sampled_from(["infinity", "-infinity", "0001-01-01 00:00:00 BC"]))
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=11))])
ROW = st.tuples(
    nullable(st.integers(-2**15, 2**15 - 1).map(str)),
    nullable(st.integers(-2**31, 2**31 - 1).map(str)),
    nullable(st.integers(-2**63, 2**63 - 1).map(str)),
    nullable(st.one_of(st.decimals(-10**40, 10**40, allow_nan=False, allow_infinity=False).map(str),
                       st.sampled_from(["NaN", "Infinity", "-Infinity", "-0.0", "0.000000000000000000001"]))),
    nullable(st.one_of(st.decimals(-10**17, 10**17, places=20).map(str), st.just("NaN"))),
    nullable(st.decimals(-10**29, 10**29, places=30).map(str)),
    nullable(st.floats(width=32).map(float_text)),
    nullable(st.floats().map(float_text)),
    nullable(st.sampled_from(["t", "f"])),
    nullable(TEXT),
    nullable(st.binary(max_size=16).map(lambda b: "\\x" + b.hex())),
    nullable(JSON_TEXT),
    nullable(JSON_TEXT),
    nullable(st.lists(st.one_of(st.none(), st.integers(-2**31, 2**31 - 1).map(str)), max_size=4).map(array_text)),
    nullable(st.lists(st.one_of(st.none(), TEXT), max_size=4).map(array_text)),
    nullable(DATES),
    nullable(TIMESTAMPS),
    nullable(st.one_of(st.datetimes(timezones=ZONES).map(lambda t: t.isoformat(sep=" ")),
                       st.sampled_from(["infinity", "-infinity"]))),
    nullable(st.tuples(st.integers(-10**5, 10**5), st.integers(-10**6, 10**6), st.integers(-10**9, 10**9),
                       st.integers(-10**6, 10**6)).map(interval_text)),
    nullable(st.uuids().map(str)),
    nullable(st.ip_addresses().map(str)),
    nullable(st.text(alphabet=CHARS, max_size=5)),
    nullable(st.text(alphabet=CHARS, max_size=10)),
)


@pytest.fixture
def small_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "CHUNK_BYTES", SMALL_BYTES)  # COPY rows gathered before formatting
    monkeypatch.setattr(local, "READ_BYTES", SMALL_BYTES)  # stored bytes read back
    monkeypatch.setattr(decode, "BATCH_ROWS", SMALL_BATCH)  # Parquet record batches decoded


DRAWN = COLUMNS[2:-1]  # the columns ROW draws, in order
TYPES = ["smallint", "integer", "bigint", "numeric", "numeric(38,20)", "numeric(60,30)", "real",
         "double precision", "boolean", "text", "bytea", "json", "jsonb", "int[]", "text[]", "date", "timestamp",
         "timestamptz", "interval", "uuid", "inet", "char(5)", "varchar(10)"]


def load(dsn: str, rows: list[tuple]) -> None:
    """The drawn rows, each repeated under new ids, times and incompressible noise, into gen."""
    execute(dsn, "TRUNCATE gen, seeds")
    values = ", ".join(f"%s::{kind}" for kind in TYPES)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")  # timestamptz values are given with their offsets
        for n, row in enumerate(rows):
            conn.execute(f"INSERT INTO seeds (at, id, {', '.join(DRAWN)}) VALUES ('2024-01-01', {n}, {values})",
                         row)  # type: ignore[arg-type]
    copies = -(-ROWS // len(rows))
    execute(dsn, f"""INSERT INTO gen SELECT '2024-01-01'::timestamp + (c * {len(rows)} + s.id) * interval '1 second',
                         c * {len(rows)} + s.id, small, whole, big, num, fixed, wide, r, d, flag, body, raw, js, jb,
                         ints, texts, day, ts, tz, iv, u, ip, ch, vc,
                         md5(random()::text) || md5(random()::text) || md5(random()::text)
                    FROM seeds s, generate_series(0, {copies - 1}) c""")


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(rows=st.lists(ROW, min_size=1, max_size=8))
def test_generated_rows_of_every_type_come_back_identical_in_every_format(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], small_buffers: None,
        rows: list[tuple]) -> None:
    if query(pg_dsn, "SELECT to_regclass('gen') IS NULL") == [(True,)]:  # one database for every example
        execute(pg_dsn, DDL)
    load(pg_dsn, rows)
    example = uuid.uuid4().hex[:8]
    for fmt in ("jsonl", "csv", "parquet"):
        if fmt == "parquet":
            execute(pg_dsn, PARQUET_ONLY)
        where = flags(local_dir=tmp_path / example / fmt, cache_dir=tmp_path / example / "cache")
        run = run_cli(capsys, *archive_args(pg_dsn, "gen", "2024-01-01", "2024-01-01", output_format=fmt), *where)
        assert run.code == 0, run.err
        [archived] = run.objects("archived")
        rows_in = query(pg_dsn, "SELECT count(*) FROM gen")[0][0]
        assert archived["rows"] == rows_in > 3 * SMALL_BATCH
        assert archived["bytes_in"] > 3 * SMALL_BYTES and archived["bytes_out"] > 3 * SMALL_BYTES
        target = f"back_{fmt}_{example}"
        restored = command(capsys, "restore", "--dsn", pg_dsn, "--table", "gen", "--target-table", target, *where)
        assert restored.code == 0, restored.err
        assert column_types(pg_dsn, target) == column_types(pg_dsn, "gen")
        assert differences(pg_dsn, "gen", target, json_newlines_as_spaces=fmt == "jsonl", columns=COLUMNS) == []
        assert query(pg_dsn, f"SELECT count(*) FROM {target}") == [(rows_in,)]

