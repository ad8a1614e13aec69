"""Helpers shared by the verify, restore and round-trip tests: a table of every type, CLI runs, comparisons."""

from __future__ import annotations

from tests.archive_support import Run, command, flags, query  # noqa: F401 - re-exported for the readback tests

# Every column type the round trip guarantees; day 1 holds values every format carries, day 2 the values only
# the text formats can (pyarrow has no infinite or BC dates and no years past 9999... in its CSV reader).
TYPES_DDL = """
CREATE TABLE kinds (
    at timestamp NOT NULL, small smallint, whole integer, big bigint, num numeric, fixed numeric(38,20),
    wide numeric(60,30), r real, d double precision, flag boolean, body text, raw bytea, js json, jb jsonb,
    ints int[], texts text[], day date, ts timestamp, tz timestamptz, iv interval, u uuid, ip inet,
    ch char(5), vc varchar(10)
) PARTITION BY RANGE (at);
CREATE TABLE kinds_20240101 PARTITION OF kinds FOR VALUES FROM ('2024-01-01') TO ('2024-01-02');
CREATE TABLE kinds_20240102 PARTITION OF kinds FOR VALUES FROM ('2024-01-02') TO ('2024-01-03');
"""
COMMON_ROWS = r"""
INSERT INTO kinds VALUES
 ('2024-01-01 00:00', 32767, -2147483648, 9223372036854775807,
  123456789012345678901234567890.123456789012345678901234567890, 12345678901234567.12345678901234567890,
  0.000000000000000000000000000001, 3.4028235e38, 1.7976931348623157e308, true,
  E'line1\nline2\ttab "quote" \\backslash ''single'' \u00fc\u20ac\U0001F418 \r\n end', '\x00ff10',
  E'{"a": [1, 2.50, null],\n "b": "x\\ny"}', '{"k": {"n": 1.10}, "s": "t\"q"}', '{1,NULL,3}',
  '{"a,b","NULL",NULL,"\"q\"","back\\slash",""}', '2024-02-29', '2024-01-01 12:34:56.789012',
  '2024-01-01 12:34:56.789012+05:30', '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '192.168.0.1/24', 'ab', 'xyz'),
 ('2024-01-01 01:00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('2024-01-01 02:00', 0, 0, 0, 'NaN', 0, -1.5, 'NaN', 'NaN', false, '', '', '[]', '"s"', '{}', '{}',
  '0001-01-01', '1900-01-01 00:00:00.000001', '1970-01-01 00:00:00+00', '-1 days', NULL, '::1', '', ''),
 ('2024-01-01 03:00', -1, -1, -1, '-0.0', -0.000001, 1, 'Infinity', '-Infinity', NULL, E'\\N', '\x5c', '"s"',
  '1', '{NULL}', '{NULL}', '9999-12-31', '2262-04-11 23:47:16.854775', '1677-09-21 00:12:44+00', '-1 days 00:00:01',
  '00000000-0000-0000-0000-000000000000', '2001:db8::1/128', NULL, NULL),
 ('2024-01-01 04:00', 1, 1, 1, 'Infinity', 1, 1, '-Infinity', 1e-320, true, 'NULL', NULL, '{}', '{}',
  '{{1,2},{3,4}}', '{{a,b},{c,d}}', '2024-01-01', '2024-01-01', '2024-01-01', '0', NULL, NULL, NULL, NULL),
 ('2024-01-01 05:00', 1, 1, 1, '1.10', 1, 1, 1.17549435e-38, 5e-324, true, ',', NULL, '1', '1', NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('2024-01-01 06:00', NULL, NULL, NULL, NULL, NULL, NULL, -0.0, -0.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
"""
TEXT_ONLY_ROWS = r"""
INSERT INTO kinds (at, day, ts, tz, num) VALUES
 ('2024-01-02 00:00', 'infinity', 'infinity', '-infinity', '-Infinity'),
 ('2024-01-02 01:00', '4713-01-01 BC', '0001-01-01 00:00:00 BC', '294276-12-31 23:59:59.999999+00', NULL)
"""
COLUMNS = ["at", "small", "whole", "big", "num", "fixed", "wide", "r", "d", "flag", "body", "raw", "js", "jb",
           "ints", "texts", "day", "ts", "tz", "iv", "u", "ip", "ch", "vc"]


def as_text(table: str, columns: list[str], json_newlines_as_spaces: bool = False) -> str:
    """Every column as the server prints it: stricter than `=` (1.10 vs 1.1, -0 vs 0, '1 day' vs '24:00')."""
    fields = [f"{c}::text" for c in columns]
    if json_newlines_as_spaces:  # JSONL's one documented liberty: raw newlines in json whitespace become spaces
        fields[columns.index("js")] = "translate(js::text, e'\\n\\r', '  ')"
    return f"SELECT {', '.join(fields)} FROM {table}"


def differences(dsn: str, original: str, restored: str, json_newlines_as_spaces: bool = False,
                columns: list[str] = COLUMNS) -> list[tuple]:
    """Rows in one and not the other (EXCEPT ALL both ways), each side's rows printed as text."""
    left = as_text(original, columns, json_newlines_as_spaces)
    right = as_text(restored, columns, json_newlines_as_spaces)
    return query(dsn, f"({left} EXCEPT ALL {right}) UNION ALL ({right} EXCEPT ALL {left})")


def column_types(dsn: str, table: str) -> list[tuple[str, str]]:
    return query(dsn, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                      "%s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,))
