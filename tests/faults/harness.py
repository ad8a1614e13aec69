"""Running archives in-process or as processes, and checking what the destination holds afterwards.

The check is the promise of issue 5: every object at a final key is complete (its bytes match the SHA-256,
size and row count of its sidecar facts and the rows in the database), no write is left unfinished, and
the cache records nothing that is not there.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pgarchiver_tui.cache import open_cache
from pgarchiver_tui.cli import run_headless
from pgarchiver_tui.core.events import Event
from pgarchiver_tui.core.model import facts_from_json
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.core.sidecars import data_key_of, sidecar_key
from pgarchiver_tui.pipeline import codecs
from pgarchiver_tui.render.report import HeadlessReporter
from pgarchiver_tui.storage import Storage
from pgarchiver_tui.storage.local import LocalStorage
from pgarchiver_tui.storage.s3 import S3Settings, S3Storage
from tests.support.waiting import wait_until  # noqa: F401 - the fault tests' waiting, re-exported

REPO = Path(__file__).resolve().parents[2]
MiB = 1 << 20
BIG_ROW_BYTES = 570  # one row of `big` as JSONL: id, created_at and 512 hex digits
FIRST_DAY = date(2024, 1, 1)


def seed_big(dsn: str, days: int, mib_per_day: float, table: str = "big") -> int:
    """A table partitioned by day whose rows are md5 text: barely compressible, so sizes are predictable.

    Returns the rows per day.
    """
    rows = math.ceil(mib_per_day * MiB / BIG_ROW_BYTES)
    parent = sql.Identifier(table)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(sql.SQL("CREATE TABLE {} (id bigint, created_at timestamptz NOT NULL, payload text) "
                             "PARTITION BY RANGE (created_at)").format(parent))
        for n in range(days):
            day = FIRST_DAY + timedelta(days=n)
            conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(f"{table}_{day:%Y%m%d}"), parent, sql.Literal(str(day)),
                sql.Literal(str(day + timedelta(days=1)))))
        conn.execute(sql.SQL(
            "INSERT INTO {} SELECT g, {}::timestamptz + (g - 1) / {} * interval '1 day' "
            "+ mod(g - 1, {}) * interval '1 second', "
            "(SELECT string_agg(md5(g || ':' || i), '') FROM generate_series(1, 16) AS i) "
            "FROM generate_series(1, {}) AS g").format(
                parent, sql.Literal(str(FIRST_DAY)), sql.Literal(rows), sql.Literal(rows),
                sql.Literal(rows * days)))
        conn.execute(sql.SQL("ANALYZE {}").format(parent))
    return rows


def last_day(days: int) -> str:
    return str(FIRST_DAY + timedelta(days=days - 1))


# -- running ----------------------------------------------------------------------------------------------
@dataclass
class Run:
    code: int
    report: dict[str, Any]
    log: str

    def objects(self, outcome: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.report.get("objects", []) if outcome is None or o["outcome"] == outcome]

    def by_key(self) -> dict[str, dict[str, Any]]:
        return {o["key"]: o for o in self.objects()}


def archive_settings(dsn: str, table: str, days: int, **options: Any) -> Settings:
    """Headless settings with a JSON report; `options` are Settings fields (local_dir, s3_bucket, …)."""
    base = Settings(dsn=dsn, table=table, start_date=str(FIRST_DAY), end_date=last_day(days), no_ui=True,
                    json=True)
    return replace(base, **options)


def run_in_process(settings: Settings, capsys, listener: Callable[[Event], None] | None = None) -> Run:
    """The real headless command (`run_headless`), with `listener` hearing every event as it happens."""
    log = io.StringIO()
    reporter = HeadlessReporter(stream=log, log_format=settings.log_format)

    def hear(event: Event) -> None:
        reporter(event)
        if listener is not None:
            listener(event)

    capsys.readouterr()
    code = run_headless(settings, hear)  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    return Run(code, json.loads(out) if out.strip() else {}, log.getvalue() + err)


def command_line(settings: Settings) -> list[str]:
    """`settings` as the command line that would produce them (only what differs from the defaults)."""
    argv = [sys.executable, "-m", "pgarchiver_tui", "archive"]
    defaults = Settings()
    for name, value in vars(settings).items():
        if value == getattr(defaults, name) or value is None:
            continue
        flag = "--" + name.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def start_process(settings: Settings) -> subprocess.Popen[str]:
    return subprocess.Popen(command_line(settings), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish_process(process: subprocess.Popen[str], timeout: float = 60) -> Run:
    out, err = process.communicate(timeout=timeout)
    return Run(process.returncode, json.loads(out) if out.strip() else {}, err)


def run_process(settings: Settings, timeout: float = 60) -> Run:
    return finish_process(start_process(settings), timeout)


@contextlib.contextmanager
def small_tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of `size` (e.g. "2m") mounted at `mountpoint`. Needs root (CI runs as root); a failing mount
    fails the test, it never skips."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)], check=True,
                   capture_output=True)
    try:
        yield mountpoint
    finally:
        # lazily: a file still open (a failed test's cache) must not hide the failure behind "target is busy"
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=True)


def fill_disk(directory: Path) -> None:
    """Fill the file system holding `directory` to the last byte, with a file of its own."""
    with open(directory / "filler", "wb", buffering=0) as filler:
        for size in (1 << 20, 4096, 1):
            try:
                while filler.write(b"\0" * size):
                    pass
            except OSError:
                continue


# -- checking ---------------------------------------------------------------------------------------------
def s3_url(endpoint: str, bucket: str) -> str:
    """The destination URL of a bucket reached at `endpoint`: it names the cache file of runs there."""
    return direct_s3(endpoint, bucket).url


def direct_s3(endpoint: str, bucket: str) -> S3Storage:
    """The bucket seen directly (never through the fault proxy): what the store really holds."""
    return S3Storage(S3Settings(bucket=bucket, endpoint=endpoint, region="us-east-1"))


def local(directory: str | Path) -> LocalStorage:
    return LocalStorage(directory)


def rows_in_period(dsn: str, table: str, start: str, end: str) -> int:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        query = sql.SQL("SELECT count(*) FROM {} WHERE created_at >= %s AND created_at < %s").format(
            sql.Identifier(table))
        return conn.execute(query, (start, end)).fetchone()[0]


def verify_object(storage: Storage, key: str, dsn: str | None = None) -> dict[str, Any]:
    """The object at `key` is whole: its bytes agree with its sidecar facts and with the database."""
    facts_data = storage.get_bytes(sidecar_key(key))
    assert facts_data is not None, f"{key} has no sidecar facts"
    facts = facts_from_json(facts_data)
    data = b"".join(storage.read(key))
    assert len(data) == facts.bytes_out, f"{key}: {len(data)} bytes stored, facts say {facts.bytes_out}"
    assert hashlib.sha256(data).hexdigest() == facts.sha256, f"{key}: SHA-256 differs from its facts"
    text = b"".join(codecs.decompress(iter([data]), codecs.get_codec(facts.compression)))
    assert len(text) == facts.bytes_in, f"{key}: {len(text)} bytes decoded, facts say {facts.bytes_in}"
    lines = text.count(b"\n")
    assert lines == facts.rows, f"{key}: {lines} rows decoded, facts say {facts.rows}"
    if dsn is not None:
        expected = rows_in_period(dsn, facts.table, facts.period_start, facts.period_end)
        assert facts.rows == expected, f"{key}: {facts.rows} rows archived, the database holds {expected}"
    return {"key": key, "rows": facts.rows, "sha256": facts.sha256, "etag": facts.etag, "bytes": facts.bytes_out}


def verify_destination(storage: Storage, dsn: str | None, cache_dir: str | Path | None = None,
                       prefix: str = "", unfinished_ok: bool = False,
                       cache_url: str | None = None) -> dict[str, dict[str, Any]]:
    """Every object at a final key verifies, nothing is unfinished, and the cache agrees with the store.

    `cache_url`: the destination URL the runs used, when they reached the store another way (the proxy).
    Returns the verified objects by key.
    """
    unfinished = storage.unfinished(prefix)
    assert unfinished_ok or unfinished == [], f"unfinished writes left behind: {unfinished}"
    keys = sorted(info.key for info in storage.list(prefix) if data_key_of(info.key) is None)
    verified = {key: verify_object(storage, key, dsn) for key in keys}
    cache = open_cache(cache_url or storage.url, str(cache_dir) if cache_dir else None)
    try:
        archived = {record.key: record for record in cache.records() if record.status == "archived"}
    finally:
        cache.close()
    for record in archived.values():
        assert record.key in verified, f"the cache records {record.key} as archived, the store lacks it"
        found = verified[record.key]
        assert (record.sha256, record.rows, record.bytes_out) == (found["sha256"], found["rows"],
                                                                  found["bytes"]), record
    unrecorded = sorted(set(verified) - set(archived))
    assert unrecorded == [], f"stored but not recorded in the cache: {unrecorded}"
    return verified


def assert_accounted(run: Run, verified: dict[str, dict[str, Any]]) -> None:
    """Each object of the report is archived (and there, whole) or skipped (and there) or failed with why."""
    for item in run.objects():
        if item["outcome"] in ("archived", "skipped"):
            assert item["key"] in verified, f"{item['key']} reported {item['outcome']} but is not stored"
        else:
            assert item["outcome"] == "failed" and item["reason"] and item["category"], item
