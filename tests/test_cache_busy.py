"""A busy cache is waited for, never moved aside; only a file SQLite cannot read is; one that cannot be
written stops the run loudly before anything is archived."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pgarchiver_tui import cache as cache_module
from pgarchiver_tui.cache import Record, cache_path, open_cache
from pgarchiver_tui.core.errors import CacheError
from tests.archive_support import archive_args, archived_files, execute, run_cli
from tests.layouts import COLUMNS, rows_through

URL = "file:///srv/archive/"


def record(key: str) -> Record:
    return Record(key, "public", "ev", "2024-01-01T00:00:00", "2024-01-02T00:00:00", "daily", "archived", rows=1)


def holding_the_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's run in the middle of a write: it holds SQLite's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO objects (key, schema, table_name, period_start, period_end, duration, status) "
                  "VALUES ('theirs', 'public', 'ev', '', '', 'daily', 'archived')")
    return other


def set_aside(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.corrupt-*"))


def test_a_cache_locked_too_long_fails_loudly_and_is_never_moved_aside(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `database is locked` was taken for corruption; the file was moved aside, the other run's records lost."""
    open_cache(URL, str(tmp_path)).record_archived(record("mine"))
    other = holding_the_write_lock(cache_path(URL, str(tmp_path)))
    monkeypatch.setattr(cache_module, "BUSY_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setattr(cache_module, "OPEN_ATTEMPT_SECONDS", 0.1)
    with pytest.raises(CacheError, match="stayed locked by another process") as caught:
        open_cache(URL, str(tmp_path))
    assert "\n" not in str(caught.value)
    other.execute("COMMIT")
    assert set_aside(tmp_path) == []
    assert {r.key for r in open_cache(URL, str(tmp_path)).records()} == {"mine", "theirs"}


def test_a_busy_cache_is_waited_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_cache(URL, str(tmp_path)).record_archived(record("mine"))
    other = holding_the_write_lock(cache_path(URL, str(tmp_path)))
    waits: list[float] = []

    def the_other_run_finishes(seconds: float) -> None:  # the opener found it busy and backs off
        waits.append(seconds)
        if other.in_transaction:
            other.execute("COMMIT")

    monkeypatch.setattr(cache_module, "OPEN_ATTEMPT_SECONDS", 0.05)
    monkeypatch.setattr(cache_module, "_pause", the_other_run_finishes)
    opened = open_cache(URL, str(tmp_path))
    assert waits, "it waited"
    assert opened.warning is None and set_aside(tmp_path) == []
    assert {r.key for r in opened.records()} == {"mine", "theirs"}


def test_runs_opening_a_new_cache_at_once_keep_every_record(tmp_path: Path) -> None:
    runs = 8
    start = threading.Barrier(runs)
    errors: list[BaseException] = []

    def one_run(n: int) -> None:
        try:
            start.wait()
            cache = open_cache(URL, str(tmp_path))
            assert cache.warning is None, cache.warning
            cache.record_archived(record(f"run-{n}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_run, args=(n,)) for n in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set_aside(tmp_path) == []
    assert {r.key for r in open_cache(URL, str(tmp_path)).records()} == {f"run-{n}" for n in range(runs)}


def test_only_a_file_sqlite_cannot_read_is_set_aside(tmp_path: Path) -> None:
    path = cache_path(URL, str(tmp_path))
    path.write_bytes(b"not a database\n" * 100)
    opened = open_cache(URL, str(tmp_path))
    assert opened.warning and "was unreadable" in opened.warning
    assert len(set_aside(tmp_path)) == 1 and opened.records() == []


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """`directory` on a read-only bind mount: nothing in it can be written, not even by root."""
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def test_a_cache_that_cannot_be_written_stops_the_run_before_anything_is_archived(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    execute(pg_dsn, f"CREATE TABLE ev ({COLUMNS}) PARTITION BY RANGE (at)",
            *[f"CREATE TABLE ev_2024010{d} PARTITION OF ev FOR VALUES FROM ('2024-01-0{d}+00') TO "
              f"('2024-01-0{d + 1}+00')" for d in (1, 2)])
    rows_through(pg_dsn, "ev", "2024-01-01 00:00", 48)
    cache_dir = tmp_path / "cache"
    first = run_cli(capsys, *archive_args(pg_dsn, "ev", "2024-01-01", "2024-01-01", local_dir=tmp_path / "a",
                                          cache_dir=cache_dir))
    assert first.code == 0, first.err
    with read_only(cache_dir):
        second = run_cli(capsys, *archive_args(pg_dsn, "ev", "2024-01-01", "2024-01-02", local_dir=tmp_path / "a",
                                               cache_dir=cache_dir))
    assert second.code == 2  # found before the run, with the other places the options name
    [line] = second.err.splitlines()
    assert "--cache-dir" in line and "read-only" in line, line
    assert sorted(archived_files(tmp_path / "a")) == ["public/ev/2024/01/ev-2024-01-01.jsonl.zst"]
    assert set_aside(cache_dir) == []
    third = run_cli(capsys, *archive_args(pg_dsn, "ev", "2024-01-01", "2024-01-02", local_dir=tmp_path / "a",
                                          cache_dir=cache_dir))
    assert third.code == 0, third.err
    assert [o["outcome"] for o in third.objects()] == ["skipped", "archived"]
