"""source.copy_out reads COPY rows from libpq directly: same bytes, counts and error handling as psycopg's.

Every test runs on both readers: the C one (`_copyreader.c`, built at install) and the Python one that stands
in when there was no compiler.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg import sql

from pgarchiver_tui.core.errors import Cancelled
from pgarchiver_tui.pipeline import source

ROWS = sql.SQL("COPY (SELECT g, repeat('x', mod(g, 50)), g::text || e'\\t\\\\' FROM generate_series(1, {}) g) "
               "TO STDOUT")


@pytest.fixture(autouse=True, params=["c", "python"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python":
        monkeypatch.setattr(source, "native_reader", lambda: None)
    else:
        assert source.native_reader() is not None, (
            "the C COPY reader is not built or cannot bind to psycopg's libpq: reinstall with a C compiler "
            "(pip install -e .) or run `python setup.py build_ext --inplace` in a checkout")
    return str(request.param)


def psycopg_copy(conn: psycopg.Connection, statement: sql.Composable) -> bytes:
    with conn.cursor().copy(statement) as copy:
        return b"".join(bytes(data) for data in copy)


def test_streams_the_same_bytes_as_psycopg_with_counts(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "CHUNK_BYTES", 4096)
    statement = ROWS.format(20_000)
    told: list[tuple[int, int]] = []
    with psycopg.connect(pg_dsn) as conn:
        cursor = conn.cursor()
        count = source.CopyCount()
        chunks = list(source.copy_out(cursor, statement, threading.Event(), lambda r, b: told.append((r, b)),
                                      count))
        assert count.rows == 20_000
        assert b"".join(chunks) == psycopg_copy(conn, statement)  # chunks kept are never changed by later reads
        assert all(type(chunk) is bytes for chunk in chunks)  # what every stage downstream is promised
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection is idle and usable again
    assert sum(rows for rows, _ in told) == 20_000
    assert [size for _, size in told] == [len(chunk) for chunk in chunks]
    assert all(len(chunk) >= 4096 for chunk in chunks[:-1]) and len(chunks) > 10


def test_empty_copy_yields_nothing_and_counts_zero(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        cursor = conn.cursor()
        count = source.CopyCount()
        assert list(source.copy_out(cursor, ROWS.format(0), threading.Event(), lambda r, b: None, count)) == []
        assert count.rows == 0


def test_a_server_error_mid_copy_is_raised_and_the_connection_recovers(pg_dsn: str) -> None:
    failing = sql.SQL("COPY (SELECT 1 / (g - 30000), repeat('y', 40) FROM generate_series(1, 40000) g) TO STDOUT")
    with psycopg.connect(pg_dsn) as conn:
        cursor = conn.cursor()
        with pytest.raises(psycopg.errors.DivisionByZero):
            for _ in source.copy_out(cursor, failing, threading.Event(), lambda r, b: None):
                pass
        conn.rollback()
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_cancel_stops_at_the_next_chunk_and_the_connection_recovers(pg_dsn: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "CHUNK_BYTES", 1024)
    cancel = threading.Event()
    seen = 0
    with psycopg.connect(pg_dsn) as conn:
        cursor = conn.cursor()
        with pytest.raises(Cancelled):
            for _ in source.copy_out(cursor, ROWS.format(1_000_000), cancel, lambda r, b: None):
                seen += 1
                cancel.set()
        assert seen == 1
        conn.rollback()
        assert conn.execute("SELECT 3").fetchone() == (3,)


def test_a_consumer_that_stops_early_leaves_a_usable_connection(pg_dsn: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "CHUNK_BYTES", 1024)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        chunks = source.copy_out(conn.cursor(), ROWS.format(1_000_000), threading.Event(), lambda r, b: None)
        assert next(chunks)
        chunks.close()
        assert conn.execute("SELECT 4").fetchone() == (4,)


def test_a_consumer_failing_inside_a_transaction_gets_its_own_error_not_a_hang(pg_dsn: str) -> None:
    """The generator is left suspended (as when an exception carries it away in a traceback): the rollback
    must not wait for a lock it holds, and closing it later cancels the COPY and frees the connection."""
    with psycopg.connect(pg_dsn) as conn:
        chunks = source.copy_out(conn.cursor(), ROWS.format(1_000_000), threading.Event(), lambda r, b: None)
        with pytest.raises(RuntimeError, match="consumer failed"), conn.transaction():
            for _ in chunks:
                raise RuntimeError("consumer failed")
        chunks.close()
        conn.rollback()
        assert conn.execute("SELECT 5").fetchone() == (5,)


def test_a_statement_that_fails_to_start_raises_its_error(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            list(source.copy_out(conn.cursor(), sql.SQL("COPY no_such_table TO STDOUT"), threading.Event(),
                                 lambda r, b: None))
        conn.rollback()
        assert conn.execute("SELECT 6").fetchone() == (6,)
