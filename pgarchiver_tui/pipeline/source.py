"""Rows out of PostgreSQL as COPY bytes, gathered into large chunks."""

from __future__ import annotations

import ctypes
import functools
import os
import select
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType

import psycopg
from psycopg import errors, pq, sql

from pgarchiver_tui.core.errors import Cancelled

CHUNK_BYTES = 1 << 20  # gathering COPY rows into ~1 MiB before compressing is what makes Python keep up
_ABANDON_TIMEOUT = 10.0  # seconds to wait for the server to accept the cancel of an abandoned COPY
_QUIET_MS = 100  # the C reader comes back at least this often while the server sends nothing: cancel is seen

Wait = Callable[[], object]


@dataclass
class CopyCount:
    """What the server said when the COPY ended: the rows it sent (-1 until it said)."""

    rows: int = -1


def copy_out(cursor: psycopg.Cursor, statement: sql.Composable, cancel: threading.Event,
             on_chunk: Callable[[int, int], None], count: CopyCount | None = None) -> Iterator[bytes]:
    """Stream one COPY TO STDOUT; `on_chunk(rows, bytes)` is told of each chunk as it leaves.

    libpq hands over one row per read, so the row count is the number of reads; once the stream is exhausted
    `count.rows` holds the number of rows the server says it sent, to check the reads against.

    The COPY runs on libpq directly, not through psycopg's `cursor.copy()`, for two reasons:
    - speed: `Copy.read()` runs a generator and a wait per row, several microseconds that made the loop
      slower than the server; here waiting happens in poll(), which also releases the GIL (libpq's own
      blocking read would hold it, stalling the other workers and the S3 uploads of this process);
    - `cursor.copy()` holds the connection's lock while its block is open, across every `yield`: a consumer
      that failed without closing this generator left the lock taken, and the transaction's rollback then
      waited for it forever. Nothing is held across a `yield` here, and an abandoned COPY is cancelled.
    """
    conn = cursor.connection
    pgconn = conn.pgconn
    wait = _waiter(pgconn.socket)
    # psycopg's documented `pgconn` is enough: the connection is this worker's alone (the pool gives each
    # worker its own), so nothing else can send on it meanwhile; a cancel from another thread goes over a
    # connection of its own (`cancel_safe`)
    _start(pgconn, statement.as_bytes(conn), wait, conn.info.encoding)
    finished = False
    native = native_reader()
    try:
        if native is not None:
            yield from _read_chunks(native, pgconn, cancel, on_chunk)
        else:
            yield from _read_rows(pgconn, wait, cancel, on_chunk)
        result = _final_result(pgconn, wait)
        finished = True
    finally:
        if not finished:
            _abandon(conn, wait)
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise _error(result, conn.info.encoding)
    if count is not None:  # psycopg never saw this COPY, so its cursor.rowcount knows nothing of it
        count.rows = result.command_tuples if result.command_tuples is not None else -1


def _error(result: pq.abc.PGresult, encoding: str) -> psycopg.Error:
    """The server's error as psycopg's exception class for its SQLSTATE (`errors.lookup`, the public way)."""
    state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode("ascii", "replace")
    message = result.error_message.decode(encoding, "replace").strip() or "the server reported an error"
    try:
        return errors.lookup(state)(message)
    except KeyError:  # a state psycopg has no class for: by its class, a lost connection or any other
        return (psycopg.OperationalError if state.startswith("08") else psycopg.DatabaseError)(message)


def _waiter(fd: int, events: int = select.POLLIN if hasattr(select, "POLLIN") else 1) -> Wait:
    """A call that blocks until `fd` is ready: poll() where there is one (a C call, cheaper than selectors)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, events)
        return poller.poll
    if events == 1:
        return lambda: select.select([fd], [], [])
    return lambda: select.select([], [fd], [])


def _start(pgconn: pq.abc.PGconn, query: bytes, wait: Wait, encoding: str) -> None:
    pgconn.send_query(query)
    if pgconn.flush():  # the connection is non-blocking: the query may not have left in one go
        writable = _waiter(pgconn.socket, select.POLLOUT if hasattr(select, "POLLOUT") else 4)
        while pgconn.flush():
            writable()
    _wait_ready(pgconn, wait)
    result = pgconn.get_result()
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        while True:  # the query failed (or was no COPY TO STDOUT): finish it, then say why
            _wait_ready(pgconn, wait)
            if pgconn.get_result() is None:
                break
        if result is not None and result.status == pq.ExecStatus.FATAL_ERROR:
            raise _error(result, encoding)
        raise psycopg.ProgrammingError("copy_out needs a COPY ... TO STDOUT statement")


@functools.cache
def native_reader() -> ModuleType | None:
    """The C reader (`_copyreader.c`) bound to the libpq psycopg loaded, or None: it was not built (no C compiler
    when the package was installed) or that libpq cannot be found, and rows are read in Python (`_read_rows`)."""
    if os.environ.get("PGARCHIVER_COPY_READER") == "python":  # to compare the two, or to rule the C one out
        return None
    try:
        from pgarchiver_tui.pipeline import _copyreader  # type: ignore[attr-defined]
    except ImportError:
        return None
    lib = _psycopg_libpq()
    if lib is None:
        return None
    _copyreader.bind(*(ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
                       for name in ("PQgetCopyData", "PQconsumeInput", "PQfreemem")))
    return _copyreader


def _psycopg_libpq() -> ctypes.CDLL | None:
    """psycopg's own libpq, already loaded: a connection must only meet the library that made it."""
    if pq.__impl__ == "python":
        from psycopg.pq import _pq_ctypes

        return _pq_ctypes.pq  # type: ignore[attr-defined, no-any-return]
    try:  # the binary and C builds load it themselves: find it among this process's mappings (Linux)
        with open("/proc/self/maps") as maps:
            mapped = {fields[5] for fields in map(str.split, maps) if len(fields) >= 6}
    except OSError:
        return None
    paths = {path for path in mapped if os.path.basename(path).startswith(("libpq.", "libpq-"))}
    if len(paths) != 1:  # none, or two libpqs in one process: which one made the connection is unknown
        return None
    try:
        lib = ctypes.CDLL(paths.pop(), mode=os.RTLD_NOLOAD)  # NOLOAD: the one mapped, never a second copy
    except (OSError, AttributeError):
        return None
    return lib if lib.PQlibVersion() == pq.version() else None


