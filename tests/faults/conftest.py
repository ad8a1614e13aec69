"""Fixtures of the fault suite: the fault proxy before moto, and a table of large, barely compressible days."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from faults.harness import MiB, seed_big
from faults.proxy import FaultProxy, running_proxy
from pgarchiver_tui.storage import s3


@pytest.fixture
def fault_proxy(s3_bucket) -> Iterator[FaultProxy]:  # type: ignore[no-untyped-def]
    """A fault-injecting proxy on loopback in front of the moto server holding `s3_bucket`."""
    with running_proxy(s3_bucket.endpoint) as proxy:
        yield proxy


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> int:
    """Multipart uploads with the smallest parts S3 allows, so objects of 11 MiB have three parts."""
    monkeypatch.setattr(s3, "FIRST_PART_BYTES", 5 * MiB)
    return 5 * MiB


@pytest.fixture
def big_days(pg_dsn: str) -> str:
    """pg_dsn with `big`: 2 daily partitions of about 11 MiB of JSONL each."""
    seed_big(pg_dsn, days=2, mib_per_day=11)
    return pg_dsn


@pytest.fixture
def quick_boto_retries(monkeypatch: pytest.MonkeyPatch) -> int:
    """boto still retries each failed request, without its backoff of up to 16 s a try (a test budget).

    Returns how many requests in a row boto makes before it gives up: a fault must outlast them to reach
    the engine's own retry of the whole object.
    """
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    return 6  # make_client's max_attempts=5 counts the retries after the first request
