"""Connections to PostgreSQL: libpq conventions, gentle session settings, errors in one line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import IsolationLevel, errors

from pgarchiver_tui.core.errors import Cancelled, ConfigError, DatabaseError, PrivilegeError, Unavailable

APPLICATION_NAME = "pgarchiver-tui"
TRANSIENT_SQLSTATES = ("57P01", "57P02", "57P03", "40001", "40P01", "53300")

# libpq says why a connection failed only in words (psycopg gives no SQLSTATE before a session exists).
# The server's limit or state: retry later, with backoff.
_BUSY = re.compile(r"too many clients|too many connections|connection slots are reserved|remaining connection "
                   r"slots|the database system is (starting up|shutting down|in recovery mode|not yet accepting)"
                   r"|not accepting connections", re.I)
# The configuration: a wrong name, credential or TLS setting; retrying cannot help.
_REFUSED_SETTINGS = re.compile(r"authentication|password|pg_hba\.conf|does not exist|permission denied|"
                               r"not permitted|SSL|certificate|GSSAPI|no such file|invalid .*(option|value)|"
                               r"Name or service not known|nodename nor servname|server does not support", re.I)


def connect(conninfo: str, *, snapshot: bool = True, statement_timeout_ms: int = 0,
            lock_timeout_ms: int = 0) -> psycopg.Connection:
    """Open a connection; libpq fills in what `conninfo` leaves out from PG* variables and ~/.pgpass.

    With `snapshot`, each transaction is REPEATABLE READ READ ONLY: one consistent view per object.
    """
    try:
        conn = psycopg.connect(conninfo, application_name=APPLICATION_NAME, autocommit=not snapshot)
    except psycopg.OperationalError as exc:
        raise connect_error(exc) from None
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


def connect_error(exc: psycopg.OperationalError) -> Exception:
    """Why a connection failed, by cause: the settings (exit 2), or a server that is down, unreachable, silent
    past connect_timeout or at its connection limit (exit 3; retried within a run)."""
    reason = _reason(exc)
    if _BUSY.search(reason):
        limit = " (its max_connections is reached)" if re.search(r"clients|connections|slots", reason) else ""
        return Unavailable(f"the database refuses connections for now{limit}: {reason}; retry later, or lower "
                           "--workers", retryable=True)
    if _REFUSED_SETTINGS.search(reason):
        return ConfigError(f"cannot connect to the database: {reason}; check --dsn/--db-* or the PG* variables")
    if "timeout expired" in reason or "timed out" in reason:
        return Unavailable(f"the database did not answer within its connect timeout: {reason}; check that the "
                           "server is up and reachable, or raise --db-connect-timeout", retryable=True)
    return Unavailable(f"cannot connect to the database: {reason}; check that the server is up and reachable "
                       "(--dsn/--db-host/--db-port)", retryable=True)


def _reason(exc: BaseException) -> str:
    """libpq's message in one line: the last host's failure, without the 'connection failed:' preamble."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    failures = [line for line in lines if "failed:" in line or "FATAL:" in line] or lines or [type(exc).__name__]
    text = re.sub(r"^connection failed:\s*", "", failures[-1])
    return re.sub(r"\s+", " ", text)


def free_connection_slots(conn: psycopg.Connection) -> int:
    """Connections the server would still accept from this role in this database, counting `conn` as free
    (the caller closes it before it opens more): max_connections less its reserved slots and the client
    connections open now, and the role's and the database's own CONNECTION LIMITs."""
    row = conn.execute("""
        WITH open AS (SELECT usename, datname FROM pg_stat_activity WHERE backend_type = 'client backend')
        SELECT current_setting('max_connections')::int
                 - current_setting('superuser_reserved_connections')::int
                 - coalesce(current_setting('reserved_connections', true)::int, 0)
                 - (SELECT count(*) FROM open),
               (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user)
                 - (SELECT count(*) FROM open WHERE usename = current_user),
               (SELECT datconnlimit FROM pg_database WHERE datname = current_database())
                 - (SELECT count(*) FROM open WHERE datname = current_database()),
               (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user) < 0,
               (SELECT datconnlimit FROM pg_database WHERE datname = current_database()) < 0""").fetchone()
    assert row is not None, "a query without FROM returns one row"
    server, role, database, role_unlimited, database_unlimited = row
    limits = [server] + ([] if role_unlimited else [role]) + ([] if database_unlimited else [database])
    return max(0, min(limits)) + 1


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
