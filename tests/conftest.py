"""Shared fixtures: a throwaway PostgreSQL server, a loopback S3 (moto), isolated config/cache dirs.

Nothing here skips: if PostgreSQL or the S3 server cannot be started the fixture raises and the test errors.

Set ``PGARCHIVER_TEST_DSN`` to run against an existing server instead of a throwaway one; each test still
gets its own freshly created (and afterwards dropped) database on it, so the role needs CREATEDB.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from typing import NamedTuple

import pytest
from faults.harness import MiB, seed_big
from faults.proxy import FaultProxy, running_proxy

from pgarchiver_tui.commands.demo_data import seed_events
from pgarchiver_tui.db.throwaway import (
    ThrowawayPostgres,
    create_database,
    drop_database,
    dsn_with_dbname,
)
from pgarchiver_tui.storage import s3

# Read once at import time: the autouse isolated_dirs fixture clears PGARCHIVER_* for every test.
_EXTERNAL_DSN = os.environ.get("PGARCHIVER_TEST_DSN") or None

_CLEARED_ENV = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGDATABASE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSSLMODE",
    "PGOPTIONS",
    "PGAPPNAME",
    "PGTZ",
    "PGDATESTYLE",
    "PGCONNECT_TIMEOUT",
    "PGTARGETSESSIONATTRS",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_SESSION_TOKEN",
)


# --------------------------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------------------------


class ExternalPostgres:
    """Same surface as ThrowawayPostgres, for a server given by PGARCHIVER_TEST_DSN."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn_with_dbname(dsn, _dbname_of(dsn) or "postgres")

    def dsn_for(self, dbname: str) -> str:
        return dsn_with_dbname(self.dsn, dbname)

    def create_database(self, name: str, *, template: str = "template0") -> str:
        return create_database(self.dsn, name, template=template)

    def drop_database(self, name: str) -> None:
        drop_database(self.dsn, name)

    def stop(self) -> None:  # nothing to stop: we don't own it
        pass


def _dbname_of(dsn: str) -> str | None:
    from psycopg.conninfo import conninfo_to_dict

    return conninfo_to_dict(dsn).get("dbname")  # type: ignore[return-value]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def pytest_configure(config: pytest.Config) -> None:
    """A test run killed with SIGTERM or by a closed terminal ends like Ctrl-C: fixtures are torn down, the
    throwaway server stopped and its directory removed (SIGKILL leaves them to the next start's sweep)."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayPostgres | ExternalPostgres]:
    """A PostgreSQL server for the whole session (throwaway unless PGARCHIVER_TEST_DSN is set)."""
    if _EXTERNAL_DSN:
        yield ExternalPostgres(_EXTERNAL_DSN)
        return
    server = ThrowawayPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server: ThrowawayPostgres | ExternalPostgres) -> Iterator[str]:
    """A fresh, empty database (from template0) for one test; dropped WITH (FORCE) afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = pg_server.create_database(name, template="template0")
    try:
        yield dsn
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def seeded_events(pg_dsn: str) -> str:
    """pg_dsn with public.events seeded: 5 daily partitions from 2024-01-01, 300 rows each, + default."""
    seed_events(pg_dsn, days=5, rows_per_day=300)
    return pg_dsn


# --------------------------------------------------------------------------------------------------------------
# S3 (moto over loopback HTTP)
# --------------------------------------------------------------------------------------------------------------


class S3Bucket(NamedTuple):
    endpoint: str
    name: str
    client: object  # botocore S3 client


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 on 127.0.0.1:<free port>; yields the endpoint URL. Sets dummy AWS credentials meanwhile."""
    from moto.server import ThreadedMotoServer

    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    mp.delenv("AWS_SESSION_TOKEN", raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://127.0.0.1:{port}"
    finally:
        try:
            server.stop()
        finally:
            mp.undo()


@pytest.fixture
def s3_bucket(s3_server: str) -> Iterator[S3Bucket]:
    """A fresh, empty bucket on the moto server; emptied and deleted afterwards."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    try:
        yield S3Bucket(endpoint=s3_server, name=name, client=client)
    finally:
        _delete_bucket(client, name)


def _delete_bucket(client, name: str) -> None:  # type: ignore[no-untyped-def]
    try:
        for up in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        paginator = client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=name):
            objs = [
                {"Key": o["Key"], "VersionId": o["VersionId"]}
                for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objs:
                client.delete_objects(Bucket=name, Delete={"Objects": objs, "Quiet": True})
        client.delete_bucket(Bucket=name)
    except Exception:
        pass  # moto keeps buckets in memory only; a leftover bucket is harmless


# --------------------------------------------------------------------------------------------------------------
# Faults (the fault suite and the concurrency tests): the fault proxy before moto, large barely compressible days
# --------------------------------------------------------------------------------------------------------------


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
    return s3.REQUEST_ATTEMPTS  # what the client is configured with; the test checks the store saw as many


# --------------------------------------------------------------------------------------------------------------
# Isolation from the user's machine
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """XDG dirs under tmp_path; no PGARCHIVER_*/libpq PG*/AWS profile or endpoint settings leak in."""
    for sub in ("cache", "config", "data"):
        d = tmp_path / "xdg" / sub
        d.mkdir(parents=True)
        monkeypatch.setenv(f"XDG_{sub.upper()}_HOME", str(d))
    for key in list(os.environ):
        if key.startswith("PGARCHIVER_") or key.startswith("PG") or key in _CLEARED_ENV:
            monkeypatch.delenv(key, raising=False)
    for key in _CLEARED_ENV:
        monkeypatch.delenv(key, raising=False)
    # Never read ~/.aws: point the shared config/credentials files at paths that don't exist.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "xdg" / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "xdg" / "no-aws-credentials"))
    return tmp_path
