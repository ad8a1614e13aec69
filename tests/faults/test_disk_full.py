"""The local destination's disk fills up mid-run: a real 2 MiB tmpfs, mounted for the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.harness import (
    archive_settings,
    assert_accounted,
    local,
    run_in_process,
    seed_big,
    small_tmpfs,
    verify_destination,
)
from pgarchiver_tui.storage.local import TEMP_PREFIX


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs."""
    with small_tmpfs(tmp_path / "small-disk", "2m") as mountpoint:
        yield mountpoint


def test_disk_full_fails_the_objects_that_do_not_fit_and_leaves_no_partial_files(pg_dsn, small_disk, capsys):  # type: ignore[no-untyped-def]
    seed_big(pg_dsn, days=3, mib_per_day=0.8)  # two objects fit in 2 MiB, the third does not
    settings = archive_settings(pg_dsn, "big", 3, local_dir=str(small_disk), compression="none")

    run = run_in_process(settings, capsys)

    assert run.code == 1, run.log
    outcomes = [(o["outcome"], o["category"]) for o in run.objects()]
    assert outcomes == [("archived", ""), ("archived", ""), ("failed", "storage")], run.log
    failed = run.objects("failed")[0]
    assert "No space left on device" in failed["reason"] and failed["attempts"] == 1
    assert "failed public/big/2024/01/big-2024-01-03.jsonl [storage]" in run.log
    assert list(small_disk.rglob(f"{TEMP_PREFIX}*")) == []
    verified = verify_destination(local(small_disk), pg_dsn)
    assert sorted(verified) == [o["key"] for o in run.objects("archived")]
    assert_accounted(run, verified)
