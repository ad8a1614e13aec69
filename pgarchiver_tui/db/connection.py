"""Connections to PostgreSQL: libpq conventions, gentle session settings, errors in one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import IsolationLevel, errors

from pgarchiver_tui.core.errors import Cancelled, ConfigError, DatabaseError, PrivilegeError

APPLICATION_NAME = "pgarchiver-tui"
TRANSIENT_SQLSTATES = ("57P01", "57P02", "57P03", "40001", "40P01")


def connect(conninfo: str, *, snapshot: bool = True, statement_timeout_ms: int = 0,
            lock_timeout_ms: int = 0) -> psycopg.Connection:
    """Open a connection; libpq fills in what `conninfo` leaves out from PG* variables and ~/.pgpass.

    With `snapshot`, each transaction is REPEATABLE READ READ ONLY: one consistent view per object.
    """
    try:
        conn = psycopg.connect(conninfo, application_name=APPLICATION_NAME, autocommit=not snapshot)
    except psycopg.OperationalError as exc:
        raise ConfigError(f"cannot connect to the database: {first_line(exc)}; check --dsn/--db-* or the PG* "
                          "variables") from None
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"bad connection settings: {first_line(exc)}") from None
    if snapshot:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
    try:
        # session settings, committed so they outlive this first transaction; the output settings are pinned
        # so that a database's own defaults (ALTER DATABASE ... SET DateStyle) never change what is archived
        conn.execute("SELECT set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO, YMD', false), "
                     "set_config('IntervalStyle', 'postgres', false), set_config('extra_float_digits', '1', false), "
                     "set_config('bytea_output', 'hex', false), set_config('statement_timeout', %s, false), "
                     "set_config('lock_timeout', %s, false)", (str(statement_timeout_ms), str(lock_timeout_ms)))
        if snapshot:
            conn.commit()
    except psycopg.Error as exc:
        conn.close()
        raise translate(exc, cancelled=False) from None
    return conn


def scalar(executor: psycopg.Connection | psycopg.Cursor, query: Any, params: Any = None) -> Any:
    """The first column of the first row of `query`."""
    row = executor.execute(query, params).fetchone()
    if row is None:
        raise DatabaseError(f"no row from {query!r}")
    return row[0]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def translate(exc: psycopg.Error, cancelled: bool) -> Exception:
    """A psycopg error as one of ours."""
    if cancelled and isinstance(exc, (errors.QueryCanceled, psycopg.OperationalError)):
        return Cancelled("cancelled")
    if isinstance(exc, errors.InsufficientPrivilege):
        return PrivilegeError(first_line(exc))
    # a lost connection (no SQLSTATE, or class 08), a terminated backend, a failover, a serialization
    # failure: the same work may well succeed on a new connection
    state = exc.sqlstate
    transient = (state is None and isinstance(exc, psycopg.OperationalError)) or (state or "").startswith("08") \
        or state in TRANSIENT_SQLSTATES
    return DatabaseError(first_line(exc), retryable=transient)


@contextmanager
def translated_errors() -> Iterator[None]:
    """psycopg errors raised inside become ours: one line and a category, never a traceback."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc, cancelled=False) from None
