"""`--dest URL` end to end on every backend: archive, rerun skipping without reading the database, verify,
restore exactly; and a run killed mid-upload, whose rerun leaves nothing partial at a final key."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from faults.harness import (
    archive_settings,
    assert_accounted,
    run_in_process,
    seed_big,
    start_process,
    verify_destination,
    wait_until,
)
from faults.proxy import HOLD, Rule, running_proxy

from pgarchiver_tui.core.sidecars import sidecar_key
from pgarchiver_tui.storage.local import TEMP_PREFIX
from tests.archive_support import command, query
from tests.stores.conftest import Backend, MiB
from tests.stores.test_contract import data_keys

KEYS = ["public/big/2024/01/big-2024-01-01.jsonl", "public/big/2024/01/big-2024-01-02.jsonl"]
# what each finding's notice says, to find it in a run's notices
SAID = {"list-unfinished": "unfinished", "multipart-etag": "ETag", "no-clobber": "no-clobber rests on"}


def scans(dsn: str) -> dict[str, int]:
    """Sequential scans per partition of `big`, once every pgarchiver-tui session has ended (stats flushed)."""
    wait_until(lambda: query(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                  "'pgarchiver-tui'")[0][0] == 0, "pgarchiver-tui sessions to end")
    return dict(query(dsn, "SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname ~ '^big_2024' "
                           "ORDER BY relname"))  # type: ignore[arg-type]


def noticed(notices: list[str]) -> dict[str, int]:
    return {feature: sum(text in n for n in notices) for feature, text in SAID.items()
            if any(text in n for n in notices)}


@pytest.mark.usefixtures("small_parts")
def test_archive_skip_verify_and_restore_exactly(backend: Backend, pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed_big(pg_dsn, days=2, mib_per_day=11)  # objects of 11 MiB: several parts, blocks or chunks
    what = ["--dsn", pg_dsn, "--table", "big", "--start-date", "2024-01-01", "--end-date", "2024-01-02",
            *backend.flags()]
    before = scans(pg_dsn)

    first = command(capsys, "archive", *what, "--compression", "none")

    assert first.code == 0, first.err
    assert [(o["key"], o["outcome"]) for o in first.objects()] == [(k, "archived") for k in KEYS]
    # each difference of the store said once, and only those it really has
    assert noticed(first.report["notices"]) == {feature: 1 for feature in backend.quirks}, first.report["notices"]
    after = scans(pg_dsn)
    assert all(after[name] > before[name] for name in before)
    storage = backend.storage()
    verified = verify_destination(storage, pg_dsn)
    assert sorted(verified) == KEYS
    if backend.prefix:
        assert data_keys(backend.storage(bare=True), "arch/") == sorted(
            f"arch/ive/{key}" for k in KEYS for key in (k, sidecar_key(k)))
    after = scans(pg_dsn)  # the check above counted the rows

    again = command(capsys, "archive", *what, "--compression", "none")

    assert again.code == 0, again.err
    assert [o["outcome"] for o in again.objects()] == ["skipped", "skipped"], again.err
    assert scans(pg_dsn) == after  # skipped from one listing: no partition read

    proof = command(capsys, "verify", *what)

    assert proof.code == 0, proof.out
    assert proof.report["summary"]["verified"] == 2 and proof.report["summary"]["failed"] == 0

    back = command(capsys, "restore", *what, "--target-table", "public.big_back")

    assert back.code == 0, back.out + back.err
    assert back.report["summary"]["restored"] == 2
    rows = query(pg_dsn, "SELECT count(*) FROM big")[0][0]
    assert query(pg_dsn, "SELECT count(*) FROM big_back")[0][0] == rows > 0
    assert query(pg_dsn, "(SELECT * FROM big EXCEPT ALL SELECT * FROM big_back) UNION ALL "
                         "(SELECT * FROM big_back EXCEPT ALL SELECT * FROM big)") == []


def wait_for_line(process: subprocess.Popen[str], text: str) -> None:
    for line in process.stderr:  # type: ignore[union-attr]
        if text in line:
            return
    raise AssertionError(f"the process ended (exit {process.wait()}) before logging {text!r}")


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL


def test_killed_mid_upload_the_rerun_leaves_nothing_partial(backend: Backend, pg_dsn: str,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seed_big(pg_dsn, days=2, mib_per_day=11)
    settings = archive_settings(pg_dsn, "big", 2, compression="none")
    if backend.scheme == "file":  # throttled, so that the first object's temp file is caught half written
        root = Path(backend.container)
        process = start_process(replace(backend.settings(**vars(settings)), max_rate=8.0))
        try:
            wait_for_line(process, "[w1] big-2024-01-01")
            wait_until(lambda: list(root.rglob(f"{TEMP_PREFIX}*")), "the first object's temp file")
        finally:
            kill(process)
        assert data_keys(backend.storage()) == []
        rerun = run_in_process(backend.settings(**vars(settings)), capsys)
        assert list(root.rglob(f"{TEMP_PREFIX}*")) == []
    else:
        with running_proxy(backend.endpoint) as proxy:  # holds the first part, block or chunk of the upload
            via = backend.through(proxy.url)
            for variable, value in via.env().items():
                monkeypatch.setenv(variable, value)
            held = proxy.add(Rule("*", HOLD, times=1, min_body=1 * MiB))
            process = start_process(via.settings(**vars(settings)))
            try:
                wait_for_line(process, "[w1] big-2024-01-01")
                assert held.reached.wait(30), "the first part was never sent"
            finally:
                kill(process)
            seen = len(proxy.seen)
            proxy.clear()  # the held part reaches the store after its sender died, as it may in real life
            proxy.wait_for(lambda: len(proxy.seen) > seen)
            assert data_keys(backend.storage()) == []  # nothing at a final key

            rerun = run_in_process(via.settings(**vars(settings)), capsys)
            cache_url = via.storage().url
        for variable, value in backend.env().items():  # the store seen directly again
            monkeypatch.setenv(variable, value)

    assert rerun.code == 0, rerun.log
    assert [o["outcome"] for o in rerun.objects()] == ["archived", "archived"]
    storage = backend.storage()
    verified = verify_destination(storage, pg_dsn, cache_url=cache_url if backend.scheme != "file" else None)
    assert sorted(verified) == KEYS
    assert_accounted(rerun, verified)
