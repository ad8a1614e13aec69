"""purge: each kind of source purged only on a proof, and given back whole by restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.archive_support import execute
from tests.purge_support import (
    archive,
    count,
    local_store,
    outcomes,
    purge,
    relations,
    restore,
    s3_store,
    same_rows,
    save,
    verify,
)

PREFIX = "public/events/2024/01/"
KEYS = [f"{PREFIX}events-2024-01-0{day}.jsonl.zst" for day in (1, 2, 3)]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_native_partitions_are_dropped_on_proof_and_restore_gives_them_back(
        seeded_events: str, s3_bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:  # type: ignore[no-untyped-def]
    store = local_store(tmp_path) if where == "local" else s3_store(s3_bucket, tmp_path)
    execute(seeded_events, "CREATE TABLE events_archive_p20240101 (id int)", "INSERT INTO events_archive_p20240101 "
                           "VALUES (1)")
    archive(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)
    for day in ("20240101", "20240102", "20240103"):
        save(seeded_events, f"events_{day}", f"saved_{day}")

    run = purge(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)

    assert run.code == 0, run.err
    assert outcomes(run) == [(f"public.events_2024010{d}", "purged") for d in (1, 2, 3)]
    assert [p["rows"] for p in run.report["periods"]] == [300, 300, 300]
    assert relations(seeded_events, "events%") == ["events", "events_20240104", "events_20240105",
                                                   "events_archive_p20240101", "events_default"]
    assert count(seeded_events, "events_archive_p20240101") == 1
    for key in KEYS:
        record = store.record(key)
        assert record is not None and record["status"] == "purged", record
        assert record["proof"]["live_fingerprint"] == record["proof"]["archived_fingerprint"]
    proven = verify(capsys, seeded_events, "events", store, "--deep")
    assert proven.code == 0, proven.err
    back = restore(capsys, seeded_events, "events", "2024-01-01", "2024-01-03", store)
    assert back.code == 0, back.err
    for day in ("20240101", "20240102", "20240103"):
        assert same_rows(seeded_events, f"events_{day}", f"saved_{day}")
