"""Deterministic demo data: a table partitioned by day, filled server-side.

``seed_events`` builds ``{schema}.{table}`` partitioned by ``RANGE (created_at)`` with one partition per UTC
day (``{table}_YYYYMMDD``) and an empty ``{table}_default``. All values are derived from the row number with
``md5()`` and ``mod()``, never ``random()``, so seeding twice yields byte-identical data.

The rows deliberately contain the values archivers get wrong: NULL next to empty strings, newlines, CR/LF,
tabs, quotes, backslashes, the literal text ``\\N`` and ``NULL``, non-ASCII text, numerics with six decimals,
jsonb with nested objects and escapes, uuids, and text arrays holding commas, quotes and NULL elements.

This module must not import Textual.
"""

from __future__ import annotations

import datetime as _dt
from datetime import date, timedelta

import psycopg
from psycopg import sql

__all__ = ["seed_events", "partition_name", "EVENT_COLUMNS"]

#: Column names and types, in table order.
EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "bigint"),
    ("created_at", "timestamp with time zone"),
    ("account_id", "bigint"),
    ("kind", "text"),
    ("amount", "numeric(18,6)"),
    ("payload", "jsonb"),
    ("session", "uuid"),
    ("note", "text"),
    ("tags", "text[]"),
)

_MAX_IDENT = 63  # NAMEDATALEN - 1; longer names are silently truncated by PostgreSQL


def partition_name(table: str, day: date) -> str:
    """``{table}_YYYYMMDD``."""
    return f"{table}_{day:%Y%m%d}"


# Row generator. {placeholders} are filled by psycopg.sql; everything else is literal SQL (no braces or
# percent signs in here: modulo is spelled mod()). h is md5 of the row number; hx(a) takes 8 hex digits of
# it as a non-negative bigint.
_INSERT = r"""
INSERT INTO {parent} (id, created_at, account_id, kind, amount, payload, session, note, tags)
SELECT
    g,
    ({first_day}::timestamp AT TIME ZONE 'UTC')
        + ((g - 1) / {per_day}) * interval '1 day'
        + ((mod(g - 1, {per_day}) * 86400000000::bigint) / {per_day}) * interval '1 microsecond',
    1 + mod(('x' || lpad(substr(h, 1, 8), 16, '0'))::bit(64)::bigint, 5000),
    (ARRAY['view', 'click', 'purchase', 'refund', 'signup', 'login'])[1 + mod(g, 6)::int],
    CASE
        WHEN mod(g, 97) = 0 THEN NULL
        WHEN mod(g, 101) = 0 THEN
            ((('x' || lpad(substr(h, 9, 8), 16, '0'))::bit(64)::bigint - 2147483648)::numeric)::numeric(18, 6)
        ELSE
            ((('x' || lpad(substr(h, 9, 8), 16, '0'))::bit(64)::bigint - 2147483648)::numeric
                / 1000000)::numeric(18, 6)
    END,
    CASE
        WHEN mod(g, 89) = 0 THEN NULL
        ELSE jsonb_build_object(
            'seq', g,
            'hash', h,
            'flags', jsonb_build_object('even', mod(g, 2) = 0, 'tier', mod(g, 4)),
            'items', jsonb_build_array(mod(g, 3), mod(g, 7), substr(h, 17, 6)),
            'ratio', round(mod(g, 1000)::numeric / 7, 4),
            'text', CASE mod(g, 9)
                WHEN 0 THEN E'back\\slash and "double quotes"'
                WHEN 1 THEN E'line\nbreak\ttab'
                WHEN 2 THEN 'ünïcödé ✓ 🐘'
                WHEN 3 THEN ''
                ELSE NULL
            END
        )
    END,
    CASE WHEN mod(g, 53) = 0 THEN NULL ELSE md5('session:' || (g / 7))::uuid END,
    CASE mod(g, 12)
        WHEN 0 THEN NULL
        WHEN 1 THEN ''
        WHEN 2 THEN E'first line\nsecond line'
        WHEN 3 THEN 'she said "hi" & it''s fine'
        WHEN 4 THEN 'unicode: café, naïve, 日本語, 🐘'
        WHEN 5 THEN E'tab\there, back\\slash'
        WHEN 6 THEN E'crlf\r\nend'
        WHEN 7 THEN 'comma, separated; "value"'
        WHEN 8 THEN E'\\N'
        WHEN 9 THEN 'NULL'
        WHEN 10 THEN ' padded '
        ELSE 'note ' || g
    END,
    CASE mod(g, 13)
        WHEN 0 THEN NULL
        WHEN 1 THEN ARRAY[]::text[]
        WHEN 2 THEN ARRAY['a,b', 'with "quote"', NULL, E'back\\slash', '']
        ELSE ARRAY['t' || mod(g, 4), 'k' || mod(g, 3)]
    END
FROM (
    SELECT g, md5(g::text) AS h
    FROM generate_series(1::bigint, {total}) AS g
) AS src
"""


def seed_events(
    dsn: str,
    table: str = "events",
    first_day: _dt.date = date(2024, 1, 1),
    days: int = 31,
    rows_per_day: int = 2000,
    schema: str = "public",
) -> None:
    """(Re)create ``schema.table`` partitioned by day and fill it deterministically.

    Drops the table first (CASCADE), creates ``days`` daily partitions starting at ``first_day`` (UTC) plus
    an empty DEFAULT partition, inserts ``rows_per_day`` rows into each day (ids 1..days*rows_per_day, in
    created_at order, evenly spread over the day), then runs ANALYZE.
    """
    if isinstance(first_day, _dt.datetime):  # a datetime is a date too; only the day matters
        first_day = first_day.date()
    if days < 0 or rows_per_day < 0:
        raise ValueError("days and rows_per_day must not be negative")
    longest = max(len(f"{table}_default".encode()), len(f"{table}_YYYYMMDD".encode()))
    if longest > _MAX_IDENT:
        raise ValueError(f"table name {table!r} is too long for {table}_YYYYMMDD partition names")

    parent = sql.Identifier(schema, table)
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        if schema != "public":
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(parent))
        conn.execute(
            sql.SQL(
                """
                CREATE TABLE {} (
                    id bigint,
                    created_at timestamptz NOT NULL,
                    account_id bigint,
                    kind text,
                    amount numeric(18, 6),
                    payload jsonb,
                    session uuid,
                    note text,
                    tags text[]
                ) PARTITION BY RANGE (created_at)
                """
            ).format(parent)
        )
        for i in range(days):
            day = first_day + timedelta(days=i)
            nxt = day + timedelta(days=1)
            conn.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(schema, partition_name(table, day)),
                    parent,
                    sql.Literal(f"{day.isoformat()} 00:00:00+00"),
                    sql.Literal(f"{nxt.isoformat()} 00:00:00+00"),
                )
            )
        conn.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
                sql.Identifier(schema, f"{table}_default"), parent
            )
        )
        total = days * rows_per_day
        if total:
            conn.execute(
                sql.SQL(_INSERT).format(
                    parent=parent,
                    first_day=sql.Literal(first_day.isoformat()),
                    per_day=sql.Literal(rows_per_day),
                    total=sql.Literal(total),
                )
            )
        conn.execute(sql.SQL("ANALYZE {}").format(parent))
