"""The database backend terminated (`pg_terminate_backend`) while the engine reads from it."""

from __future__ import annotations

import threading

import psycopg

from faults.harness import (
    archive_settings,
    assert_accounted,
    local,
    run_in_process,
    seed_big,
    verify_destination,
)
from pgarchiver_tui.core.events import Event, JobProgress, Stage
from pgarchiver_tui.db.connection import APPLICATION_NAME


def terminate_engine_backends(dsn: str, copying: bool) -> int:
    """Terminate this database's pgarchiver-tui backends (only those running a COPY right now, if `copying`:
    one whose COPY is over is idle in its transaction, and cutting it tests only the commit)."""
    with psycopg.connect(dsn, autocommit=True, application_name="fault-test") as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s AND pid <> pg_backend_pid() "
            "AND (NOT %s OR (query ILIKE 'COPY%%' AND state = 'active'))",
            (APPLICATION_NAME, copying)).fetchone()[0]


class TerminateOnce:
    """An event listener that terminates the engine's backend the first time `when(event)` holds."""

    def __init__(self, dsn: str, when, copying: bool) -> None:  # type: ignore[no-untyped-def]
        self.dsn, self.when, self.copying = dsn, when, copying
        self.terminated: int | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self.terminated is None and isinstance(event, JobProgress) and self.when(event):
                # called on the worker's thread: the engine waits until its backend is gone
                self.terminated = terminate_engine_backends(self.dsn, self.copying)


def test_backend_terminated_mid_copy_is_retried_and_archived_whole(pg_dsn, tmp_path, capsys):  # type: ignore[no-untyped-def]
    seed_big(pg_dsn, days=2, mib_per_day=16)
    # read at 5 MB/s, so the COPY of 17 MB is still streaming when it is cut: the server can be ahead of the reader
    # only by the socket buffers (a few MB), which a loaded machine's scheduling must not be able to outrun
    settings = archive_settings(pg_dsn, "big", 2, local_dir=str(tmp_path / "archive"), max_rate=5.0)
    killer = TerminateOnce(pg_dsn, lambda e: e.stage is Stage.READING and e.rows > 0, copying=True)

    run = run_in_process(settings, capsys, killer)

    assert killer.terminated == 1, "no backend was running COPY when the first rows arrived"
    assert run.code == 0, run.log
    first, second = run.objects()
    assert (first["outcome"], first["attempts"]) == ("archived", 2), first
    assert (second["outcome"], second["attempts"]) == ("archived", 1), second
    # psycopg words the cut connection differently depending on where the read was; the category is the same
    retried = [line for line in run.log.splitlines() if "[database]; retrying in" in line]
    assert len(retried) == 1 and ("terminating connection" in retried[0] or "server closed" in retried[0]), run.log
    verified = verify_destination(local(tmp_path / "archive"), pg_dsn)
    assert len(verified) == 2
    assert_accounted(run, verified)


def test_backend_terminated_after_the_object_is_stored_keeps_it_archived(pg_dsn, tmp_path, capsys):  # type: ignore[no-untyped-def]
    seed_big(pg_dsn, days=1, mib_per_day=1)
    settings = archive_settings(pg_dsn, "big", 1, local_dir=str(tmp_path / "archive"))
    # the object is written and checked; only the read-only transaction's commit is still to come
    killer = TerminateOnce(pg_dsn, lambda e: e.stage is Stage.RECORDING, copying=False)

    run = run_in_process(settings, capsys, killer)

    assert killer.terminated == 1
    assert run.code == 0, run.log
    [item] = run.objects()
    assert (item["outcome"], item["attempts"]) == ("archived", 1), item
    assert_accounted(run, verify_destination(local(tmp_path / "archive"), pg_dsn))