def _read_chunks(native: ModuleType, pgconn: pq.abc.PGconn, cancel: threading.Event,
                 on_chunk: Callable[[int, int], None]) -> Iterator[bytes]:
    """The C reader's loop: a chunk per call, the GIL free while it gathers; the same checks as `_read_rows`."""
    pointer, socket = pgconn.pgconn_ptr, pgconn.socket  # type: ignore[attr-defined]  # public, not in the abc
    while True:
        status, rows, data = native.read(pointer, socket, CHUNK_BYTES, _QUIET_MS)
        if rows:
            on_chunk(rows, len(data))
            yield data
        if status == 0:
            return
        if status < 0:
            what = {-2: "reading the COPY data", -3: "receiving from the server"}.get(status, "waiting for the server")
            message = pgconn.error_message.decode(errors="replace").strip() or "the connection failed"
            raise psycopg.OperationalError(f"{what} failed: {message}")
        if cancel.is_set():
            raise Cancelled("cancelled while reading")


def _read_rows(pgconn: pq.abc.PGconn, wait: Wait, cancel: threading.Event,
               on_chunk: Callable[[int, int], None]) -> Iterator[bytes]:
    """Each row is appended to one bytearray at once, so libpq's buffer for it is freed before the next read.

    Keeping every row's memoryview in a list until the chunk was joined cost 2.5x the CPU of this loop on
    narrow rows (0.48 s against 0.19 s for 500,000 rows of 94 bytes): half a million live buffers, each freed
    late, and a join that asks each one for its buffer. The loop is the tool's only per-row work in Python.
    """
    get_copy_data = pgconn.get_copy_data
    pending = bytearray()
    rows = 0
    while True:
        size, data = get_copy_data(1)  # 1: never block inside libpq, which would hold the GIL
        if size > 0:
            pending += data
            rows += 1
            if len(pending) >= CHUNK_BYTES:
                if cancel.is_set():
                    raise Cancelled("cancelled while reading")
                on_chunk(rows, len(pending))
                yield bytes(pending)  # bytes: the stages downstream may keep it; the copy is ~1% of the loop
                pending = bytearray()
                rows = 0
        elif size == 0:  # nothing buffered: wait for the socket
            wait()
            pgconn.consume_input()
        else:  # -1: the COPY is over (-2 is raised by psycopg)
            break
    if rows:
        on_chunk(rows, len(pending))
        yield bytes(pending)


def _wait_ready(pgconn: pq.abc.PGconn, wait: Wait) -> None:
    while pgconn.is_busy():
        wait()
        pgconn.consume_input()


def _final_result(pgconn: pq.abc.PGconn, wait: Wait) -> pq.abc.PGresult:
    """The COPY's closing result (its row count, or the error that ended it), then the end of the query."""
    results = []
    while True:
        _wait_ready(pgconn, wait)
        if (result := pgconn.get_result()) is None:
            break
        results.append(result)
    if not results:
        raise psycopg.OperationalError("the server ended the COPY without a result")
    return results[0]


def _abandon(conn: psycopg.Connection, wait: Wait) -> None:
    """The reader stopped mid-COPY: cancel it on the server and drain what is left, so the connection
    can roll back and be used again. A connection that is already gone needs nothing."""
    pgconn = conn.pgconn
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
        return
    try:
        conn.cancel_safe(timeout=_ABANDON_TIMEOUT)
        while (size := pgconn.get_copy_data(1)[0]) >= 0:
            if size == 0:
                wait()
                pgconn.consume_input()
        _final_result(pgconn, wait)
    except (psycopg.Error, OSError):
        pass  # the connection is broken; its owner sees that and drops it
