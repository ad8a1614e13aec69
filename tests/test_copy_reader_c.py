"""What only the C COPY reader (`pipeline/_copyreader.c`) does: rows larger than a chunk, a quiet server,
cancellation while the server sends nothing. tests/test_copy_out.py runs the shared behaviour on both readers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import psycopg
import pytest
from psycopg import sql

from pgarchiver_tui.core.errors import Cancelled
from pgarchiver_tui.pipeline import source


@pytest.fixture(autouse=True)
def c_reader() -> None:
    assert source.native_reader() is not None, (
        "the C COPY reader is not built or cannot bind to psycopg's libpq: reinstall with a C compiler "
        "(pip install -e .) or run `python setup.py build_ext --inplace` in a checkout")


def psycopg_copy(conn: psycopg.Connection, statement: sql.Composable) -> bytes:
    with conn.cursor().copy(statement) as copy:
        return b"".join(bytes(data) for data in copy)


def test_rows_larger_than_a_chunk_arrive_whole(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row that does not fit what is left of the chunk grows it (never split across chunks)."""
    monkeypatch.setattr(source, "CHUNK_BYTES", 4096)
    statement = sql.SQL("COPY (SELECT g, repeat(chr(65 + mod(g, 26)), 150000 * mod(g, 3)) "
                        "FROM generate_series(1, 60) g) TO STDOUT")
    told: list[int] = []
    with psycopg.connect(pg_dsn) as conn:
        count = source.CopyCount()
        chunks = list(source.copy_out(conn.cursor(), statement, threading.Event(),
                                      lambda rows, size: told.append(rows), count))
        assert b"".join(chunks) == psycopg_copy(conn, statement)
    assert count.rows == sum(told) == 60
    assert all(chunk.endswith(b"\n") for chunk in chunks)  # whole rows only
    assert max(map(len, chunks)) > 300_000  # the big rows did arrive in grown chunks


def test_a_quiet_server_is_waited_for_and_nothing_is_lost(pg_dsn: str) -> None:
    """The reader comes back to Python when the server sends nothing for a while; the rows before and after
    the pause all arrive, counted once."""
    statement = sql.SQL("COPY (SELECT g, CASE WHEN g = 3 THEN pg_sleep(0.5)::text END FROM generate_series(1, 5) g) "
                        "TO STDOUT")
    with psycopg.connect(pg_dsn) as conn:
        count = source.CopyCount()
        told: list[int] = []
        data = b"".join(source.copy_out(conn.cursor(), statement, threading.Event(),
                                        lambda rows, size: told.append(rows), count))
    assert data == b"1\t\\N\n2\t\\N\n3\t\n4\t\\N\n5\t\\N\n"
    assert count.rows == sum(told) == 5


def test_cancel_is_seen_while_the_server_sends_nothing(pg_dsn: str) -> None:
    """A COPY that stalls on the server mid-stream still ends when the run is cancelled: the C reader waits in
    short polls (the Python reader would wait for the next chunk), and the abandoned COPY is cancelled on the
    server so that the connection can be used again."""
    cancel = threading.Event()
    statement = sql.SQL("COPY (SELECT g, CASE WHEN g = 50000 THEN pg_sleep(600)::text END "
                        "FROM generate_series(1, 60000) g) TO STDOUT")
    seen = []
    with psycopg.connect(pg_dsn) as conn:
        with pytest.raises(Cancelled):
            for chunk in source.copy_out(conn.cursor(), statement, cancel, lambda rows, size: None):
                seen.append(chunk)
                cancel.set()  # the rows before the stall are less than a chunk: this one came when it went quiet
        assert len(seen) == 1 and seen[0].startswith(b"1\t\\N\n")
        conn.rollback()
        assert conn.execute("SELECT 7").fetchone() == (7,)


def test_version_names_the_reader_this_install_runs() -> None:
    def version(**env: str) -> str:
        return subprocess.run([sys.executable, "-m", "pgarchiver_tui", "--version"], capture_output=True, text=True,
                              check=True, env={**os.environ, **env}).stdout.strip()

    assert version().endswith("COPY reader: C")
    assert version(PGARCHIVER_COPY_READER="python").endswith("COPY reader: Python (PGARCHIVER_COPY_READER=python)")
