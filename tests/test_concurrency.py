"""Several runs at once on the same table and destination: each period is written exactly once.

Runs claim an object with a PostgreSQL advisory lock; where claims cannot see each other (two hosts reading
two replicas), S3's If-None-Match and the local link() refuse to overwrite what another run wrote.
"""

from __future__ import annotations

import psycopg
import pytest
from faults.harness import (
    archive_settings,
    assert_accounted,
    direct_s3,
    finish_process,
    local,
    run_in_process,
    s3_url,
    seed_big,
    start_process,
    verify_destination,
)
from faults.proxy import HOLD, Rule

from pgarchiver_tui.core.events import Event, JobProgress, Stage
from pgarchiver_tui.core.sidecars import sidecar_key
from tests.support.waiting import wait_until

DAYS = 5
KEYS = [f"public/events/2024/01/events-2024-01-0{n}.jsonl.zst" for n in range(1, DAYS + 1)]


def assert_each_period_archived_once(first, second) -> None:  # type: ignore[no-untyped-def]
    assert (first.code, second.code) == (0, 0), first.log + second.log
    archived = [{o["key"] for o in run.objects("archived")} for run in (first, second)]
    assert archived[0].isdisjoint(archived[1]), "a period was archived by both runs"
    assert sorted(archived[0] | archived[1]) == KEYS
    for run, theirs in ((first, archived[1]), (second, archived[0])):
        for item in run.objects("skipped"):
            assert item["key"] in theirs, f"skipped {item['key']} that the other run did not archive"
        assert {o["outcome"] for o in run.objects()} <= {"archived", "skipped"}


def test_two_processes_on_one_bucket_complete_each_object_once(seeded_events, s3_bucket, fault_proxy):  # type: ignore[no-untyped-def]  # noqa: F811
    settings = archive_settings(seeded_events, "events", DAYS, s3_bucket=s3_bucket.name, s3_endpoint=fault_proxy.url,
                                s3_region="us-east-1", workers=2)
    # every upload waits until both runs have listed the bucket and all four workers hold a claim: the runs
    # truly overlap, each seeing every period as still to do
    # (the objects' uploads only: each run's probe of If-None-Match, under .pgarchiver-probe/, goes through)
    held = fault_proxy.add(Rule("PutObject", HOLD, times=None, key_suffix=".zst"))
    first, second = start_process(settings), start_process(settings)
    try:
        fault_proxy.wait_for(lambda: fault_proxy.count("ListObjects") == 2 and held.faulted >= 4, timeout=60)
    finally:
        fault_proxy.clear()
    runs = finish_process(first), finish_process(second)

    assert_each_period_archived_once(*runs)
    conflicts = [o for run in runs for o in run.objects("skipped") if "another run" in o["reason"]]
    assert len(conflicts) >= 2, [o["reason"] for run in runs for o in run.objects()]
    for key in KEYS:
        assert fault_proxy.count("PutObject", key, ok=True) == 1, key
        assert fault_proxy.count("PutObject", sidecar_key(key), ok=True) == 1, key
    verified = verify_destination(direct_s3(s3_bucket.endpoint, s3_bucket.name), seeded_events,
                                  cache_url=s3_url(fault_proxy.url, s3_bucket.name))
    assert sorted(verified) == KEYS
    for run in runs:
        assert_accounted(run, verified)


def test_two_processes_into_one_directory_archive_each_period_once(seeded_events, tmp_path):  # type: ignore[no-untyped-def]
    root = tmp_path / "archive"
    settings = archive_settings(seeded_events, "events", DAYS, local_dir=str(root), workers=2)
    # a starting line: both runs wait on a lock of the first partition while they discover it (its size),
    # and are let go together, so each sees every period as still to do
    with psycopg.connect(seeded_events) as blocker, psycopg.connect(seeded_events, autocommit=True) as watcher:
        blocker.execute("LOCK TABLE events_20240101 IN ACCESS EXCLUSIVE MODE")
        processes = start_process(settings), start_process(settings)
        wait_until(lambda: watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgarchiver-tui' "
            "AND wait_event_type = 'Lock'").fetchone()[0] == 2, "both runs to wait at the starting line")
    runs = tuple(finish_process(p) for p in processes)

    assert_each_period_archived_once(*runs)
    conflicts = [o for run in runs for o in run.objects("skipped") if "another run" in o["reason"]]
    assert conflicts, [o["reason"] for run in runs for o in run.objects()]
    assert list(root.rglob(".pgarchiver-tmp-*")) == []
    verified = verify_destination(local(root), seeded_events)
    assert sorted(verified) == KEYS


def write_foreign_object_when_uploading(store, key: str, body: bytes):  # type: ignore[no-untyped-def]
    """A listener: as the run is about to complete `key`, someone whose claim it cannot see writes it first."""
    written: list[bool] = []

    def listen(event: Event) -> None:
        if isinstance(event, JobProgress) and event.stage is Stage.UPLOADING and not written:
            store.put_bytes(key, body)
            written.append(True)

    return listen, written


@pytest.mark.parametrize("multipart", [False, True], ids=["put", "multipart"])
def test_an_object_written_meanwhile_is_never_overwritten(multipart, pg_dsn, s3_bucket, fault_proxy, small_parts,  # noqa: F811
                                                           capsys):  # type: ignore[no-untyped-def]
    seed_big(pg_dsn, days=1, mib_per_day=11 if multipart else 1)
    key = "public/big/2024/01/big-2024-01-01.jsonl"
    store = direct_s3(s3_bucket.endpoint, s3_bucket.name)
    listen, written = write_foreign_object_when_uploading(store, key, b"another run's object\n")
    settings = archive_settings(pg_dsn, "big", 1, s3_bucket=s3_bucket.name, s3_endpoint=fault_proxy.url,
                                s3_region="us-east-1", compression="none")

    run = run_in_process(settings, capsys, listen)

    assert written and run.code == 0, run.log
    [item] = run.objects()
    assert (item["outcome"], item["reason"]) == ("skipped", f"{key} was written by another run meanwhile")
    final = "CompleteMultipartUpload" if multipart else "PutObject"
    assert fault_proxy.count(final, key, ok=False) == 1  # refused with 412 by If-None-Match
    assert b"".join(store.read(key)) == b"another run's object\n"
    assert store.unfinished("") == []
    assert store.get_bytes(sidecar_key(key)) is None
