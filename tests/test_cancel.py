"""Stopping: cancelling a run mid-stream leaves nothing half-written, and SIGINT exits 130 with a summary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgarchiver_tui.commands.archive.prepare import prepare
from pgarchiver_tui.core.errors import EXIT_INTERRUPTED
from pgarchiver_tui.core.events import Event, JobProgress, JobResult, Outcome, RunFinished
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.core.sidecars import sidecar_key
from pgarchiver_tui.runner import progress
from pgarchiver_tui.storage import s3 as s3_storage
from tests.archive_support import execute

REPO = Path(__file__).resolve().parent.parent
ROWS_PER_DAY = 120_000  # about 12 MB of JSON per partition: far more than one read chunk or one upload part


@pytest.fixture(scope="module")
def big_db(pg_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Three daily partitions of hard-to-compress rows, shared by the tests of this module (they only read)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = pg_server.create_database(name)
    execute(dsn, "CREATE TABLE big (id int, day date NOT NULL, h text) PARTITION BY RANGE (day)",
            *[f"CREATE TABLE big_2024010{d} PARTITION OF big FOR VALUES FROM ('2024-01-0{d}') TO ('2024-01-0{d + 1}')"
              for d in (1, 2, 3)],
            f"INSERT INTO big SELECT g, '2024-01-01'::date + (g - 1) / {ROWS_PER_DAY}, "
            f"md5(g::text) || md5((-g)::text) FROM generate_series(1, 3 * {ROWS_PER_DAY}) g")
    try:
        yield dsn
    finally:
        pg_server.drop_database(name)


def big_settings(dsn: str, **destination: object) -> Settings:
    return Settings(dsn=dsn, table="big", start_date="2024-01-01", end_date="2024-01-03", workers=2, no_ui=True,
                    **destination)  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["local", "local-parquet", "s3"])
def test_cancel_mid_stream_leaves_no_trace(big_db: str, s3_bucket, tmp_path: Path,  # type: ignore[no-untyped-def]
                                           monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL", 0.0)  # a progress event for every chunk read
    monkeypatch.setattr(s3_storage, "FIRST_PART_BYTES", 5 * s3_storage.MiB)
    root = tmp_path / "archive"
    if where.startswith("local"):
        settings = big_settings(big_db, local_dir=str(root), output_format="parquet" if where == "local-parquet" else "jsonl")
    else:  # uncompressed, so that a multipart upload is open when the run is cancelled
        settings = big_settings(big_db, s3_endpoint=s3_bucket.endpoint, s3_bucket=s3_bucket.name,
                                s3_region="us-east-1", compression="none")
    prepared = prepare(settings)
    events: list[Event] = []
    open_uploads: list[object] = []
    cancelled_at: list[float] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if cancelled_at or not isinstance(event, JobProgress):
            return
        if where != "s3" and event.rows > 0:
            cancelled_at.append(time.monotonic())
            run.cancel()
        elif where == "s3" and event.bytes_out >= 6 * s3_storage.MiB:
            open_uploads.extend(s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", []))
            cancelled_at.append(time.monotonic())
            run.cancel()

    run = prepared.run(on_event)
    finished = run.run()
    stopped_in = time.monotonic() - cancelled_at[0]
    if prepared.cache:
        prepared.cache.close()

    assert finished.cancelled and finished.exit_code == EXIT_INTERRUPTED == 130
    assert isinstance(events[-1], RunFinished)
    assert stopped_in < 5, f"took {stopped_in:.1f}s to stop"
    results = [e for e in events if isinstance(e, JobResult)]
    assert len(results) == 3 and {r.outcome for r in results} == {Outcome.CANCELLED}
    assert sum(r.reason == "not started: run cancelled" for r in results) >= 1  # 3 jobs, 2 workers
    for result in results:
        assert prepared.storage.head(result.job.key) is None
        assert prepared.storage.head(sidecar_key(result.job.key)) is None
    if where != "s3":
        assert not [p for p in root.rglob("*") if p.is_file()], "no temp file, no partial object"
    else:
        assert open_uploads, "the cancel came while a multipart upload was open"
        assert s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", []) == []
        assert s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name).get("KeyCount") == 0
    assert prepared.storage.unfinished("") == []


def test_sigint_stops_a_headless_run_with_exit_130_and_a_summary(big_db: str, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    # zstd level 19 makes each 12 MB partition take seconds: the signal lands while the first is streaming
    process = subprocess.Popen(
        [sys.executable, "-m", "pgarchiver_tui", "--no-ui", "--dsn", big_db, "--table", "big", "--start-date",
         "2024-01-01", "--end-date", "2024-01-03", "--local-dir", str(root), "--compression-level", "19"],
        cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    lines: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "←" in line:  # the first "started" line
                break
        assert lines and "←" in lines[-1], "".join(lines)
        signalled = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    stopped_in = time.monotonic() - signalled
    log = "".join(lines) + rest
    assert process.returncode == 130, log
    assert stopped_in < 10, f"took {stopped_in:.1f}s to stop"
    assert "stopping: cancelling running queries and uploads" in log
    summary = [line for line in log.splitlines() if "interrupted:" in line]
    assert len(summary) == 1 and "cancelled" in summary[0], log
    assert not [p for p in root.rglob("*") if p.name.startswith(".pgarchiver-tmp")]

