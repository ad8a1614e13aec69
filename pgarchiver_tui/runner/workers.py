"""Worker threads over a list of items, each worker with its own database connection; cancellable."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import psycopg

from pgarchiver_tui.db.connection import connect

Item = TypeVar("Item")


class ConnectedWorkers(Generic[Item]):
    """`cancel()` may be called from any thread or a signal handler: it stops the queries running now."""

    def __init__(self, conninfo: str | None, workers: int, statement_timeout_ms: int = 0,
                 lock_timeout_ms: int = 0, snapshot: bool = False) -> None:
        self.conninfo, self.workers, self.snapshot = conninfo, max(1, workers), snapshot
        self.statement_timeout_ms, self.lock_timeout_ms = statement_timeout_ms, lock_timeout_ms
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._connections: dict[int, psycopg.Connection] = {}

    def cancel(self) -> None:
        self.cancelled.set()
        with self._lock:
            connections = list(self._connections.values())
        for conn in connections:
            with contextlib.suppress(Exception):  # a connection already gone needs no cancelling
                conn.cancel_safe(timeout=2)

    def connection(self, worker: int) -> psycopg.Connection:
        """The worker's own connection (UTC; autocommit, or read-only snapshots), opened on first use and
        again after a failure."""
        with self._lock:
            conn = self._connections.get(worker)
        if conn is None or conn.closed or conn.broken:
            conn = connect(self.conninfo or "", snapshot=self.snapshot, statement_timeout_ms=self.statement_timeout_ms,
                           lock_timeout_ms=self.lock_timeout_ms)
            with self._lock:
                self._connections[worker] = conn
        return conn

    def drop_connection(self, worker: int) -> None:
        with self._lock:
            conn = self._connections.pop(worker, None)
        if conn is not None:
            conn.close()

    def each(self, items: list[Item], handle: Callable[[int, Item], None], name: str,
             on_error: Callable[[int, Item, Exception], None]) -> list[Item]:
        """`handle(worker, item)` for every item on the worker threads; the items a cancel left unstarted.

        An exception out of `handle` goes to `on_error(worker, item, exc)` and the worker goes on with the next
        item: a worker never dies silently with items still queued.
        """
        todo: queue.SimpleQueue[Item] = queue.SimpleQueue()
        for item in items:
            todo.put(item)

        def work(worker: int) -> None:
            try:
                while not self.cancelled.is_set():
                    try:
                        item = todo.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        handle(worker, item)
                    except Exception as exc:  # noqa: BLE001 - reported as the item's failure, never lost
                        on_error(worker, item, exc)
            finally:
                self.drop_connection(worker)

        threads = [threading.Thread(target=work, args=(n,), name=f"{name}-worker-{n}", daemon=True)
                   for n in range(1, self.workers + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        left = []
        while not todo.empty():
            left.append(todo.get())
        return left
