"""The store failing some requests mid-multipart, and its credentials revoked mid-run, through the fault proxy."""

from __future__ import annotations

from faults.harness import (
    archive_settings,
    assert_accounted,
    direct_s3,
    run_in_process,
    s3_url,
    seed_big,
    verify_destination,
)
from faults.proxy import ERROR, ERROR_IN_200, RESET, Rule

KEY = "public/big/2024/01/big-2024-01-{:02d}.jsonl"


def s3_options(bucket, proxy, **extra):  # type: ignore[no-untyped-def]
    return dict(s3_bucket=bucket.name, s3_endpoint=proxy.url, s3_region="us-east-1", compression="none",
                **extra)


def test_transient_store_errors_mid_multipart_are_retried_and_leave_whole_objects(
        pg_dsn, s3_bucket, fault_proxy, small_parts, quick_boto_retries, capsys):  # type: ignore[no-untyped-def]
    seed_big(pg_dsn, days=3, mib_per_day=11)
    boto_tries = quick_boto_retries
    day1, day2, day3 = (KEY.format(n) for n in (1, 2, 3))
    # as many failures in a row as boto tries: only the engine's retry of the whole object helps
    fault_proxy.add(Rule("UploadPart", ERROR, 500, "InternalError", after=1, times=boto_tries, key_suffix=day1))
    fault_proxy.add(Rule("CompleteMultipartUpload", ERROR_IN_200, code="InternalError", times=boto_tries,
                         key_suffix=day2))
    # single hiccups: boto retries the one request, the object is not started again
    fault_proxy.add(Rule("UploadPart", ERROR, 503, "SlowDown", times=1, key_suffix=day3))
    reset = fault_proxy.add(Rule("UploadPart", RESET, after=2, times=1, key_suffix=day3))

    run = run_in_process(archive_settings(pg_dsn, "big", 3, **s3_options(s3_bucket, fault_proxy)), capsys)

    assert run.code == 0, run.log
    objects = run.by_key()
    assert [objects[k]["outcome"] for k in (day1, day2, day3)] == ["archived"] * 3, run.log
    assert (objects[day1]["attempts"], objects[day2]["attempts"], objects[day3]["attempts"]) == (2, 2, 1)
    assert "retrying in" in run.log and "InternalError" in run.log
    assert reset.reached.is_set()
    for key in (day1, day2, day3):
        assert fault_proxy.count("CompleteMultipartUpload", key, ok=True) == 1, key
    # the failed first attempts were aborted, not left to be billed
    assert fault_proxy.count("AbortMultipartUpload", day1, ok=True) == 1
    assert fault_proxy.count("AbortMultipartUpload", day2, ok=True) == 1
    assert fault_proxy.count("CreateMultipartUpload", day3) == 1
    assert fault_proxy.count("UploadPart", day1, ok=False) == boto_tries
    verified = verify_destination(direct_s3(s3_bucket.endpoint, s3_bucket.name), pg_dsn,
                                  cache_url=s3_url(fault_proxy.url, s3_bucket.name))
    assert sorted(verified) == [day1, day2, day3]
    assert all(v["etag"].endswith("-3") for v in verified.values())  # three parts each: multipart indeed
    assert_accounted(run, verified)


def test_revoked_credentials_fail_at_once_and_the_next_good_run_cleans_up(
        pg_dsn, s3_bucket, fault_proxy, small_parts, capsys):  # type: ignore[no-untyped-def]
    seed_big(pg_dsn, days=2, mib_per_day=11)
    day1, day2 = KEY.format(1), KEY.format(2)
    denied = fault_proxy.arm("UploadPart", 1, Rule("*", ERROR, 403, "AccessDenied", times=None))
    settings = archive_settings(pg_dsn, "big", 2, **s3_options(s3_bucket, fault_proxy))

    first = run_in_process(settings, capsys)

    assert first.code == 1, first.log
    assert denied.reached.is_set()
    for item in first.objects():
        assert (item["outcome"], item["category"], item["retryable"], item["attempts"]) == \
            ("failed", "permission", False, 1), item
        assert "access denied" in item["reason"]
    assert "retrying" not in first.log
    assert fault_proxy.count("UploadPart", day1) == 2  # the denied part was not retried either
    store = direct_s3(s3_bucket.endpoint, s3_bucket.name)
    # the abort of the open upload was denied too: it stays until a run with good credentials claims the key
    assert fault_proxy.count("AbortMultipartUpload", day1, ok=False) == 1
    assert [u.key for u in store.unfinished("")] == [day1]
    assert verify_destination(store, pg_dsn, unfinished_ok=True, cache_url=s3_url(fault_proxy.url, s3_bucket.name)) == {}

    fault_proxy.clear()
    second = run_in_process(settings, capsys)

    assert second.code == 0, second.log
    assert [o["outcome"] for o in second.objects()] == ["archived", "archived"]
    verified = verify_destination(store, pg_dsn, cache_url=s3_url(fault_proxy.url, s3_bucket.name))
    # (the dead upload was aborted by the claim)
    assert sorted(verified) == [day1, day2]
    assert_accounted(second, verified)
