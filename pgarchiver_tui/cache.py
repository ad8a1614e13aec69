"""The local record of what is archived: one SQLite file per destination.

SQLite in WAL mode gives atomic writes and lets a TUI read while a headless run writes. Archive records
never expire; only cached row counts do.

A cache another process is using is waited for (a busy timeout), never taken for a broken one: only a file
SQLite cannot read as a database is set aside (the destination's sidecar facts rebuild it). A cache that cannot
be written fails loudly, as a CacheError: the destination stays the truth the next run re-reads.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from pgarchiver_tui.core.errors import CacheError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 60.0  # how long a cache another run holds is waited for before the run gives up
OPEN_ATTEMPT_SECONDS = 1.0  # SQLite's own wait per attempt to open; attempts repeat until the busy timeout
ROW_COUNT_TTL_SECONDS = 24 * 3600
LEFTOVER_DAYS = 7  # how long verify and health repeat the warning about an upload the store would not abort

_DDL = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY,
    schema TEXT NOT NULL, table_name TEXT NOT NULL, sources TEXT NOT NULL DEFAULT '',
    period_start TEXT NOT NULL, period_end TEXT NOT NULL, duration TEXT NOT NULL,
    format TEXT NOT NULL DEFAULT '', compression TEXT NOT NULL DEFAULT '',
    rows INTEGER NOT NULL DEFAULT 0, bytes_in INTEGER NOT NULL DEFAULT 0, bytes_out INTEGER NOT NULL DEFAULT 0,
    etag TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL DEFAULT '', finished_at TEXT NOT NULL DEFAULT '', seconds REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', error_at TEXT NOT NULL DEFAULT '',
    verified_at TEXT NOT NULL DEFAULT '', verify_outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS objects_by_table ON objects (schema, table_name, period_start);
CREATE TABLE IF NOT EXISTS leftovers (
    upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, noted_at TEXT NOT NULL, advice TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS row_counts (relation TEXT PRIMARY KEY, rows INTEGER NOT NULL, counted_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS purges (
    key TEXT PRIMARY KEY,
    schema TEXT NOT NULL, table_name TEXT NOT NULL, period_start TEXT NOT NULL, period_end TEXT NOT NULL,
    actions TEXT NOT NULL, rows INTEGER NOT NULL, sha256 TEXT NOT NULL, fingerprint TEXT NOT NULL,
    purged_at TEXT NOT NULL, record_key TEXT NOT NULL
);
"""


@dataclass
class Record:
    key: str
    schema: str
    table_name: str
    period_start: str
    period_end: str
    duration: str
    status: str  # archived | failed
    sources: str = ""
    format: str = ""
    compression: str = ""
    rows: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    etag: str = ""
    sha256: str = ""
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0
    error: str = ""
    error_at: str = ""
    verified_at: str = ""
    verify_outcome: str = ""


_COLUMNS = [f.name for f in fields(Record)]


@dataclass
class PurgeEntry:
    """What a purge removed on the proof of one archived object (the record beside it holds the details)."""

    key: str  # the archived object
    schema: str
    table_name: str
    period_start: str
    period_end: str
    actions: str  # e.g. "drop public.events_20240101"; "delete 300 rows of public.logs [2024-01-01, 2024-01-02)"
    rows: int
    sha256: str  # of the object the proof read
    fingerprint: str  # the rows' fingerprint both sides agreed on
    purged_at: str
    record_key: str


_PURGE_COLUMNS = [f.name for f in fields(PurgeEntry)]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cache_base(cache_dir: str | None = None) -> Path:
    """The folder of the caches (one file per destination) and of the live state of runs (`runs/`)."""
    return Path(cache_dir) if cache_dir else Path(platformdirs.user_cache_dir("pgarchiver-tui"))


def cache_path(destination_url: str, cache_dir: str | None = None) -> Path:
    return cache_base(cache_dir) / f"{hashlib.sha256(destination_url.encode()).hexdigest()[:16]}.sqlite"


def _pause(seconds: float) -> None:
    """A backoff between attempts to open a busy cache (SQLite offers nothing to wait on)."""
    time.sleep(seconds)


class _Unreadable(sqlite3.DatabaseError):
    """The file is no SQLite database SQLite can read: the one case where the cache is set aside."""


