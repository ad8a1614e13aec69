"""One partition read by several connections at once (`--split N`), still one object.

The worker's transaction exports its snapshot (`pg_export_snapshot`); N-1 more connections adopt it
(`SET TRANSACTION SNAPSHOT`), so every reader sees exactly the rows the worker's own transaction sees. Each
reads one range of the relation's blocks by ctid (a TID range scan on PostgreSQL 14 and later) and compresses
its own stream. Compressed frames concatenate (zstd frames, gzip members, lz4 frames), so the object is the
ranges' streams one after the other: one file that any zstd/gzip/lz4 tool and verify and restore read as one.

Range 0 streams straight through on the worker's connection; the other ranges compress into temporary files
meanwhile and follow in order, so memory stays flat whatever the size, at the cost of disk for the compressed
bytes of the later ranges.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from pgarchiver_tui.core.errors import Cancelled
from pgarchiver_tui.db.connection import connect
from pgarchiver_tui.pipeline import codecs, digest, formats
from pgarchiver_tui.pipeline.source import CopyCount, copy_out

MIN_SERVER_VERSION = 140000  # TID range scans: before 14 each range would scan the whole relation
READ_BYTES = 1 << 20


@dataclass
class Reading:
    """What the readers of one object found, summed: the rows the server sent, header lines, raw bytes."""

    server_rows: int = 0
    header_lines: int = 0
    raw: digest.Tally = field(default_factory=digest.Tally)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, server_rows: int, header_lines: int, raw_bytes: int) -> None:
        with self.lock:
            self.server_rows += server_rows
            self.header_lines += header_lines
            self.raw.bytes += raw_bytes


class _Stop(threading.Event):
    """Set when this object's reading must end early; also set whenever the worker is cancelled."""

    def __init__(self, cancelled: threading.Event) -> None:
        super().__init__()
        self.cancelled = cancelled

    def is_set(self) -> bool:
        return super().is_set() or self.cancelled.is_set()


def block_ranges(conn: psycopg.Connection, relation: sql.Composable, readers: int) -> list[tuple[int, int | None]]:
    """[start, end) block ranges of the relation for up to `readers` readers; the last one is open-ended.

    Fewer ranges than readers for a small relation, and one (the whole relation) where the server has no TID
    range scan. Rows the snapshot sees were all there when it was taken, in blocks below the relation's size
    then; the last range has no end all the same, so that nothing depends on that.
    """
    if readers < 2 or conn.info.server_version < MIN_SERVER_VERSION:
        return [(0, None)]
    query = sql.SQL("SELECT pg_relation_size({}::regclass) / current_setting('block_size')::bigint").format(
        sql.Literal(relation.as_string(conn)))
    row = conn.execute(query).fetchone()
    blocks = int(row[0]) if row else 0
    readers = max(1, min(readers, blocks))
    edges = [blocks * n // readers for n in range(readers)] + [None]
    return [(edges[n], edges[n + 1]) for n in range(readers)]  # type: ignore[misc]


def ranged(selection: formats.Selection, start: int, end: int | None) -> formats.Selection:
    """The selection limited to blocks [start, end) by ctid."""
    bounds = [sql.SQL("t.ctid >= {}::tid").format(sql.Literal(f"({start},0)"))] if start else []
    if end is not None:
        bounds.append(sql.SQL("t.ctid < {}::tid").format(sql.Literal(f"({end},0)")))
    if not bounds:
        return selection
    where = sql.SQL(" AND ").join([*([selection.where] if selection.where is not None else []), *bounds])
    return formats.Selection(selection.relation, where)


def split_stream(conn: psycopg.Connection, conninfo: str, session: dict[str, int], selection: formats.Selection,
                 ranges: list[tuple[int, int | None]], fmt: formats.Format, columns: list, codec: codecs.Codec,
                 level: int, cancelled: threading.Event, on_chunk: Callable[[int, int], None],
                 reading: Reading) -> Generator[bytes, None, None]:
    """The object's compressed bytes: range 0 read on `conn` (inside the worker's snapshot transaction), the
    others by connections of their own on the same snapshot, each compressed apart, in order."""
    stop = _Stop(cancelled)
    snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
    chunk_lock = threading.Lock()

    def counted(rows: int, size: int) -> None:
        with chunk_lock:  # several readers tell the one meter; its totals are the row check
            on_chunk(rows, size)

    def compressed(cursor: psycopg.Cursor | None, n: int) -> Iterator[bytes]:
        cursor = cursor or conn.cursor()
        start, end = ranges[n]
        statement = fmt.copy_out(ranged(selection, start, end), columns, first=n == 0)
        copied = CopyCount()
        raw = digest.Tally()
        yield from codecs.compress(digest.count(copy_out(cursor, statement, stop, counted, copied), raw),
                                   codec, level)
        reading.add(copied.rows, fmt.header_lines(first=n == 0), raw.bytes)

    with contextlib.ExitStack() as files:
        spools = [files.enter_context(tempfile.TemporaryFile(prefix="pgarchiver-split-")) for _ in ranges[1:]]
        yield from _in_order(compressed, len(ranges), conninfo, session, snapshot, spools, stop)


def _in_order(compressed: Callable[[psycopg.Cursor | None, int], Iterator[bytes]], count: int, conninfo: str,
              session: dict[str, int], snapshot: str, spools: list, stop: _Stop) -> Iterator[bytes]:
    """Ranges 1.. read into their spools on threads of their own while range 0 is handed on, then each spool
    in turn; the first error of any reader is raised here, in the worker's thread."""
    errors: list[BaseException] = []
    done = [threading.Event() for _ in spools]

    def read_range(n: int) -> None:
        try:
            with connect(conninfo, snapshot=True, **session) as other, other.transaction():
                other.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
                for chunk in compressed(other.cursor(), n):
                    spools[n - 1].write(chunk)
        except BaseException as exc:  # noqa: BLE001 - handed to the worker's thread, which raises it
            errors.append(exc)
            stop.set()
        finally:
            done[n - 1].set()

    threads = [threading.Thread(target=read_range, args=(n,), name=f"split-{n}", daemon=True)
               for n in range(1, count)]
    for thread in threads:
        thread.start()
    try:
        try:
            yield from compressed(None, 0)  # None: the worker's own connection
        except Cancelled:
            if errors:  # another reader failed and stopped this one: its error is the cause
                raise errors[0] from None
            raise
        for n, spool in enumerate(spools):
            done[n].wait()
            if errors:
                raise errors[0]
            spool.seek(0)
            while chunk := spool.read(READ_BYTES):
                yield chunk
    finally:
        stop.set()  # a reader still running ends at its next chunk; the object is not written
        for thread in threads:
            thread.join()
