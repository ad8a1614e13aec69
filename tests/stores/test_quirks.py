"""S3-compatible stores that differ from AWS, each difference exercised on a store that really has it: s3rver
(NotImplemented listing of uploads, whole-object MD5 as multipart ETag, If-None-Match ignored, aborts refused
with 405) and, through a proxy, a store whose multipart ETags are no digest at all. `health` makes the calls
an archive makes and reports each feature a store lacks."""

from __future__ import annotations

import hashlib

import pytest
from faults.harness import seed_big
from faults.proxy import ERROR, Rule, running_proxy

from pgarchiver_tui.storage import s3
from tests.archive_support import command
from tests.servers import Server
from tests.stores.conftest import Backend, MiB

DAY1, DAY2 = "public/big/2024/01/big-2024-01-01.jsonl", "public/big/2024/01/big-2024-01-02.jsonl"


def archive_flags(dsn: str, backend: Backend) -> list[str]:
    return ["--dsn", dsn, "--table", "big", "--start-date", "2024-01-01", "--end-date", "2024-01-02",
            *backend.flags()]


def health_lines(capsys: pytest.CaptureFixture[str], dsn: str, backend: Backend) -> tuple[int, list[str]]:
    from pgarchiver_tui.cli import main

    capsys.readouterr()
    code = main(["health", "--dsn", dsn, "--table", "big", *backend.flags()])
    return code, capsys.readouterr().out.splitlines()


def test_an_abort_the_store_refuses_is_named_with_its_clean_up_in_the_run_verify_and_health(
        s3rver: Backend, s3rver_server: Server, pg_dsn: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    monkeypatch.setattr(s3, "FIRST_PART_BYTES", 5 * MiB)
    seed_big(pg_dsn, days=2, mib_per_day=11)
    with running_proxy(s3rver.endpoint) as proxy:  # every part of day 1 after the first fails: it is aborted
        proxy.add(Rule("UploadPart", ERROR, 500, "InternalError", after=1, times=None, key_suffix=DAY1))
        via = s3rver.through(proxy.url)
        run = command(capsys, "archive", *archive_flags(pg_dsn, via), "--retries", "1", "--compression", "none")
        aborts = proxy.count("AbortMultipartUpload", ok=False)
        proof = command(capsys, "verify", *archive_flags(pg_dsn, via))
        code, lines = health_lines(capsys, pg_dsn, via)

    assert run.code == 1, run.err
    assert [(o["key"], o["outcome"]) for o in run.objects()] == [(DAY1, "failed"), (DAY2, "archived")]
    assert aborts == 1  # tried, and answered 405
    [refused] = [n for n in run.report["notices"] if "refused to abort" in n]
    upload_id = refused.split("refused to abort upload ")[1].split()[0]
    assert DAY1 in refused and f"--bucket {s3rver.container} " in refused and "abort-multipart-upload" in refused
    assert f"--upload-id {upload_id}" in refused and f"--endpoint-url {proxy.url}" in refused
    assert s3rver_server.directory is not None
    parts = s3rver_server.directory / s3rver.container / "._S3rver_uploads" / upload_id
    assert parts.is_dir(), "the upload the warning names is not where s3rver keeps unfinished uploads"
    # verify and health repeat the warning, and verify says leftovers cannot be listed on this store
    assert any(upload_id in n and "refused to abort" in n for n in proof.report["notices"]), proof.report
    assert any("cannot list unfinished multipart uploads" in n for n in proof.report["notices"])
    assert proof.code == 0, proof.out  # the one archived object is proven; the warning is no failure
    assert code == 0 and any(line.startswith("warn leftover") and upload_id in line for line in lines), lines


def test_health_reports_each_feature_the_store_lacks(backend: Backend, seeded_events: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from pgarchiver_tui.cli import main

    capsys.readouterr()
    code = main(["health", "--dsn", seeded_events, "--table", "events", *backend.flags()])
    lines = capsys.readouterr().out.splitlines()

    assert code == 0, lines
    assert [line.split()[:2] for line in lines if not line.startswith("warn")] == [
        ["ok", "database"], ["ok", "destination"], ["ok", "cache"]]
    lacking = {line.split()[1].removeprefix("store:") for line in lines if line.startswith("warn store:")}
    refused = {"abort"} if backend.name == "s3rver" else set()  # its own interrupted probe upload
    assert lacking == set(backend.quirks) | refused, lines
    destination = next(line for line in lines if line.split()[1] == "destination")
    assert "two parts" in destination and "read it back identical" in destination


def opaque(etag: str) -> str:
    """A multipart ETag as some stores give it: 32 hex digits like an MD5, yet no digest of the bytes."""
    return hashlib.sha1(etag.encode()).hexdigest()[:32] if "-" in etag else etag


def test_a_multipart_etag_that_is_no_digest_is_checked_by_reading_the_object_back(
        moto: Backend, pg_dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3, "FIRST_PART_BYTES", 5 * MiB)
    seed_big(pg_dsn, days=2, mib_per_day=11)
    with running_proxy(moto.endpoint) as proxy:
        proxy.rewrite_etag = opaque
        via = moto.through(proxy.url)
        first = command(capsys, "archive", *archive_flags(pg_dsn, via), "--compression", "none")
        read_back = proxy.count("GetObject", moto.prefix + "/" + DAY1, ok=True)
        again = command(capsys, "archive", *archive_flags(pg_dsn, via), "--compression", "none")
        proof = command(capsys, "verify", *archive_flags(pg_dsn, via))

    assert first.code == 0, first.err
    assert [o["outcome"] for o in first.objects()] == ["archived", "archived"]
    [said] = [n for n in first.report["notices"] if "ETag" in n]
    assert "reading it back" in said
    assert read_back == 1  # the integrity check after the write
    assert [o["outcome"] for o in again.objects()] == ["skipped", "skipped"], again.err
    assert proof.code == 0, proof.out
    assert proof.report["summary"]["verified"] == 2
