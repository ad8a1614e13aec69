"""Azure Blob Storage: block blobs staged block by block and committed in one step.

Staged blocks are invisible until the block list is committed, which is atomic: a reader sees the whole
object or nothing. Every block is sent with its MD5, which the service checks on receipt; after the commit
the committed block list (ids and sizes) and the blob's size are compared with what was sent, and the whole
object's MD5 is stored as its Content-MD5 for later readers. `If-None-Match: *` on the commit refuses to
overwrite. Blocks of a write that never committed show as an uncommitted blob; they are removed by deleting
it, are dropped by the next commit of that name, and expire after seven days in any case.

The client library (extra `azure`) is imported only when an az:// destination is opened.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import os
import threading
import uuid
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

FIRST_BLOCK_BYTES = parts.FIRST_PART_BYTES  # read at call time: tests lower it
MIN_BLOCK_BYTES = 1 << 20  # any size is allowed; the health probe's blocks
READ_BYTES = 4 << 20
# timeouts, and reads in bounded pieces (the library's first GET would take 32 MiB at once)
CLIENT_OPTIONS: dict[str, Any] = {"connection_timeout": 10, "read_timeout": 120, "max_single_get_size": READ_BYTES,
                  "max_chunk_get_size": READ_BYTES}
INSTALL = "az:// needs the Azure client library: pip install 'pgarchiver-tui[azure]'"


def open_azure(container: str, prefix: str, account_url: str | None, check: bool) -> AzureStorage:
    """The container, reached by --azure-account-url with the Azure credential chain, else by the connection
    string in AZURE_STORAGE_CONNECTION_STRING."""
    try:
        from azure.storage.blob import BlobServiceClient
    except ImportError:
        raise ConfigError(INSTALL) from None
    connection_string = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if account_url:
        try:
            from azure.identity import DefaultAzureCredential
        except ImportError:
            raise ConfigError(f"--azure-account-url uses the Azure credential chain; {INSTALL}") from None
        service = BlobServiceClient(account_url, credential=DefaultAzureCredential(), **CLIENT_OPTIONS)
    elif connection_string:
        try:
            service = BlobServiceClient.from_connection_string(connection_string, **CLIENT_OPTIONS)
        except ValueError:  # the message may quote the string, and with it the account key: never show it
            raise ConfigError("AZURE_STORAGE_CONNECTION_STRING is not a valid connection string; copy it from "
                              "the storage account's Access keys") from None
    else:
        raise ConfigError("az:// needs credentials: set AZURE_STORAGE_CONNECTION_STRING, or give "
                          "--azure-account-url https://ACCOUNT.blob.core.windows.net (signed in by the Azure "
                          "credential chain: az login, a managed identity, AZURE_CLIENT_ID…)")
    storage = AzureStorage(service.get_container_client(container), prefix)
    if check:
        storage.check_container()
    return storage


def _errors() -> Any:
    from azure.core import exceptions

    return exceptions


def describe(exc: Exception, what: str) -> ArchiverError:
    """An Azure SDK error as one of ours, one line naming the problem."""
    errors = _errors()
    if isinstance(exc, errors.ClientAuthenticationError):
        return PrivilegeError(f"{what}: access denied; check AZURE_STORAGE_CONNECTION_STRING or the Azure "
                              "credentials and the container's role assignments")
    if isinstance(exc, errors.HttpResponseError):
        status = exc.status_code or 0
        code = str(getattr(exc, "error_code", "") or status)
        if code == "ContainerNotFound":
            return ConfigError(f"{what}: the container does not exist; create it or fix --dest")
        if status == 403:
            return PrivilegeError(f"{what}: access denied ({code}); check the Azure credentials and permissions")
        if code in ("Md5Mismatch", "InvalidMd5", "Crc64Mismatch"):
            return IntegrityError(f"{what}: the store found the bytes received differ from those sent ({code})",
                                  retryable=True)
        return StorageError(f"{what}: {code}", retryable=status >= 500 or status in (408, 429))
    if isinstance(exc, errors.AzureError):  # no answer: a connection refused or reset, a timeout
        return StorageError(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                            retryable=True)
    return StorageError(f"{what}: {exc}")


class AzureStorage:
    etag_is_md5 = True  # the digest compared is the blob's Content-MD5; its ETag is only a version tag
    conditional_header = "If-None-Match: *"

    def __init__(self, container: Any, prefix: str = "") -> None:
        self.container = container
        self.prefix = key_prefix(prefix)
        account = container.url.rsplit("/", 1)[0]
        self.url = f"az://{container.container_name}/{self.prefix}?account={account}"
        self.findings = Findings()
        self.first_part_bytes: int | None = None
        self.min_part_bytes = MIN_BLOCK_BYTES
        self.no_clobber = NoClobber(self)

    def _name(self, key: str) -> str:
        return self.prefix + key

    def _blob(self, key: str) -> Any:
        return self.container.get_blob_client(self._name(key))

    def _block_size(self, number: int) -> int:
        return parts.part_size(number, self.first_part_bytes or FIRST_BLOCK_BYTES)

    def check_container(self) -> None:
        try:
            next(iter(self.container.list_blobs(results_per_page=1).by_page()), None)
        except Exception as exc:  # noqa: BLE001 - described below, or re-raised
            error = describe(exc, f"container {self.container.container_name!r} at {self.url}")
            if isinstance(error, StorageError):
                error = ConfigError(f"{error}; check the account and the container")
            raise error from None

    # -- writing -------------------------------------------------------------------------------------------
    def write(self, key: str, chunks: Iterable[bytes], cancel: threading.Event,
              if_absent: bool = False) -> StoredObject:
        from azure.core import MatchConditions
        from azure.storage.blob import BlobBlock, ContentSettings

        errors = _errors()
        if if_absent:
            self.no_clobber.ensure()
        blob = self._blob(key)
        condition = {"match_condition": MatchConditions.IfMissing} if if_absent else {}
        whole = hashlib.md5()
        token = uuid.uuid4().hex[:16]  # ids unique to this write: a dead run's blocks never mix in
        blocks: list[tuple[str, int]] = []
        staged = False
        with parts.OnePending("azure-block") as uploader:
            try:
                for number, (data, last) in enumerate(parts.cut(chunks, self._block_size, cancel), 1):
                    whole.update(data)
                    if last and not blocks:  # one Put Blob: the service checks the MD5 sent and stores it
                        response = blob.upload_blob(data, length=len(data), overwrite=not if_absent,
                                                    validate_content=True, **condition)
                        return self._confirmed_single(key, response, len(data), whole.hexdigest())
                    block_id = base64.b64encode(f"{token}-{number:06d}".encode()).decode()
                    blocks.append((block_id, len(data)))
                    staged = True
                    uploader.submit(blob.stage_block, block_id, data, len(data), validate_content=True)
                uploader.wait()
                blob.commit_block_list([BlobBlock(block_id) for block_id, _ in blocks],
                                       content_settings=ContentSettings(content_md5=bytearray(whole.digest())),
                                       **condition)
                return self._confirmed_blocks(key, blocks, whole.hexdigest())
            except BaseException as exc:
                uploader.discard()
                if staged:
                    self._drop_uncommitted(key)
                if isinstance(exc, errors.ResourceExistsError) or \
                        isinstance(exc, errors.HttpResponseError) and exc.status_code == 412:
                    raise WriteConflict(f"{key} was written by another run meanwhile") from None
                if isinstance(exc, errors.AzureError):
                    raise describe(exc, f"uploading {key}") from None
                raise

    def _confirmed_single(self, key: str, response: dict, size: int, md5: str) -> StoredObject:
        stored = response.get("content_md5")
        if stored is not None and bytes(stored).hex() != md5:
            raise IntegrityError(f"{key}: the store computed MD5 {bytes(stored).hex()}, {md5} was sent")
        return StoredObject(key, size, md5, [size])

    def _confirmed_blocks(self, key: str, blocks: list[tuple[str, int]], md5: str) -> StoredObject:
        """Each block's MD5 was checked on receipt; now the committed list must be exactly the blocks sent."""
        try:
            committed, _ = self._blob(key).get_block_list("committed")
        except Exception as exc:  # noqa: BLE001 - described
            raise describe(exc, f"checking {key}") from None
        found = [(block.id, block.size) for block in committed]
        if found != blocks:
            raise IntegrityError(f"{key}: the store committed {len(found)} block(s) of "
                                 f"{sum(s for _, s in found)} bytes, {len(blocks)} of "
                                 f"{sum(s for _, s in blocks)} were sent")
        size = sum(s for _, s in blocks)
        return StoredObject(key, size, md5, [size])  # its Content-MD5: one MD5 over the whole object

    def _drop_uncommitted(self, key: str) -> None:
        """After a failed write: delete the name if nothing is committed there (it holds only our blocks)."""
        try:
            if self.head(key) is None:
                self._blob(key).delete_blob()
        except Exception:  # noqa: BLE001 - the blocks expire anyway, and the next commit drops them
            pass

    # -- leftovers -----------------------------------------------------------------------------------------
    def unfinished(self, prefix: str) -> builtins.list[Unfinished]:
        """Names holding only uncommitted blocks: a write that staged and never committed."""
        try:
            committed = {b.name for b in self.container.list_blobs(name_starts_with=self._name(prefix))}
            found = [Unfinished(b.name[len(self.prefix):], "uncommitted blocks", b.last_modified)
                     for b in self.container.list_blobs(name_starts_with=self._name(prefix),
                                                        include=["uncommittedblobs"])
                     if b.name not in committed]
        except Exception as exc:  # noqa: BLE001 - described
            raise describe(exc, f"listing uncommitted blobs under {self.url}{prefix}") from None
        return found

    def abort(self, item: Unfinished) -> None:
        if self.head(item.key) is not None:
            return  # committed meanwhile: its leftover blocks went with the commit
        errors = _errors()
        try:
            self._blob(item.key).delete_blob()
        except errors.ResourceNotFoundError:
            self.findings.learn("abort", (
                f"{self.url}: the store does not delete uncommitted blocks of {item.key}; they are dropped by the "
                "next commit of that name and expire after seven days"), leftover=item)
        except errors.AzureError as exc:
            raise describe(exc, f"removing the uncommitted blocks of {item.key}") from None

    # -- reading and the rest ------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self._blob(key).upload_blob(data, length=len(data), overwrite=True, validate_content=True)
        except _errors().AzureError as exc:
            raise describe(exc, f"writing {key}") from None

    def get_bytes(self, key: str) -> bytes | None:
        errors = _errors()
        try:
            return self._blob(key).download_blob().readall()
        except errors.ResourceNotFoundError:
            return None
        except errors.AzureError as exc:
            raise describe(exc, f"reading {key}") from None

    def head(self, key: str) -> ObjectInfo | None:
        errors = _errors()
        try:
            props = self._blob(key).get_blob_properties()
        except errors.ResourceNotFoundError:
            return None
        except errors.AzureError as exc:
            raise describe(exc, f"checking {key}") from None
        return self._info(key, props)

    @staticmethod
    def _info(key: str, props: Any) -> ObjectInfo:
        md5 = props.content_settings.content_md5
        return ObjectInfo(key, props.size, bytes(md5).hex() if md5 else None, props.last_modified)

    def checksum(self, key: str) -> str:
        info = self.head(key)
        if info is None:
            raise StorageError(f"object {key} is missing")
        if info.etag is not None:
            return info.etag
        digest = hashlib.md5()
        for chunk in self.read(key):
            digest.update(chunk)
        return digest.hexdigest()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        try:
            for props in self.container.list_blobs(name_starts_with=self._name(prefix)):
                yield self._info(props.name[len(self.prefix):], props)
        except _errors().AzureError as exc:
            raise describe(exc, f"listing {self.url}{prefix}") from None

    def read(self, key: str) -> Iterator[bytes]:
        errors = _errors()
        try:
            stream = self._blob(key).download_blob(max_concurrency=1)
            yield from stream.chunks()
        except errors.ResourceNotFoundError:
            raise StorageError(f"object {key} is missing") from None
        except errors.AzureError as exc:
            raise describe(exc, f"reading {key}") from None

    def delete(self, key: str) -> None:
        errors = _errors()
        try:
            self._blob(key).delete_blob()
        except errors.ResourceNotFoundError:
            pass
        except errors.AzureError as exc:
            raise describe(exc, f"deleting {key}") from None
