"""The cache deleted or corrupted between runs: the destination's sidecar facts are the truth it is rebuilt from."""

from __future__ import annotations

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
from pgarchiver_tui.cache import cache_path


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
