"""Rows out of PostgreSQL as COPY bytes, gathered into large chunks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
from psycopg import sql

from pgarchiver_tui.errors import Cancelled

CHUNK_BYTES = 1 << 20  # gathering COPY rows into ~1 MiB before compressing is what makes Python keep up

def copy_out(cursor: psycopg.Cursor, statement: sql.Composable, cancel: threading.Event,
             on_chunk: Callable[[int, int], None]) -> Iterator[bytes]:
    """Stream one COPY TO STDOUT; `on_chunk(rows, bytes)` is told of each chunk as it leaves.

    psycopg hands over one row per read, so the row count is the number of reads.
    """
    with cursor.copy(statement) as copy:
        read = copy.read
        pending: list[memoryview | bytes] = []
        pending_bytes = rows = 0
        while data := read():
            pending.append(data)
            pending_bytes += len(data)
            rows += 1
            if pending_bytes >= CHUNK_BYTES:
                if cancel.is_set():
                    raise Cancelled("cancelled while reading")
                on_chunk(rows, pending_bytes)
                yield b"".join(pending)
                pending.clear()
                pending_bytes = rows = 0
        if pending:
            on_chunk(rows, pending_bytes)
            yield b"".join(pending)

