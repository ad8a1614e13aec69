"""The local record of what is archived: one SQLite file per destination.

SQLite in WAL mode gives atomic writes and lets a TUI read while a headless run writes. Archive records
never expire; only cached row counts do.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

SCHEMA_VERSION = 1
ROW_COUNT_TTL_SECONDS = 24 * 3600

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
CREATE TABLE IF NOT EXISTS row_counts (relation TEXT PRIMARY KEY, rows INTEGER NOT NULL, counted_at REAL NOT NULL);
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


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cache_path(destination_url: str, cache_dir: str | None = None) -> Path:
    base = Path(cache_dir) if cache_dir else Path(platformdirs.user_cache_dir("pgarchiver-tui"))
    return base / f"{hashlib.sha256(destination_url.encode()).hexdigest()[:16]}.sqlite"


class Cache:
    def __init__(self, path: Path, destination_url: str) -> None:
        self.path = path
        self.warning: str | None = None
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open(destination_url)
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            self.warning = (f"cache {path} was unreadable ({exc}); moved it to {aside.name} and started a new "
                            f"one, which this run rebuilds from what the destination holds")
            self._db = self._open(destination_url)

    def _open(self, destination_url: str) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(check)
            db.executescript(_DDL)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('destination', ?)", (destination_url,))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, key: str) -> Record | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM objects WHERE key = ?", (key,)).fetchone()
        return Record(*row) if row else None

    def records(self, schema: str | None = None, table: str | None = None) -> list[Record]:
        query = f"SELECT {', '.join(_COLUMNS)} FROM objects"
        args: tuple = ()
        if schema is not None and table is not None:
            query += " WHERE schema = ? AND table_name = ?"
            args = (schema, table)
        with self._lock:
            return [Record(*row) for row in self._db.execute(query + " ORDER BY key", args)]

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
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO objects ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                             values)

    def record_failure(self, record: Record, error: str) -> None:
        """Note a failure; an earlier successful archive of the same key stays recorded as archived."""
        record.status, record.error, record.error_at = "failed", error, now_iso()
        values = asdict(record)
        placeholders = ", ".join(f":{name}" for name in _COLUMNS)
        with self._lock:
            self._db.execute(
                f"INSERT INTO objects ({', '.join(_COLUMNS)}) VALUES ({placeholders}) "
                "ON CONFLICT (key) DO UPDATE SET error = excluded.error, error_at = excluded.error_at, "
                "status = CASE WHEN objects.status = 'archived' THEN 'archived' ELSE 'failed' END",
                values)

    def record_verified(self, key: str, outcome: str) -> None:
        with self._lock:
            self._db.execute("UPDATE objects SET verified_at = ?, verify_outcome = ? WHERE key = ?",
                             (now_iso(), outcome, key))

    def note(self, name: str) -> None:
        """Stamp a named moment in the cache's meta table (a write: proves the cache is writable)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, now_iso()))

    def forget(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM objects WHERE key = ?", (key,))

    def row_count(self, relation: str, max_age: float = ROW_COUNT_TTL_SECONDS) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT rows, counted_at FROM row_counts WHERE relation = ?",
                                   (relation,)).fetchone()
        if row is None or time.time() - row[1] > max_age:
            return None
        return int(row[0])

    def row_counts(self, prefix: str = "", max_age: float = ROW_COUNT_TTL_SECONDS) -> dict[str, int]:
        """Every unexpired cached row count whose relation name starts with `prefix`, in one query."""
        with self._lock:
            rows = self._db.execute("SELECT relation, rows FROM row_counts WHERE substr(relation, 1, ?) = ? "
                                    "AND counted_at >= ?", (len(prefix), prefix, time.time() - max_age)).fetchall()
        return {relation: int(count) for relation, count in rows}

    def remember_row_count(self, relation: str, rows: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO row_counts VALUES (?, ?, ?)", (relation, rows, time.time()))


def open_cache(destination_url: str, cache_dir: str | None = None) -> Cache:
    return Cache(cache_path(destination_url, cache_dir), destination_url)
