"""Checks before a run, for the connection form's Test: is the database there and readable, is the
destination reachable and writable. Each answers with one line or raises an ArchiverError naming the fix."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg import sql

from pgarchiver_tui.core.errors import ConfigError, PrivilegeError
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.db.connection import connect
from pgarchiver_tui.storage.destination import open_destination

PROBE_PREFIX = ".pgarchiver-probe-"


def _row(conn: psycopg.Connection, query: str, args: tuple[object, ...] = ()) -> tuple[Any, ...]:
    row = conn.execute(query, args).fetchone()  # type: ignore[arg-type]
    assert row is not None, "a query without FROM always returns one row"
    return row


def check_database(settings: Settings) -> str:
    with connect(settings.conninfo(), snapshot=False) as conn:
        version = _row(conn, "SHOW server_version")[0]
        answer = f"PostgreSQL {version.split()[0]} at {settings.database_label()}"
        if not settings.table:
            return answer
        schema, table = settings.qualified_table()
        name = sql.Identifier(schema, table).as_string(conn)
        row = _row(conn, "SELECT to_regclass(%s) IS NOT NULL", (name,))
        if not row[0]:
            # legacy layouts have no parent table: events_20240101, …
            legacy = _row(
                conn, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND left(c.relname, %s) = %s AND c.relkind IN ('r', 'p')",
                (schema, len(table) + 1, table + "_"))[0]
            if not legacy:
                raise ConfigError(f"table {schema}.{table} does not exist; check the table and schema")
            return f"{answer}; {legacy} table(s) named {table}_…"
        if not _row(conn, "SELECT has_table_privilege(%s, 'SELECT')", (name,))[0]:
            raise PrivilegeError(f"no SELECT privilege on {schema}.{table}; GRANT SELECT to the archiving role")
        return f"{answer}; SELECT on {schema}.{table} granted"


def check_destination(settings: Settings) -> str:
    """Reachable and writable: writes a small probe object and deletes it again."""
    storage = open_destination(settings, check=True)
    probe = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    storage.put_bytes(probe, b"pgarchiver-tui write check\n")
    storage.delete(probe)
    return f"{storage.url} is reachable and writable"
