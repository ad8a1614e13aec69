"""What the partition picker shows: each planned object with its size, row counts and archive status.

Statuses come from the cache: new (never archived), archived, changed (archived, but the source now holds a
different number of rows than went into the object), failed (the last attempt failed; its error is kept).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pgarchiver_tui.cache import Cache, Record
from pgarchiver_tui.core.model import Job, Slice
from pgarchiver_tui.db.connection import connect
from pgarchiver_tui.db.queries import count_job_rows

NEW, ARCHIVED, CHANGED, FAILED = "new", "archived", "changed", "failed"
STATUSES = (NEW, ARCHIVED, CHANGED, FAILED)


@dataclass
class Entry:
    """One object of the plan, as the picker lists it."""

    job: Job
    status: str = NEW
    note: str = ""  # the error of a failure, or what changed
    exact_rows: int | None = None
    archived_rows: int | None = None

    @property
    def name(self) -> str:
        names = list(dict.fromkeys(part.source.name for part in self.job.slices))
        windowed = any(part.window is not None for part in self.job.slices)
        shown = names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1}"
        return f"{shown} (window)" if windowed else shown

    @property
    def rows(self) -> int:
        return self.exact_rows if self.exact_rows is not None else self.job.estimated_rows

    @property
    def size_bytes(self) -> int:
        return sum(int(part.source.size_bytes * _share(part)) for part in self.job.slices)


def _share(part: Slice) -> float:
    """The fraction of a source that a window of it covers, assuming rows spread evenly."""
    if part.window is None or part.source.bounds is None:
        return 1.0
    span = (part.source.bounds.end - part.source.bounds.start).total_seconds() or 1
    return min(1.0, (part.window.end - part.window.start).total_seconds() / span)


def count_key(job: Job) -> str:
    """Where an exact row count of a job's sources is remembered in the cache."""
    return f"object:{job.key}"


def status_of(record: Record | None, exact_rows: int | None) -> tuple[str, str]:
    if record is None:
        return NEW, ""
    if record.status == FAILED:
        return FAILED, record.error
    if exact_rows is not None and exact_rows != record.rows:
        return CHANGED, f"{record.rows:,} rows archived, {exact_rows:,} rows now"
    return ARCHIVED, record.error and f"archived; a later attempt failed: {record.error}"


def build_entries(jobs: Iterable[Job], cache: Cache | None) -> list[Entry]:
    records: dict[str, Record] = {}
    counts: dict[str, int] = {}
    entries = []
    jobs = list(jobs)
    if cache is not None and jobs:
        records = {r.key: r for r in cache.records(jobs[0].schema, jobs[0].table)}
        counts = cache.row_counts("object:")  # one query, not one per partition
    for job in jobs:
        entry = Entry(job)
        record = records.get(job.key)
        entry.exact_rows = counts.get(count_key(job))
        refresh_status(entry, record)
        entries.append(entry)
    return entries


def refresh_status(entry: Entry, record: Record | None) -> None:
    entry.status, entry.note = status_of(record, entry.exact_rows)
    entry.archived_rows = record.rows if record is not None and record.status == ARCHIVED else None


def count_rows(conninfo: str, jobs: Iterable[Job], cache: Cache | None = None,
               cancelled: threading.Event | None = None,
               counted: Callable[[Job, int], None] | None = None) -> dict[str, int]:
    """Exact row counts (`count(*)` of every slice), remembered in the cache; stops early when cancelled."""
    found: dict[str, int] = {}
    with connect(conninfo, snapshot=False) as conn:
        for job in jobs:
            if cancelled is not None and cancelled.is_set():
                break
            rows = count_job_rows(conn, job)
            found[job.key] = rows
            if cache is not None:
                cache.remember_row_count(count_key(job), rows)
            if counted is not None:
                counted(job, rows)
    return found
