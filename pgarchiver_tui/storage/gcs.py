"""Google Cloud Storage: resumable uploads, the object appearing only when the upload is finalised.

The client library checks the CRC32C the store computed against the one of the bytes sent when it finalises
the upload; the object's MD5 is then compared with the MD5 of the bytes sent. `if_generation_match=0` makes
a write create-only. An upload that never finalised is invisible, cannot be listed (the store keeps no list
of open sessions) and expires after a week.

The client library (extra `gcs`) is imported only when a gs:// destination is opened; it uses application
default credentials, and STORAGE_EMULATOR_HOST when set.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from pgarchiver_tui.core.errors import (
    ArchiverError,
    ConfigError,
    IntegrityError,
    PrivilegeError,
    StorageError,
    WriteConflict,
)
from pgarchiver_tui.storage import parts
from pgarchiver_tui.storage.base import Findings, ObjectInfo, StoredObject, Unfinished, key_prefix
from pgarchiver_tui.storage.probe import NoClobber

FIRST_CHUNK_BYTES = parts.FIRST_PART_BYTES  # a multiple of 256 KiB, as resumable uploads need; tests lower it
MIN_CHUNK_BYTES = 256 << 10
READ_BYTES = 4 << 20
TIMEOUT = (10, 120)  # connect, read
INSTALL = "gs:// needs the Google Cloud Storage client library: pip install 'pgarchiver-tui[gcs]'"


def open_gcs(bucket: str, prefix: str, check: bool) -> GcsStorage:
    try:
        from google.auth.exceptions import DefaultCredentialsError
        from google.cloud import storage as gcs
    except ImportError:
        raise ConfigError(INSTALL) from None
    try:
        client = gcs.Client()
    except DefaultCredentialsError:
        raise ConfigError("gs:// needs application default credentials: `gcloud auth application-default "
                          "login`, or GOOGLE_APPLICATION_CREDENTIALS=KEY.json, or run where a service account "
                          "is attached") from None
    storage = GcsStorage(client, bucket, prefix)
    if check:
        storage.check_bucket()
    return storage


def describe(exc: BaseException, what: str) -> ArchiverError:
    """A Google client error as one of ours, one line naming the problem."""
    import requests
    from google.api_core import exceptions as api
    from google.auth.exceptions import GoogleAuthError
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

    if isinstance(exc, DataCorruption):
        return IntegrityError(f"{what}: the store's checksum differs from the one of the bytes sent", retryable=True)
    if isinstance(exc, (api.Unauthorized, api.Forbidden, GoogleAuthError)):
        return PrivilegeError(f"{what}: access denied; check the application default credentials and the "
                              "bucket's IAM roles (storage.objects.create, get, list, delete)")
    if isinstance(exc, api.PreconditionFailed):
        return WriteConflict(f"{what}: written by another run meanwhile")
    if isinstance(exc, api.NotFound):
        return ConfigError(f"{what}: the bucket does not exist; create it or fix --dest")
    if isinstance(exc, api.GoogleAPICallError):
        status = exc.code or 0
        return StorageError(f"{what}: {status} {exc.message}".strip(), retryable=status >= 500 or status == 429)
    if isinstance(exc, InvalidResponse):
        status = getattr(exc.response, "status_code", 0)
        if status == 412:
            return WriteConflict(f"{what}: written by another run meanwhile")
        return StorageError(f"{what}: the store answered {status}", retryable=status >= 500 or status == 429)
    if isinstance(exc, requests.RequestException):
        return StorageError(f"{what}: {type(exc).__name__}", retryable=True)
    return StorageError(f"{what}: {type(exc).__name__}: {exc}")


def _client_errors() -> tuple[type[BaseException], ...]:
    import requests
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

    return GoogleAPIError, GoogleAuthError, DataCorruption, InvalidResponse, requests.RequestException


def _md5_hex(value: str | None) -> str | None:
    return base64.b64decode(value).hex() if value else None


class GcsStorage:
    etag_is_md5 = True  # the digest compared is the object's MD5 (resumable uploads are never composite)
    conditional_header = "if_generation_match=0"

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = client.bucket(bucket)
        self.prefix = key_prefix(prefix)
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        self.url = f"gs://{bucket}/{self.prefix}" + (f"?endpoint={emulator}" if emulator else "")
        self.findings = Findings()
        self.first_part_bytes: int | None = None
        self.min_part_bytes = MIN_CHUNK_BYTES
        self.no_clobber = NoClobber(self)

    def _name(self, key: str) -> str:
        return self.prefix + key

    def _chunk_size(self, number: int) -> int:
        return parts.part_size(number, self.first_part_bytes or FIRST_CHUNK_BYTES)

    def check_bucket(self) -> None:
        try:
            next(iter(self.client.list_blobs(self.bucket, max_results=1, timeout=TIMEOUT)), None)
        except _client_errors() as exc:
            error = describe(exc, f"bucket {self.bucket.name!r}")
            if isinstance(error, StorageError):
                error = ConfigError(f"{error}; check the bucket and STORAGE_EMULATOR_HOST or the network")
            raise error from None

    # -- writing -------------------------------------------------------------------------------------------
    def write(self, key: str, chunks: Iterable[bytes], cancel: threading.Event,
              if_absent: bool = False) -> StoredObject:
        from google.cloud.storage.fileio import BlobWriter

        if if_absent:
            self.no_clobber.ensure()
        blob = self.bucket.blob(self._name(key))
        condition = {"if_generation_match": 0} if if_absent else {}
        whole = hashlib.md5()
        size = 0
        writer: BlobWriter | None = None
        with parts.OnePending("gcs-chunk") as uploader:
            try:
                for data, last in parts.cut(chunks, self._chunk_size, cancel):
                    whole.update(data)
                    size += len(data)
                    if last and writer is None:  # one request, its CRC32C checked by the library
                        blob.upload_from_string(data, content_type="application/octet-stream", checksum="crc32c",
                                                timeout=TIMEOUT, **condition)
                        break
                    if writer is None:
                        writer = BlobWriter(blob, chunk_size=self._chunk_size(1), checksum="crc32c",
                                            content_type="application/octet-stream", timeout=TIMEOUT, **condition)
                    uploader.submit(writer.write, data)
                if writer is not None:
                    uploader.submit(writer.close)  # finalises: the object appears, its CRC32C is checked
                    uploader.wait()
            except BaseException as exc:
                uploader.discard()
                if writer is not None:
                    try:
                        writer.terminate()  # cancel the resumable session: its bytes go with it
                    except Exception:  # noqa: BLE001, S110 - an unfinished session expires after a week anyway
                        pass
                if isinstance(exc, _client_errors()):
                    error = describe(exc, f"uploading {key}")
                    if isinstance(error, WriteConflict):
                        raise WriteConflict(f"{key} was written by another run meanwhile") from None
                    raise error from None
                raise
        return self._confirmed(key, size, whole.hexdigest())

    def _confirmed(self, key: str, size: int, md5: str) -> StoredObject:
        info = self.head(key)
        if info is None:
            raise IntegrityError(f"{key} is missing right after its upload was finalised")
        if info.size != size or (info.etag is not None and info.etag != md5):
            raise IntegrityError(f"{key}: the store holds {info.size} bytes with MD5 {info.etag}, {size} with MD5 "
                                 f"{md5} were sent")
        return StoredObject(key, size, md5, [size])

    # -- leftovers -----------------------------------------------------------------------------------------
    def unfinished(self, prefix: str) -> builtins.list[Unfinished]:
        self.findings.learn("list-unfinished", (
            f"{self.url}: Google Cloud Storage keeps no list of unfinished resumable uploads; an interrupted one "
            "never appears at its key, holds no object and expires after a week"))
        return []

    def abort(self, item: Unfinished) -> None:
        return None  # nothing is ever listed to abort

    # -- reading and the rest ------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.bucket.blob(self._name(key)).upload_from_string(
                data, content_type="application/octet-stream", checksum="crc32c", timeout=TIMEOUT)
        except _client_errors() as exc:
            raise describe(exc, f"writing {key}") from None

    def get_bytes(self, key: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return self.bucket.blob(self._name(key)).download_as_bytes(timeout=TIMEOUT)
        except NotFound:
            return None
        except _client_errors() as exc:
            raise describe(exc, f"reading {key}") from None

    def head(self, key: str) -> ObjectInfo | None:
        try:
            blob = self.bucket.get_blob(self._name(key), timeout=TIMEOUT)
        except _client_errors() as exc:
            raise describe(exc, f"checking {key}") from None
        return None if blob is None else ObjectInfo(key, blob.size, _md5_hex(blob.md5_hash), blob.updated)

    def checksum(self, key: str) -> str:
        info = self.head(key)
        if info is None:
            raise StorageError(f"object {key} is missing")
        return info.etag or ""

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        try:
            for blob in self.client.list_blobs(self.bucket, prefix=self._name(prefix), timeout=TIMEOUT):
                yield ObjectInfo(blob.name[len(self.prefix):], blob.size, _md5_hex(blob.md5_hash), blob.updated)
        except _client_errors() as exc:
            raise describe(exc, f"listing {self.url}{prefix}") from None

    def read(self, key: str) -> Iterator[bytes]:
        from google.api_core.exceptions import NotFound
        from google.cloud.storage.fileio import BlobReader

        try:
            reader = BlobReader(self.bucket.blob(self._name(key)), chunk_size=READ_BYTES, timeout=TIMEOUT)
            with reader:
                while chunk := reader.read(READ_BYTES):
                    yield chunk
        except NotFound:
            raise StorageError(f"object {key} is missing") from None
        except _client_errors() as exc:
            raise describe(exc, f"reading {key}") from None

    def delete(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        try:
            self.bucket.blob(self._name(key)).delete(timeout=TIMEOUT)
        except NotFound:
            pass
        except _client_errors() as exc:
            raise describe(exc, f"deleting {key}") from None
