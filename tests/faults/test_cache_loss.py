"""The cache deleted or corrupted between runs: the destination's sidecar facts are the truth it is rebuilt from."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from faults.harness import (
    archive_settings,
    assert_accounted,
    direct_s3,
    run_in_process,
    s3_url,
    verify_destination,
)
from pgarchiver_tui import cache as cache_module
from pgarchiver_tui.cache import Record, cache_path, open_cache
from pgarchiver_tui.core.errors import CacheError


def delete(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)


def corrupt(path: Path) -> None:
    delete(path)
    path.write_bytes(b"this is not a SQLite database\n" * 200)


@pytest.mark.parametrize("damage", [delete, corrupt], ids=["deleted", "corrupted"])
def test_lost_cache_is_rebuilt_from_the_destination_without_archiving_again(
        damage, seeded_events, s3_bucket, fault_proxy, capsys):  # type: ignore[no-untyped-def]
    settings = archive_settings(seeded_events, "events", 5, s3_bucket=s3_bucket.name,
                                s3_endpoint=fault_proxy.url, s3_region="us-east-1")
    first = run_in_process(settings, capsys)
    assert first.code == 0 and len(first.objects("archived")) == 5, first.log
    url = s3_url(fault_proxy.url, s3_bucket.name)
    damage(cache_path(url))
    writes_before = fault_proxy.count("PutObject") + fault_proxy.count("CreateMultipartUpload")

    second = run_in_process(settings, capsys)

    assert second.code == 0, second.log
    assert [o["outcome"] for o in second.objects()] == ["skipped"] * 5
    assert {o["reason"] for o in second.objects()} == {
        "found in the destination with matching facts; recorded in the cache"}
    assert fault_proxy.count("PutObject") + fault_proxy.count("CreateMultipartUpload") == writes_before
    notices = second.report["notices"]
    rebuilt = "the cache had no record of 5 object(s) the destination holds; recorded them from their sidecar facts"
    assert rebuilt in notices and f"WARNING {rebuilt}" in " ".join(second.log.split())
    assert any("was unreadable" in n for n in notices) == (damage is corrupt), notices
    verified = verify_destination(direct_s3(s3_bucket.endpoint, s3_bucket.name), seeded_events, cache_url=url)
    assert len(verified) == 5
    assert_accounted(second, verified)


def test_a_busy_cache_is_waited_for_and_never_set_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run holding the cache's write lock (for real, through SQLite) is not a corrupt cache."""
    url = "file:///srv/archive"
    cache = open_cache(url, str(tmp_path))
    cache.record_archived(Record(key="k", schema="public", table_name="t", period_start="2024-01-01T00:00:00",
                                 period_end="2024-01-02T00:00:00", duration="daily", status="archived"))
    cache.close()
    other_run = sqlite3.connect(cache_path(url, str(tmp_path)), isolation_level=None, check_same_thread=False)
    other_run.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(cache_module, "BUSY_TIMEOUT_SECONDS", 0.5)  # the test's budget, not the 30 s of a run
    try:
        with pytest.raises(CacheError, match="stayed locked by another process"):
            open_cache(url, str(tmp_path))
        threading.Timer(0.3, other_run.rollback).start()  # the other run finishes while this one waits
        monkeypatch.setattr(cache_module, "BUSY_TIMEOUT_SECONDS", 30.0)
        waited = open_cache(url, str(tmp_path))
    finally:
        other_run.close()
    assert waited.warning is None and [r.key for r in waited.records()] == ["k"], "nothing moved aside or lost"
    waited.close()
    assert sorted(p.name for p in tmp_path.iterdir() if "corrupt" in p.name) == []
