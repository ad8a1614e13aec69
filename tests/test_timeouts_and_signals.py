"""Nothing hangs, and SIGINT/SIGTERM always end a run: against a blackhole on loopback (a socket that accepts
and never answers), a store that stops answering mid-run, and a lock that is never granted.

Every timeout is honoured by configuring a short one here; no test measures how long anything took.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from faults.harness import archive_settings, direct_s3, finish_process, run_in_process, start_process
from faults.proxy import HOLD, Rule

from pgarchiver_tui.cli import main
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.storage.s3 import S3Settings, make_client
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
SECRET = "pw-Zq8xK2vNr7"


class Blackhole:
    """A listening socket on loopback that accepts every connection and never says a word."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            self._held.append(connection)
            self.accepted.set()

    def close(self) -> None:
        self.listener.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    try:
        yield hole
    finally:
        hole.close()


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- timeouts: each expiry is one line and the documented exit code --------------------------------------------------

def test_libpq_gets_a_connect_timeout_unless_one_is_given() -> None:
    assert "connect_timeout=10" in Settings().conninfo()
    assert "connect_timeout=3" in Settings(dsn="host=h connect_timeout=3").conninfo()
    assert "connect_timeout=7" in Settings(dsn="host=h connect_timeout=3", db_connect_timeout=7).conninfo()


def test_the_s3_client_has_connect_and_read_timeouts() -> None:
    config = make_client(S3Settings("bucket", region="us-east-1")).meta.config
    assert (config.connect_timeout, config.read_timeout) == (10.0, 20.0)
    config = make_client(S3Settings("bucket", region="us-east-1", connect_timeout=1, read_timeout=2)).meta.config
    assert (config.connect_timeout, config.read_timeout) == (1, 2)


