"""Helpers of the purge tests: archive, purge, verify and restore through the real command line, and look."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pgarchiver_tui.commands.purge.record import record_from_json, record_key
from pgarchiver_tui.storage import Storage
from pgarchiver_tui.storage.local import LocalStorage
from pgarchiver_tui.storage.s3 import S3Settings, S3Storage
from tests.archive_support import Run, command, execute, flags, query, run_cli


class Store:
    """A destination as the command line names it, and as the tests look into it."""

    def __init__(self, args: list[str], storage: Storage) -> None:
        self.args, self.storage = args, storage

    def record(self, key: str) -> dict[str, Any] | None:
        data = self.storage.get_bytes(record_key(key))
        if data is None:
            return None
        record_from_json(data)  # parses as a record
        return json.loads(data)


def local_store(tmp_path: Path) -> Store:
    root = tmp_path / "archive"
    root.mkdir(parents=True, exist_ok=True)
    return Store(flags(local_dir=root, cache_dir=tmp_path / "cache"), LocalStorage(root))


def s3_store(bucket, tmp_path: Path) -> Store:  # type: ignore[no-untyped-def]
    return Store(flags(s3_endpoint=bucket.endpoint, s3_bucket=bucket.name, s3_region="us-east-1",
                       cache_dir=tmp_path / "cache"),
                 S3Storage(S3Settings(bucket=bucket.name, endpoint=bucket.endpoint, region="us-east-1")))


def archive(capsys: pytest.CaptureFixture[str], dsn: str, table: str, start: str, end: str, store: Store,
            **options: Any) -> Run:
    run = run_cli(capsys, "--dsn", dsn, "--table", table, "--start-date", start, "--end-date", end,
                  *flags(**options), *store.args)
    assert run.code == 0, run.err
    return run


def purge(capsys: pytest.CaptureFixture[str], dsn: str, table: str, start: str, end: str, store: Store,
          *extra: str, yes: bool = True, **options: Any) -> Run:
    args = ["--dsn", dsn, "--table", table, "--start-date", start, "--end-date", end, *flags(**options),
            *store.args, *extra]
    return command(capsys, "purge", *(["--yes"] if yes else []), *args)


def verify(capsys: pytest.CaptureFixture[str], dsn: str, table: str, store: Store, *extra: str) -> Run:
    return command(capsys, "verify", "--dsn", dsn, "--table", table, *store.args, *extra)


def restore(capsys: pytest.CaptureFixture[str], dsn: str, table: str, start: str, end: str, store: Store,
            *extra: str) -> Run:
    return command(capsys, "restore", "--dsn", dsn, "--table", table, "--start-date", start, "--end-date", end,
                   *store.args, *extra)


def outcome(period: dict[str, Any]) -> str:
    """A period's outcome in the report; a skip on a purge record's word (which says when) is told apart as
    "already purged" from one with nothing to purge."""
    if period["outcome"] == "skipped" and period["purged_at"]:
        return "already purged"
    return str(period["outcome"])


def outcomes(run: Run) -> list[tuple[str, str]]:
    return [(p["key"], outcome(p)) for p in run.report["objects"]]


def relations(dsn: str, pattern: str) -> list[str]:
    return [name for (name,) in query(dsn, "SELECT relname FROM pg_class WHERE relname LIKE %s AND relkind IN "
                                           "('r', 'p') ORDER BY relname", (pattern,))]


def count(dsn: str, relation: str, where: str = "true") -> int:
    [(rows,)] = query(dsn, f"SELECT count(*) FROM {relation} AS c WHERE {where}")
    return int(rows)


def save(dsn: str, relation: str, saved: str, where: str = "true") -> None:
    """A copy of the rows about to be purged, to compare what restore gives back with."""
    execute(dsn, f"CREATE TABLE {saved} AS SELECT * FROM ONLY {relation} WHERE {where}")


def same_rows(dsn: str, left: str, right: str) -> bool:
    """EXCEPT ALL both ways is empty, every value compared as the server prints it."""
    [(differing,)] = query(dsn, f"SELECT count(*) FROM ((SELECT l::text FROM {left} l EXCEPT ALL SELECT r::text FROM "
                                f"{right} r) UNION ALL (SELECT r::text FROM {right} r EXCEPT ALL SELECT l::text "
                                f"FROM {left} l)) AS d")
    return differing == 0 and count(dsn, left) == count(dsn, right)
