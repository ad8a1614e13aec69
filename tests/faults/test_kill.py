"""The process killed with SIGKILL mid-run: nothing can be cleaned up then, so the rerun must do it."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import replace
from pathlib import Path

from faults.harness import (
    archive_settings,
    assert_accounted,
    direct_s3,
    local,
    run_in_process,
    s3_url,
    start_process,
    verify_destination,
    wait_until,
)
from faults.proxy import HOLD, Rule
from pgarchiver_tui.storage.local import TEMP_PREFIX


def wait_for_line(process: subprocess.Popen[str], text: str) -> list[str]:
    """Read the process's stderr until a line holds `text`; fail if it ends first."""
    lines = []
    for line in process.stderr:  # type: ignore[union-attr]
        lines.append(line)
        if text in line:
            return lines
    process.wait()
    raise AssertionError(f"the process ended (exit {process.returncode}) before logging {text!r}: {lines}")


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL


def temp_files(root: Path) -> list[Path]:
    return sorted(root.rglob(f"{TEMP_PREFIX}*"))


def test_killed_while_writing_locally_the_rerun_completes_and_clears_temp_files(big_days, tmp_path, capsys):  # type: ignore[no-untyped-def]
    root = tmp_path / "archive"
    settings = archive_settings(big_days, "big", 2, local_dir=str(root), compression="none")
    # throttled, so the first object's temp file is there to be caught half written
    process = start_process(replace(settings, max_rate=8.0))
    try:
        wait_for_line(process, "[w1] big-2024-01-01")
        wait_until(lambda: temp_files(root), "the first object's temp file")
    finally:
        kill(process)
    assert temp_files(root), "the kill left no half-written temp file: nothing was tested"
    assert list(local(root).list("")) == [], "an object reached its final name before the kill"

    rerun = run_in_process(settings, capsys)

    assert rerun.code == 0, rerun.log
    assert [o["outcome"] for o in rerun.objects()] == ["archived", "archived"]
    assert temp_files(root) == []
    verified = verify_destination(local(root), big_days)
    assert len(verified) == 2
    assert_accounted(rerun, verified)


def test_killed_mid_multipart_upload_the_rerun_aborts_it_and_completes(big_days, s3_bucket, fault_proxy, capsys):  # type: ignore[no-untyped-def]
    settings = archive_settings(big_days, "big", 2, s3_bucket=s3_bucket.name, s3_endpoint=fault_proxy.url,
                                s3_region="us-east-1", compression="none")
    held = fault_proxy.add(Rule("UploadPart", HOLD, times=1))
    store = direct_s3(s3_bucket.endpoint, s3_bucket.name)
    process = start_process(settings)
    try:
        wait_for_line(process, "[w1] big-2024-01-01")
        assert held.reached.wait(30), "the first part upload never came"
    finally:
        kill(process)
    fault_proxy.clear()  # the held part reaches the store after its uploader died, as it may in real life
    fault_proxy.wait_for(lambda: fault_proxy.count("UploadPart") == 1)
    dead = store.unfinished("")
    assert [u.key for u in dead] == ["public/big/2024/01/big-2024-01-01.jsonl"]
    assert [i.key for i in store.list("")] == []

    rerun = run_in_process(settings, capsys)

    assert rerun.code == 0, rerun.log
    assert [o["outcome"] for o in rerun.objects()] == ["archived", "archived"]
    assert fault_proxy.count("AbortMultipartUpload", dead[0].key, ok=True) == 1  # by the rerun's claim
    verified = verify_destination(store, big_days, cache_url=s3_url(fault_proxy.url, s3_bucket.name))
    assert len(verified) == 2
    assert_accounted(rerun, verified)
