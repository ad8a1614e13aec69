"""The one interface every destination implements, and what a run learns about the store behind it.

The contract, kept by every store with its own mechanism:
- `write` streams in bounded memory and the object appears at its final key only when complete (a rename, a
  completed multipart upload, a committed block list, a finalised resumable upload);
- what the store then holds is checked against what was sent, by the store's own checksum where it has one;
- with `if_absent`, an object written meanwhile by someone else is never overwritten (WriteConflict);
- objects can be listed, read back as a stream and deleted; writes that never completed are found
  (`unfinished`) and cleaned (`abort`) where the store exposes them.
A store that differs from what the contract expects says so once through its `findings`, never by failing
every object.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pgarchiver_tui.core.sidecars import SIDECAR_SUFFIX  # noqa: F401 - the facts' names live in core.sidecars

PROBE_DIR = ".pgarchiver-probe/"  # where a store's behaviour is tried out, under the destination's prefix


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None  # the store's digest of the object; None where it has no cheap one (a local directory)
    modified: datetime | None = None


@dataclass(frozen=True)
class StoredObject:
    """What a completed write produced, as computed from the bytes sent and confirmed by the store.

    `etag` is what the store reports for the object (the MD5 or S3's multipart form over `part_sizes`); "" when
    the store's tag is no digest of the bytes, so that only size and SHA-256 can prove the object later.
    """

    key: str
    size: int
    etag: str
    part_sizes: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Unfinished:
    """A write that started and never completed: an open multipart upload, staged blocks, a leftover temp file."""

    key: str
    upload_id: str
    started: datetime | None


@dataclass(frozen=True)
class Finding:
    """Something a store does differently from the contract, and what that means for the archive."""

    feature: str  # e.g. "list-unfinished", "multipart-etag", "no-clobber", "abort"
    message: str
    leftover: Unfinished | None = None  # an upload the store refused to abort: it stays until cleaned by hand


class Findings:
    """What a run learned about its store, each said once; listeners hear of each as it is learned."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Finding] = []
        self._said: set[str] = set()
        self._listeners: list[Callable[[Finding], None]] = []

    def learn(self, feature: str, message: str, leftover: Unfinished | None = None) -> None:
        """Record a finding; the same feature is said once (a refused abort once per upload)."""
        once = f"{feature}:{leftover.upload_id}" if leftover else feature
        with self._lock:
            if once in self._said:
                return
            self._said.add(once)
            finding = Finding(feature, message, leftover)
            self._items.append(finding)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(finding)

    def lacks(self, feature: str) -> bool:
        with self._lock:
            return feature in self._said

    @property
    def items(self) -> builtins.list[Finding]:
        with self._lock:
            return list(self._items)

    @contextmanager
    def listening(self, listener: Callable[[Finding], None]) -> Iterator[None]:
        """Hear every finding, those learned already first, until the block ends."""
        with self._lock:
            known = list(self._items)
            self._listeners.append(listener)
        for finding in known:
            listener(finding)
        try:
            yield
        finally:
            with self._lock:
                self._listeners.remove(listener)


class Storage(Protocol):
    url: str  # identifies the destination: s3://bucket/prefix/, az://container/prefix/, file:///dir/ …
    etag_is_md5: bool  # False where the store's ETag is no digest of the bytes (SSE-KMS)
    findings: Findings

    def write(self, key: str, chunks: Iterable[bytes], cancel: threading.Event,
              if_absent: bool = False) -> StoredObject:
        """Store the stream at `key` atomically: the key shows nothing until the whole stream is there.

        What the store holds is checked against what was sent before this returns (IntegrityError if not).
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

    def unfinished(self, prefix: str) -> builtins.list[Unfinished]:
        """Writes under `prefix` that never completed; [] where the store cannot list them (a finding says so)."""

    def abort(self, item: Unfinished) -> None:
        """Remove an unfinished write; where the store refuses, a finding names it and how to clean it up."""


def key_prefix(prefix: str) -> str:
    """A destination's prefix as it is put before keys: no leading slash, one trailing slash, or empty."""
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""