def _is_busy(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", None) or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(exc)


def _is_unreadable(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", None) or ""
    return isinstance(exc, _Unreadable) or name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


class Cache:
    def __init__(self, path: Path, destination_url: str) -> None:
        self.path = path
        self.warning: str | None = None
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the cache directory {path.parent}: {exc.strerror or exc}; choose "
                             "another with --cache-dir") from None
        try:
            self._db = self._open_waiting(destination_url)
        except sqlite3.Error as exc:
            if not _is_unreadable(exc):
                raise self._failure(exc, "open") from None
            self._set_aside(exc)
            try:
                self._db = self._open_waiting(destination_url)
            except sqlite3.Error as again:
                raise self._failure(again, "create") from None

    def _set_aside(self, exc: sqlite3.Error) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        try:
            self.path.rename(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        except OSError as error:
            raise CacheError(f"cache {self.path} is unreadable ({exc}) and cannot be moved aside: "
                             f"{error.strerror or error}; remove it or choose another --cache-dir") from None
        self.warning = (f"cache {self.path} was unreadable ({exc}); moved it to {aside.name} and started a new "
                        f"one, which this run rebuilds from what the destination holds")

    def _failure(self, exc: sqlite3.Error, doing: str) -> CacheError:
        if _is_busy(exc):
            return CacheError(f"cache {self.path} stayed locked by another process for {BUSY_TIMEOUT_SECONDS:.0f}s "
                              f"({exc}); run again once the other run is done")
        return CacheError(f"cannot {doing} the cache {self.path}: {exc}; free space or fix its "
                          "permissions, or choose another --cache-dir (the destination keeps what is archived)")

    def _open_waiting(self, destination_url: str) -> sqlite3.Connection:
        """Open, waiting while another process holds the file: some of SQLite's answers while two processes
        set up one file at once (the switch to WAL) are "busy" without its busy handler ever waiting."""
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        pause = 0.01
        while True:
            try:
                db = self._open(destination_url)
            except sqlite3.Error as exc:
                left = deadline - time.monotonic()
                if not _is_busy(exc) or left <= 0:
                    raise
                _pause(min(pause, left))
                pause = min(pause * 2, 0.5)
                continue
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")  # every later statement
            return db

    def _open(self, destination_url: str) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=OPEN_ATTEMPT_SECONDS, isolation_level=None,
                             check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise _Unreadable(check)
            db.executescript(_DDL)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('destination', ?)", (destination_url,))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            # a write now, so that a cache that cannot be written stops the run before anything is archived
            db.execute("INSERT OR REPLACE INTO meta VALUES ('opened_at', ?)", (now_iso(),))
        except sqlite3.Error:
            db.close()
            raise
        return db

    @contextmanager
    def _using(self, doing: str = "write") -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; SQLite's failures become one CacheError line."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise self._failure(exc, doing) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()  # nothing to lose: every write is committed as it is made

    def get(self, key: str) -> Record | None:
        """The record of `key`, whichever table it belongs to (compare its schema and table_name)."""
        with self._using("read") as db:
            row = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM objects WHERE key = ?", (key,)).fetchone()
        return Record(*row) if row else None

    def record_of(self, key: str, schema: str, table: str) -> Record | None:
        """The record of `key` when it belongs to schema.table: a record is table + destination + key."""
        record = self.get(key)
        return record if record is not None and (record.schema, record.table_name) == (schema, table) else None

    def records(self, schema: str | None = None, table: str | None = None) -> list[Record]:
        query = f"SELECT {', '.join(_COLUMNS)} FROM objects"
        args: tuple = ()
        if schema is not None and table is not None:
            query += " WHERE schema = ? AND table_name = ?"
            args = (schema, table)
        with self._using("read") as db:
            return [Record(*row) for row in db.execute(query + " ORDER BY key", args)]

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records())

    def record_rows(self) -> list[tuple[Any, ...]]:
        """Every record as a plain tuple of the fields of `Record`, in their order (`Record(*row)` makes one):
        listing 100,000 records this way costs half as much as building them all."""
        with self._lock:
            return self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM objects").fetchall()

    def data_version(self) -> int:
        """A number that changes when another connection (another run, another process) has written: a
        screen that shows the cache reads it all again only when this changes."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def record_archived(self, record: Record) -> None:
        record.status, record.error, record.error_at = "archived", "", ""
        values = asdict(record)
        placeholders = ", ".join(f":{name}" for name in _COLUMNS)
        with self._using() as db:
            db.execute(f"INSERT OR REPLACE INTO objects ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                             values)

    def record_failure(self, record: Record, error: str) -> None:
        """Note a failure; an earlier successful archive of the same key stays recorded as archived."""
        record.status, record.error, record.error_at = "failed", error, now_iso()
        values = asdict(record)
        placeholders = ", ".join(f":{name}" for name in _COLUMNS)
        with self._using() as db:
            db.execute(
                f"INSERT INTO objects ({', '.join(_COLUMNS)}) VALUES ({placeholders}) "
                "ON CONFLICT (key) DO UPDATE SET error = excluded.error, error_at = excluded.error_at, "
                "status = CASE WHEN objects.status = 'archived' THEN 'archived' ELSE 'failed' END "
                # a failure of another table under the same key (a collision) is not this record's
                "WHERE objects.schema = excluded.schema AND objects.table_name = excluded.table_name",
                values)

    def record_verified(self, key: str, outcome: str) -> None:
        with self._using() as db:
            db.execute("UPDATE objects SET verified_at = ?, verify_outcome = ? WHERE key = ?",
                             (now_iso(), outcome, key))

    def note(self, name: str) -> None:
        """Stamp a named moment in the cache's meta table (a write: proves the cache is writable)."""
        with self._using() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, now_iso()))

    def forget(self, key: str) -> None:
        with self._using() as db:
            db.execute("DELETE FROM objects WHERE key = ?", (key,))

    def record_purged(self, entry: PurgeEntry) -> None:
        placeholders = ", ".join(f":{name}" for name in _PURGE_COLUMNS)
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO purges ({', '.join(_PURGE_COLUMNS)}) VALUES ({placeholders})",
                             asdict(entry))

    def purges(self, schema: str, table: str) -> list[PurgeEntry]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_PURGE_COLUMNS)} FROM purges WHERE schema = ? AND "
                                    "table_name = ? ORDER BY period_start, key", (schema, table)).fetchall()
        return [PurgeEntry(*row) for row in rows]

    def remember_leftover(self, key: str, upload_id: str, advice: str) -> None:
        """An upload the store refused to abort: its parts stay until cleaned by hand; verify and health say so."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO leftovers VALUES (?, ?, ?, ?)",
                             (upload_id, key, now_iso(), advice))

    def leftovers(self, within_days: int = LEFTOVER_DAYS) -> list[tuple[str, str, str, str]]:
        """(key, upload id, noted at, advice) of refused aborts noted within the last `within_days` days."""
        since = datetime.fromtimestamp(time.time() - within_days * 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._lock:
            return self._db.execute("SELECT key, upload_id, noted_at, advice FROM leftovers WHERE noted_at >= ? "
                                    "ORDER BY noted_at, key", (since,)).fetchall()

    def row_count(self, relation: str, max_age: float = ROW_COUNT_TTL_SECONDS) -> int | None:
        with self._using("read") as db:
            row = db.execute("SELECT rows, counted_at FROM row_counts WHERE relation = ?", (relation,)).fetchone()
        if row is None or time.time() - row[1] > max_age:
            return None
        return int(row[0])

    def row_counts(self, prefix: str = "", max_age: float = ROW_COUNT_TTL_SECONDS) -> dict[str, int]:
        """Every unexpired cached row count whose relation name starts with `prefix`, in one query."""
        with self._using("read") as db:
            rows = db.execute("SELECT relation, rows FROM row_counts WHERE substr(relation, 1, ?) = ? "
                              "AND counted_at >= ?", (len(prefix), prefix, time.time() - max_age)).fetchall()
        return {relation: int(count) for relation, count in rows}

    def remember_row_count(self, relation: str, rows: int) -> None:
        with self._using() as db:
            db.execute("INSERT OR REPLACE INTO row_counts VALUES (?, ?, ?)", (relation, rows, time.time()))


def open_cache(destination_url: str, cache_dir: str | None = None) -> Cache:
    return Cache(cache_path(destination_url, cache_dir), destination_url)
