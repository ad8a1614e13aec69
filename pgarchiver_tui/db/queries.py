"""Questions asked of the live rows: how many a job's slices hold now."""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from pgarchiver_tui.core.model import Job
from pgarchiver_tui.db.connection import scalar
from pgarchiver_tui.pipeline.formats import Selection


def count_job_rows(executor: psycopg.Connection | psycopg.Cursor, job: Job) -> int:
    """The rows the job's slices hold now (`count(*)` of each)."""
    return sum(int(scalar(executor, Selection.of(part, job.date_column).select(sql.SQL("count(*)"))))
               for part in job.slices)


_RANGE_KEY = re.compile(r'^RANGE \(("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\)$')


def range_key_column(key_definition: str) -> str | None:
    """The one column of `RANGE (column)`, as pg_get_partkeydef() prints it; None for any other key."""
    match = _RANGE_KEY.match(key_definition)
    key = match.group(1) if match else None
    if key is not None and key.startswith('"'):
        key = key[1:-1].replace('""', '"')
    return key


def partition_key_column(conn: psycopg.Connection, schema: str, table: str) -> str | None:
    """The date column a table is range-partitioned by, if it is partitioned by one column."""
    row = conn.execute("SELECT coalesce(pg_get_partkeydef(c.oid), '') FROM pg_class c JOIN pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                       (schema, table)).fetchone()
    return range_key_column(row[0]) if row else None
