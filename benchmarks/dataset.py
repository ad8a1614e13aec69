"""The benchmark's tables, generated server-side so that even millions of rows take seconds to make.

`events`: daily partitions of rows of about 330 bytes as COPY text (bigint, timestamptz, bigint, text, numeric,
jsonb, text[]), the shape of an application's event log. `narrow`: the same days with rows of about 118 bytes
as COPY text (six plain columns), where what is paid per row rather than per byte dominates. `many`: a thousand small daily partitions, for the
rerun. `wide`: ten thousand empty daily partitions, for discovery.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
from psycopg import sql

FIRST_DAY = date(2024, 1, 1)

_ROWS = """
INSERT INTO {partition}
SELECT g,
       {day}::timestamptz + (g - {first}) * {step},
       1 + mod(g * 7919, 100000),
       (ARRAY['page_view', 'click', 'purchase', 'refund', 'signup', 'login'])[1 + mod(g, 6)::int],
       round(mod(g * 37, 1000000) / 100.0, 2),
       jsonb_build_object(
           'path', '/api/v1/items/' || mod(g, 10000),
           'status', (ARRAY[200, 200, 200, 201, 304, 404, 500])[1 + mod(g, 7)::int],
           'ms', mod(g * 13, 2000),
           'ip', '10.' || mod(g, 256) || '.' || mod(g / 256, 256) || '.' || mod(g * 31, 256),
           'ua', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.5.0', 'okhttp/4.12.0'])[1 + mod(g, 3)::int],
           'trace', md5(g::text),
           'session', md5('session:' || (g / 7)),
           'ref', 'https://example.com/?q=' || mod(g * 11, 5000),
           'cart', jsonb_build_array(mod(g, 97), mod(g, 89), mod(g, 83))),
       ARRAY['tier-' || mod(g, 4), 'region-' || mod(g, 9), 'ab-' || mod(g, 2)]
FROM generate_series({first}::bigint, {last}::bigint) AS g
"""


def day_name(table: str, day: date) -> str:
    return f"{table}_{day:%Y%m%d}"


def create_parent(conn: psycopg.Connection, table: str) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table)))
    conn.execute(sql.SQL(
        "CREATE TABLE {} (id bigint, created_at timestamptz NOT NULL, account_id bigint, kind text, "
        "amount numeric(12, 2), payload jsonb, tags text[]) PARTITION BY RANGE (created_at)"
    ).format(sql.Identifier(table)))


def add_day(conn: psycopg.Connection, table: str, day: date) -> sql.Identifier:
    partition = sql.Identifier(day_name(table, day))
    conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
        partition, sql.Identifier(table), sql.Literal(f"{day} 00:00:00+00"),
        sql.Literal(f"{day + timedelta(days=1)} 00:00:00+00")))
    return partition


def fill(conn: psycopg.Connection, partition: sql.Identifier, day: date, first_id: int, rows: int) -> None:
    conn.execute(sql.SQL(_ROWS).format(
        partition=partition, day=sql.Literal(f"{day} 00:00:00+00"), first=sql.Literal(first_id),
        last=sql.Literal(first_id + rows - 1),
        step=sql.SQL("interval {}").format(sql.Literal(f"{86_400_000_000 // max(rows, 1)} microseconds")),
    ))


def make_events(dsn: str, table: str, days: int, rows_per_day: int) -> list[date]:
    """`days` daily partitions of `rows_per_day` rows each, frozen and analysed."""
    dates = [FIRST_DAY + timedelta(days=n) for n in range(days)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        create_parent(conn, table)
        for n, day in enumerate(dates):
            fill(conn, add_day(conn, table, day), day, 1 + n * rows_per_day, rows_per_day)
        conn.execute(sql.SQL("VACUUM (FREEZE, ANALYZE) {}").format(sql.Identifier(table)))
    return dates


def make_empty_days(dsn: str, table: str, days: int, rows_per_day: int = 0, batch: int = 500) -> list[date]:
    """Many daily partitions, created in batches (one transaction holds a lock per new table)."""
    dates = [FIRST_DAY - timedelta(days=days - n) for n in range(days)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        create_parent(conn, table)
    for start in range(0, days, batch):
        with psycopg.connect(dsn) as conn:
            for n in range(start, min(start + batch, days)):
                partition = add_day(conn, table, dates[n])
                if rows_per_day:
                    fill(conn, partition, dates[n], 1 + n * rows_per_day, rows_per_day)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    return dates


_NARROW_ROWS = """
INSERT INTO {partition}
SELECT g,
       {day}::timestamptz + (g - {first}) * {step},
       1 + mod(g * 7919, 100000),
       (ARRAY['page_view', 'click', 'purchase', 'refund', 'signup', 'login'])[1 + mod(g, 6)::int],
       round(mod(g * 37, 1000000) / 100.0, 2),
       substr(md5(g::text) || md5((g * 3)::text), 1, {hex_chars})
FROM generate_series({first}::bigint, {last}::bigint) AS g
"""
NARROW_HEX_CHARS = 56  # with the other columns: about 118 bytes per row as COPY text (bench records the mean)


def make_narrow(dsn: str, table: str, days: int, rows_per_day: int) -> list[date]:
    """Daily partitions of narrow rows (bigint, timestamptz, bigint, text, numeric, text), frozen and analysed."""
    dates = [FIRST_DAY + timedelta(days=n) for n in range(days)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table)))
        conn.execute(sql.SQL(
            "CREATE TABLE {} (id bigint, created_at timestamptz NOT NULL, account_id bigint, kind text, "
            "amount numeric(12, 2), ref text) PARTITION BY RANGE (created_at)").format(sql.Identifier(table)))
        for n, day in enumerate(dates):
            first = 1_000_000 + n * rows_per_day
            conn.execute(sql.SQL(_NARROW_ROWS).format(
                partition=add_day(conn, table, day), day=sql.Literal(f"{day} 00:00:00+00"),
                first=sql.Literal(first), last=sql.Literal(first + rows_per_day - 1),
                hex_chars=sql.Literal(NARROW_HEX_CHARS),
                step=sql.SQL("interval {}").format(
                    sql.Literal(f"{86_400_000_000 // max(rows_per_day, 1)} microseconds"))))
        conn.execute(sql.SQL("VACUUM (FREEZE, ANALYZE) {}").format(sql.Identifier(table)))
    return dates
