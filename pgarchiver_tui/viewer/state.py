"""What the viewer shows, read from disk without writing anything: the caches and the live runs.

`Snapshot.poll()` is cheap when nothing changed: each cache file keeps one read-only SQLite connection whose
`PRAGMA data_version` moves only when another connection committed; only then are its records read again
(and never more often than a few times the time a read takes, so a huge cache under a busy run costs a
bounded share of a core). Run files are small JSON documents (see `live_state`), read every poll.

Nothing here imports Starlette: the same reader serves the HTTP layer, scripts and tests.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pgarchiver_tui.render.live_state import is_current

MASK = "********"
_SECRET_PARAM = re.compile(r"(pass|secret|token|key|signature|credential|sig)", re.I)
_SECRET_IN_TEXT = [
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),  # user:password@ in any URL
    (re.compile(r"\b(password|passwd|secret|token|sslpassword)\s*=\s*('[^']*'|\S+)", re.I), r"\1=" + MASK),
    (re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}"), MASK),  # AWS access key ids
]


def mask_url(url: str) -> str:
    """A destination URL with any password and any secret-looking query parameter masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}" if ":" in userinfo else f"{userinfo}@{host}"
    query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else redact(v)) for k, v in parse_qsl(parts.query)],
                      safe=":/@*")
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def redact(text: str) -> str:
    """Mask anything shaped like a secret in free text (error messages): the tool never stores one, and the
    viewer does not rely on that."""
    for pattern, replacement in _SECRET_IN_TEXT:
        text = pattern.sub(replacement, text)
    return text


def record_view(destination: str, row: dict[str, Any]) -> dict[str, Any]:
    """A cache row as the API shows it: every column, a ratio, a derived `state`, secrets masked."""
    record = dict(row)
    record["destination"] = destination
    record["table"] = f"{row.get('schema', '')}.{row.get('table_name', '')}"
    bytes_in, bytes_out = int(row.get("bytes_in") or 0), int(row.get("bytes_out") or 0)
    record["ratio"] = round(bytes_in / bytes_out, 2) if bytes_out else None
    record["error"] = redact(str(row.get("error") or ""))
    record["verify_outcome"] = redact(str(row.get("verify_outcome") or ""))
    record["state"] = record_state(record)
    return record


def record_state(record: dict[str, Any]) -> str:
    """One word for the list: failed, problem (archived, but verify found one), verified, archived."""
    if record.get("status") != "archived":
        return "failed"
    outcome = record.get("verify_outcome") or ""
    if not outcome:
        return "archived"
    return "verified" if outcome == "ok" else "problem"


class CacheFile:
    """One destination's SQLite cache, opened read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.id = path.stem
        self.destination = ""
        self.records: dict[str, dict[str, Any]] = {}
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None
        self._next_read = 0.0

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5,
                                       check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
        return self._db

    def poll(self, now: float) -> tuple[list[dict[str, Any]], list[str]] | None:
        """(changed records, removed keys) when the file changed since the last poll, else None."""
        if now < self._next_read:
            return None
        db = self._connect()
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return None
        started = time.monotonic()
        db.execute("BEGIN")  # one read transaction: the records and the meta agree
        try:
            row = db.execute("SELECT value FROM meta WHERE name = 'destination'").fetchone()
            rows = db.execute("SELECT * FROM objects").fetchall()
        finally:
            db.execute("ROLLBACK")  # ends the snapshot at once, so writers can checkpoint the WAL
        self._version = version
        self.destination = mask_url(row[0]) if row else ""
        fresh = {r["key"]: record_view(self.id, dict(r)) for r in rows}
        changed = [rec for key, rec in fresh.items() if self.records.get(key) != rec]
        removed = [key for key in self.records if key not in fresh]
        self.records = fresh
        self._next_read = now + 4 * (time.monotonic() - started)
        return changed, removed

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass
class Changes:
    """What one poll found: per destination id, records changed and keys removed; the runs if they changed."""

    records: dict[str, tuple[list[dict[str, Any]], list[str]]] = field(default_factory=dict)
    runs: list[dict[str, Any]] | None = None

    def __bool__(self) -> bool:
        return bool(self.records) or self.runs is not None


def run_view(state: dict[str, Any]) -> dict[str, Any]:
    """A run file as the API shows it (the destination masked, workers in order)."""
    run = {k: v for k, v in state.items() if k not in ("active", "heartbeat", "host")}
    run["destination"] = mask_url(str(state.get("destination", "")))
    run["id"] = f"{state.get('pid')}-{state.get('command')}-{state.get('started_at')}"
    run["workers_active"] = sorted(state.get("active", {}).values(), key=lambda w: w.get("worker", 0))
    run["recent"] = [dict(r, reason=redact(str(r.get("reason", "")))) for r in state.get("recent", [])]
    run["notices"] = [redact(str(n)) for n in state.get("notices", [])]
    live_rows = sum(int(w.get("rows", 0)) for w in run["workers_active"])
    run["rows_now"] = int(state.get("rows_done", 0)) + live_rows
    return run


class Snapshot:
    """Every cache in a cache dir and every live run, kept in memory, refreshed by `poll()`."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.caches: dict[str, CacheFile] = {}
        self.runs: list[dict[str, Any]] = []
        self.version = 0  # moves whenever anything shown changed
        self._lock = threading.Lock()

    def poll(self) -> Changes:
        changes = Changes()
        now = time.monotonic()
        with self._lock:
            present = {p.stem: p for p in sorted(self.cache_dir.glob("*.sqlite"))}
            for gone in set(self.caches) - set(present):
                cache = self.caches.pop(gone)
                changes.records[gone] = ([], list(cache.records))
                cache.close()
            for cache_id, path in present.items():
                cache = self.caches.setdefault(cache_id, CacheFile(path))
                try:
                    found = cache.poll(now)
                except sqlite3.Error:
                    continue  # being created, or moved aside as corrupt: the next poll sees what became of it
                if found and (found[0] or found[1]):
                    changes.records[cache_id] = found
            runs = self._read_runs()
            if runs != self.runs:
                self.runs = runs
                changes.runs = runs
            if changes:
                self.version += 1
        return changes

    def _read_runs(self) -> list[dict[str, Any]]:
        runs = []
        for path in sorted((self.cache_dir / "runs").glob("*.json")):
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # removed between listing and reading: the run ended
            if isinstance(state, dict) and is_current(state):
                runs.append(run_view(state))
        return sorted(runs, key=lambda r: (r.get("started_at", ""), r["id"]))

    # -- queries -----------------------------------------------------------------------------------------
    def destinations(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"id": c.id, "destination": c.destination, "records": len(c.records)}
                    for c in self.caches.values()]

    def all_records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for c in self.caches.values() for r in c.records.values()]

    def record(self, destination: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            cache = self.caches.get(destination)
            return cache.records.get(key) if cache else None

    def close(self) -> None:
        with self._lock:
            for cache in self.caches.values():
                cache.close()
