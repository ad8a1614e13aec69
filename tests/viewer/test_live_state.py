"""The live state a running command publishes for the viewer: folded events, atomic file, removed at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pgarchiver_tui.core.events import (
    JobProgress,
    JobResult,
    JobStarted,
    Notice,
    Outcome,
    RunFinished,
    RunReport,
    RunStarted,
    Stage,
)
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.core.periods import Duration, Period
from pgarchiver_tui.render.live_state import STALE_SECONDS, LiveState, is_current, runs_dir
from pgarchiver_tui.viewer.state import Snapshot
from tests.support.waiting import wait_until


def job(day: int) -> Job:
    start = datetime(2024, 1, day, tzinfo=UTC)
    end = datetime(2024, 1, day + 1, tzinfo=UTC)
    return Job("public", "events", Period(start, end), Duration.DAILY,
               f"public/events/2024/01/events-2024-01-{day:02d}.jsonl.zst", ())


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_an_archive_run_is_published_while_it_runs_and_removed_at_its_end(tmp_path: Path) -> None:
    live = LiveState("archive", str(tmp_path))
    live(RunStarted(jobs=3, workers=2, estimated_rows=900, destination="file:///srv/archive/", dry_run=False))
    live(JobStarted(1, job(1)))
    live(JobProgress(1, job(1), Stage.READING, rows=120, bytes_in=4000, bytes_out=900, seconds=0.5))
    live(JobStarted(2, job(2)))
    live(Notice("widened the range to whole periods"))
    live(JobResult(job(1), Outcome.ARCHIVED, worker=1, rows=300, bytes_in=9000, bytes_out=2000, seconds=1.0))

    assert live.path.parent == runs_dir(str(tmp_path))
    wait_until(lambda: live.path.exists() and read(live.path)["done"] == 1, "the flusher to write the result")
    state = read(live.path)
    assert (state["command"], state["pid"], state["jobs"], state["workers"]) == ("archive", os.getpid(), 3, 2)
    assert state["outcomes"] == {"archived": 1}
    assert (state["rows_done"], state["bytes_in_done"], state["bytes_out_done"]) == (300, 9000, 2000)
    assert list(state["active"]) == ["2"], "worker 1 finished its object; worker 2 is on the next"
    assert state["active"]["2"]["stage"] == "starting"
    assert state["tables"] == ["public.events"]
    assert state["recent"][0]["key"] == job(1).key and state["recent"][0]["outcome"] == "archived"
    assert state["notices"] == ["widened the range to whole periods"]
    assert is_current(state)
    assert not list(live.path.parent.glob(".*.tmp")), "the temporary file was renamed over the real one"

    live(RunFinished(seconds=2.0))
    assert not live.path.exists(), "the run's end removes its file"
    live(JobStarted(1, job(3)))  # after the end: nothing is written again
    assert not live.path.exists()


@dataclass
class VerifyCheckLike:  # the shape of verify's ObjectCheck
    key: str
    problems: list[str] = field(default_factory=list)
    rows: int | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not self.cancelled


@dataclass
class ReportLike:  # verify's and restore's reports end a run
    exit_code: int = 0


def test_a_purge_run_is_published_with_its_stages_and_outcomes(tmp_path: Path) -> None:
    live = LiveState("purge", str(tmp_path))
    live(RunStarted(jobs=2, workers=1, estimated_rows=600, destination="file:///srv/archive/", dry_run=False,
                    command="purge"))
    live(JobStarted(1, job(1)))
    live(JobResult(job(1), Outcome.PURGED, worker=1, rows=300, reason="dropped public.events_20240101 (300 rows)"))
    live(JobStarted(1, job(2)))
    live(JobProgress(1, job(2), Stage.REMOVING, rows=0, bytes_in=0, bytes_out=0, seconds=0.5))
    live(Notice("deleted batch 1 of public.events [2024-01-02, 2024-01-03): 50 of 300 rows", "info"))

    wait_until(lambda: live.path.exists() and read(live.path)["notices"], "the flusher to write the notice")
    state = read(live.path)
    assert (state["outcomes"], state["rows_done"]) == ({"purged": 1}, 300)
    assert state["active"]["1"]["stage"] == "removing"
    live(JobResult(job(2), Outcome.REFUSED, worker=1, reason="not proven; left untouched", category="refused"))
    live(RunReport([], command="purge"))
    assert not live.path.exists()

def test_verify_results_count_without_naming_their_worker(tmp_path: Path) -> None:
    with LiveState("verify", str(tmp_path)) as live:
        live(RunStarted(jobs=2, workers=1, estimated_rows=600, destination="file:///srv/archive/", dry_run=False))
        live(JobStarted(1, job(1)))
        live(VerifyCheckLike(job(1).key, rows=300))
        live(VerifyCheckLike(job(2).key, problems=["checksum mismatch"]))
        live.write()
        state = read(live.path)
        assert state["outcomes"] == {"ok": 1, "problem": 1}
        assert state["active"] == {}, "the object's result freed its worker"
        assert state["recent"][0]["reason"] == "checksum mismatch"
        live(ReportLike())
        assert not live.path.exists()


def test_a_context_manager_removes_the_file_even_when_the_run_raises(tmp_path: Path) -> None:
    live = LiveState("archive", str(tmp_path))
    try:
        with live:
            live(RunStarted(jobs=1, workers=1, estimated_rows=0, destination="file:///x/", dry_run=True))
            live.write()
            assert live.path.exists()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert not live.path.exists()


def test_files_of_dead_processes_and_stopped_heartbeats_are_not_current(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    live = LiveState("archive", str(tmp_path))
    live(RunStarted(jobs=1, workers=1, estimated_rows=0, destination="file:///x/", dry_run=False))
    live.write()
    state = read(live.path)
    assert is_current(state)
    assert not is_current({**state, "pid": int(gone.stdout)}), "its process is gone"
    assert not is_current(state, now=state["heartbeat"] + STALE_SECONDS + 1), "no heartbeat for a minute"

    (live.path.parent / "1-archive-dead.json").write_text(json.dumps({**state, "pid": int(gone.stdout)}))
    (live.path.parent / "2-archive-torn.json").write_text('{"half a docu')
    snapshot = Snapshot(tmp_path)
    snapshot.poll()
    assert [run["pid"] for run in snapshot.runs] == [os.getpid()], "only the live run is shown"
    live.close()
    assert snapshot.poll().runs == [], "the end of the run reaches the viewer"


def test_headless_verify_and_restore_publish_their_runs(archive: Any, monkeypatch: Any) -> None:
    """The commands' own wiring: every state written is kept here; the file is gone at the end."""
    from pgarchiver_tui.cli import main

    written: list[dict] = []
    original = LiveState.write

    def spy(self: LiveState) -> None:
        original(self)
        with self._lock:
            written.append(json.loads(json.dumps(self.state)))

    monkeypatch.setattr(LiveState, "write", spy)
    common = ["--no-ui", "--dsn", archive.dsn, "--table", "events", "--local-dir", str(archive.local_dir),
              "--cache-dir", str(archive.cache_dir)]
    assert main(["verify", *common]) == 0
    verify = [s for s in written if s["command"] == "verify"]
    assert verify and verify[-1]["jobs"] == 5, "the run was published"
    assert not list(runs_dir(str(archive.cache_dir)).glob("*.json")), "no file left behind"

    assert main(["restore", *common, "--target-table", "public.events_back", "--start-date", "2024-01-02",
                 "--end-date", "2024-01-02"]) == 0
    restore = [s for s in written if s["command"] == "restore"]
    assert restore and restore[0]["jobs"] == 1 and restore[0]["destination"].startswith("file://")
    assert not list(runs_dir(str(archive.cache_dir)).glob("*.json"))