def test_a_database_that_accepts_and_never_answers_is_given_up_with_exit_3(
        blackhole: Blackhole, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = main(["--no-ui", "--dsn", f"postgresql://archiver@127.0.0.1:{blackhole.port}/app", "--table", "events",
                 "--start-date", "2024-01-01", "--end-date", "2024-01-02", "--local-dir", str(tmp_path / "archive"),
                 "--db-connect-timeout", "2"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 3, line
    assert "did not answer within its connect timeout" in line and "--db-connect-timeout" in line
    assert blackhole.accepted.is_set()  # it did connect: the server accepted and stayed silent
    assert not (tmp_path / "archive").exists()


@pytest.mark.parametrize("command", ["archive", "verify"])
def test_an_object_store_that_never_answers_is_given_up_with_exit_3(
        command: str, seeded_events: str, blackhole: Blackhole, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = main([command, "--no-ui", "--dsn", seeded_events, "--table", "events", "--start-date", "2024-01-01",
                 "--end-date", "2024-01-02", "--s3-bucket", "archive", "--s3-endpoint", blackhole.url,
                 "--s3-region", "us-east-1", "--s3-access-key", "k", "--s3-secret-key", "s",
                 "--s3-connect-timeout", "0.5", "--s3-read-timeout", "0.5", "--cache-dir", str(tmp_path / "cache")])
    line = one_error_line(capsys.readouterr().err)
    assert code == 3, line
    assert f"the S3 endpoint {blackhole.url} did not answer in time (0.5 s to connect, 0.5 s to answer" in line
    assert not (tmp_path / "cache").exists()


def test_a_store_that_stops_answering_mid_run_times_out_each_request_and_retries_the_object(
        seeded_events: str, s3_bucket, fault_proxy, quick_boto_retries, capsys) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    held = fault_proxy.add(Rule("PutObject", HOLD, times=None))
    settings = archive_settings(seeded_events, "events", 1, s3_bucket=s3_bucket.name, s3_endpoint=fault_proxy.url,
                                s3_region="us-east-1", s3_read_timeout=0.5, retries=2, retry_budget=60.0)
    run = run_in_process(settings, capsys)

    assert held.reached.is_set()
    assert run.code == 1, run.log
    [failed] = run.objects("failed")
    assert failed["category"] == "storage" and failed["retryable"] and failed["attempts"] == 2, failed
    assert "did not answer in time" in failed["reason"] and "\n" not in failed["reason"]
    assert "retrying in" in run.log  # the expiry of the first attempt was said, and the object retried
    assert direct_s3(s3_bucket.endpoint, s3_bucket.name).unfinished("") == []


# -- signals: exit 130 at any moment ----------------------------------------------------------------------------

def cli_process(*args: str, ignore_sigint: bool = False) -> subprocess.Popen[str]:
    """The tool as a process; with `ignore_sigint` it starts as a background job of a shell would: SIGINT
    ignored, which Python then keeps ignoring unless the tool installs its own handler."""
    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen([sys.executable, "-m", "pgarchiver_tui", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=ignore if ignore_sigint else None)


def test_sigint_while_connecting_exits_130_at_once_even_when_started_ignoring_it(
        blackhole: Blackhole, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    process = cli_process("--no-ui", "--dsn", f"postgresql://archiver@127.0.0.1:{blackhole.port}/app",
                          f"--db-password={SECRET}", "--table", "events", "--start-date", "2024-01-01",
                          "--end-date", "2024-01-02", "--local-dir", str(archive), "--db-connect-timeout", "600",
                          ignore_sigint=True)
    try:
        assert blackhole.accepted.wait(30), "the tool never connected"
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert SECRET.encode() not in cmdline and b"--db-password=********" in cmdline, cmdline
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    line = one_error_line(err)
    assert process.returncode == 130, err
    assert "interrupted (SIGINT) before any object was handled" in line
    assert not archive.exists()  # nothing was written


def waiting_for_a_lock(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgarchiver-tui' "
                                 "AND wait_event_type = 'Lock'").fetchone()[0])  # type: ignore[index]


def tool_sessions(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return int(conn.execute("SELECT count(*) FROM pg_stat_activity "
                                "WHERE application_name = 'pgarchiver-tui'").fetchone()[0])  # type: ignore[index]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_waiting_for_a_lock_exits_130_and_cancels_the_wait(
        signum: signal.Signals, seeded_events: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    before = tree(tmp_path)
    with psycopg.connect(seeded_events) as locker:
        locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")  # held until the end of the block
        process = cli_process("--no-ui", "--dsn", seeded_events, "--table", "events", "--start-date", "2024-01-01",
                              "--end-date", "2024-01-02", "--local-dir", str(archive), ignore_sigint=True)
        try:
            wait_until(lambda: waiting_for_a_lock(seeded_events), "the tool to wait for the lock", timeout=60)
            process.send_signal(signum)
            out, err = process.communicate(timeout=60)
        finally:
            process.kill()
        # the server is not left running the cancelled query: the session went away with the process
        wait_until(lambda: tool_sessions(seeded_events) == 0, "the tool's session to end", timeout=30)
    line = one_error_line(err)
    assert process.returncode == 130, err
    assert f"interrupted ({signum.name})" in line
    assert tree(tmp_path) == before  # neither --local-dir nor the cache was created


def test_sigterm_while_an_upload_hangs_exits_130_and_leaves_nothing(
        seeded_events: str, s3_bucket, fault_proxy) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    held = fault_proxy.add(Rule("PutObject", HOLD, times=None))
    settings = replace(archive_settings(seeded_events, "events", 2, s3_bucket=s3_bucket.name,
                                        s3_endpoint=fault_proxy.url, s3_region="us-east-1"),
                       s3_read_timeout=1.0, workers=2)
    process = start_process(settings)
    try:
        assert held.reached.wait(60), "no upload started"
        process.send_signal(signal.SIGTERM)
        run = finish_process(process)
    finally:
        process.kill()
    assert run.code == 130, run.log
    assert run.report["interrupted"] is True
    assert "SIGTERM: stopping" in run.log and "interrupted:" in run.log
    store = direct_s3(s3_bucket.endpoint, s3_bucket.name)
    assert [info.key for info in store.list("")] == [] and store.unfinished("") == []


WATCHDOG = textwrap.dedent("""
    import os, sys, threading
    from pgarchiver_tui.interrupts import StopSignals
    stop = StopSignals("tool", grace=float(sys.argv[1])).install()
    with stop.cancelling(lambda: None):  # a run whose clean-up never ends
        print("ready", flush=True)
        threading.Event().wait()
""")


def test_a_stuck_clean_up_is_ended_by_the_watchdog_with_exit_130() -> None:
    process = subprocess.Popen([sys.executable, "-c", WATCHDOG, "0.2"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "tool: SIGTERM: stopping" in err and "still stopping after 0.2s; leaving now" in err


def test_a_second_signal_leaves_at_once() -> None:
    process = subprocess.Popen([sys.executable, "-c", WATCHDOG, "600"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGTERM)
        assert "SIGTERM: stopping" in process.stderr.readline()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "SIGINT again: leaving at once" in err
