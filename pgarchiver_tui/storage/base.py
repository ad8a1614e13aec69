"""The one interface every destination implements."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pgarchiver_tui.core.sidecars import SIDECAR_SUFFIX  # noqa: F401 - the facts' names live in core.sidecars


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None  # None where the store has no cheap digest (a local directory)
    modified: datetime | None = None


@dataclass(frozen=True)
class StoredObject:
    """What a completed write produced, as computed from the bytes sent."""

    key: str
    size: int
    etag: str
    part_sizes: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Unfinished:
    """A write that started and never completed: an open multipart upload or a leftover temp file."""

    key: str
    upload_id: str
    started: datetime | None


class Storage(Protocol):
    url: str  # identifies the destination: s3://bucket/ or file:///dir/
    etag_is_md5: bool  # False where the store's ETag is no digest of the bytes (SSE-KMS)

    def write(self, key: str, chunks: Iterable[bytes], cancel: threading.Event,
              if_absent: bool = False) -> StoredObject:
        """Store the stream at `key` atomically: the key shows nothing until the whole stream is there.

        On any failure or cancellation the partial write is removed before the exception propagates. With
        `if_absent`, an object that appeared at `key` meanwhile is left alone and WriteConflict is raised.
        """

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes | None: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def checksum(self, key: str) -> str:
        """The stored object's ETag as the store computes it (a local directory: the file's MD5, re-read)."""

    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    def read(self, key: str) -> Iterator[bytes]: ...

    def delete(self, key: str) -> None: ...

    def unfinished(self, prefix: str) -> builtins.list[Unfinished]: ...

    def abort(self, item: Unfinished) -> None: ...
