"""Every backend behind one fixture: the same tests run against moto, s3rver, Azurite, gcp-storage-emulator and a
local directory, each a real server on loopback (started once per session, stopped at the end)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.storage import Storage
from pgarchiver_tui.storage.destination import open_destination
from tests.servers import (
    S3RVER_KEY,
    Server,
    azurite_connection_string,
    start_azurite,
    start_gcs_emulator,
    start_s3rver,
)

MiB = 1 << 20
BACKENDS = ("local", "moto", "s3rver", "azurite", "gcs")


@dataclass(frozen=True)
class Backend:
    """A destination on one kind of store, and how to reach it (directly or through a proxy)."""

    name: str
    scheme: str  # file | s3 | az | gs
    container: str  # bucket, container, or directory
    prefix: str = "arch/ive"
    endpoint: str = ""  # the server's HTTP endpoint ("" for a directory)
    quirks: frozenset[str] = frozenset()  # the findings this store really gives
    options: dict[str, Any] = field(default_factory=dict)  # other Settings fields (--s3-endpoint…)

    @property
    def dest(self) -> str:
        if self.scheme == "file":
            return Path(self.container).as_uri()
        return f"{self.scheme}://{self.container}/{self.prefix}"

    def settings(self, **extra: Any) -> Settings:
        """Settings with `extra` fields, naming this destination (whatever `extra` says of destinations)."""
        return Settings(**{**extra, **self.options, "dest": self.dest})

    def flags(self) -> list[str]:
        args = ["--dest", self.dest]
        for name, value in self.options.items():
            args += ["--" + name.replace("_", "-"), str(value)]
        return args

    def storage(self, bare: bool = False) -> Storage:
        """The destination opened as the tool opens it; `bare`: the whole bucket, without the prefix."""
        where = self if not bare else replace(self, prefix="")
        return open_destination(where.settings())

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """What the environment must say to reach the store at `endpoint` (default: directly)."""
        endpoint = endpoint or self.endpoint
        if self.scheme == "az":
            return {"AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(endpoint)}
        if self.scheme == "gs":
            return {"STORAGE_EMULATOR_HOST": endpoint}
        if self.name == "s3rver":
            return {"AWS_ACCESS_KEY_ID": S3RVER_KEY, "AWS_SECRET_ACCESS_KEY": S3RVER_KEY}
        return {}

    def through(self, endpoint: str) -> Backend:
        """The same destination reached at another endpoint (a proxy in front of the server)."""
        options = {**self.options, "s3_endpoint": endpoint} if self.scheme == "s3" else self.options
        return replace(self, endpoint=endpoint, options=options)


@pytest.fixture(scope="session")
def s3rver_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_s3rver(tmp_path_factory.mktemp("s3rver"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[Server]:
    server = start_gcs_emulator()
    try:
        yield server
    finally:
        server.stop()


def _s3_bucket(endpoint: str, key: str, name: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                          aws_secret_access_key=key)
    client.create_bucket(Bucket=name)


def make_backend(name: str, request: pytest.FixtureRequest, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Backend:
    """A fresh, empty bucket (container, directory) on the named store, its credentials in the environment."""
    container = f"t-{uuid.uuid4().hex[:12]}"
    backend: Backend
    if name == "local":
        backend = Backend(name, "file", str(tmp_path / "archive"), prefix="")
    elif name == "moto":
        endpoint = request.getfixturevalue("s3_server")
        _s3_bucket(endpoint, "testing", container)
        backend = Backend(name, "s3", container, endpoint=endpoint,
                          options={"s3_endpoint": endpoint, "s3_region": "us-east-1"})
    elif name == "s3rver":
        endpoint = request.getfixturevalue("s3rver_server").endpoint
        _s3_bucket(endpoint, S3RVER_KEY, container)
        backend = Backend(name, "s3", container, endpoint=endpoint,
                          quirks=frozenset({"list-unfinished", "multipart-etag", "no-clobber"}),
                          options={"s3_endpoint": endpoint, "s3_region": "us-east-1"})
    elif name == "azurite":
        from azure.storage.blob import BlobServiceClient

        endpoint = request.getfixturevalue("azurite_server").endpoint
        BlobServiceClient.from_connection_string(azurite_connection_string(endpoint)).create_container(container)
        backend = Backend(name, "az", container, endpoint=endpoint)
    else:
        from google.cloud import storage as gcs

        endpoint = request.getfixturevalue("gcs_server").endpoint
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
        gcs.Client().create_bucket(container)
        backend = Backend(name, "gs", container, endpoint=endpoint,
                          quirks=frozenset({"list-unfinished", "no-clobber"}))
    for variable, value in backend.env().items():
        monkeypatch.setenv(variable, value)
    return backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    return make_backend(request.param, request, tmp_path, monkeypatch)


@pytest.fixture
def moto(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """moto alone, for what only S3 shows."""
    return make_backend("moto", request, tmp_path, monkeypatch)


@pytest.fixture
def s3rver(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """s3rver alone: S3 as others implement it (whole-object MD5 ETags, no conditional writes)."""
    return make_backend("s3rver", request, tmp_path, monkeypatch)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The smallest parts each store takes, so that objects of a few MiB are several parts, blocks or chunks."""
    from pgarchiver_tui.storage import azure, gcs, s3

    monkeypatch.setattr(s3, "FIRST_PART_BYTES", 5 * MiB)
    monkeypatch.setattr(azure, "FIRST_BLOCK_BYTES", 1 * MiB)
    monkeypatch.setattr(gcs, "FIRST_CHUNK_BYTES", 1 * MiB)
