"""Learning by trying what a store does: whether it honours a conditional create, and, for `health`, every
call an archive makes (a small multipart upload, an interrupted one, listing, reading back, deleting)."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pgarchiver_tui.core.errors import ArchiverError, IntegrityError, WriteConflict
from pgarchiver_tui.storage.base import PROBE_DIR

if TYPE_CHECKING:
    from pgarchiver_tui.storage.base import Storage


class NoClobber:
    """Whether the store refuses to create an object that exists, tried once before the first such write.

    The probe writes one small object twice, both times asking not to clobber: a store that accepts the second
    write ignores the condition, and no-clobber then rests on the advisory-lock claims alone (said once). The
    key is always the same, so a store where deleting is not allowed keeps one probe object, never one per run;
    a first write refused because that object is there already proves the condition honoured.
    """

    KEY = f"{PROBE_DIR}no-clobber"

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.state = ""  # "" untried | probing | honoured | ignored | unknown
        self._lock = threading.RLock()  # the probe's own writes come back here, in the same thread

    def ensure(self) -> None:
        with self._lock:
            if self.state:
                return
            self.state = "probing"
            never = threading.Event()
            created = False
            try:
                try:
                    self.storage.write(self.KEY, [b"first\n"], never, if_absent=True)
                    created = True
                    self.storage.write(self.KEY, [b"second\n"], never, if_absent=True)
                except WriteConflict:
                    self.state = "honoured"
                    return
                finally:
                    if created:
                        self._remove()
                self.state = "ignored"
                header = getattr(self.storage, "conditional_header", "the create-only condition")
                self.storage.findings.learn("no-clobber", (
                    f"{self.storage.url}: the store ignores {header} (a second create-only write of one key "
                    "succeeded); no-clobber rests on the advisory-lock claims in PostgreSQL alone: runs that do "
                    "not share the database can overwrite each other's objects"))
            except ArchiverError:
                self.state = "unknown"  # the real write meets the same trouble and reports it

    def _remove(self) -> None:
        try:
            self.storage.delete(self.KEY)
        except ArchiverError:
            pass  # a store that keeps everything keeps this one object, and the next probe finds it there


def probe_store(storage: Storage, prefix: str) -> list[str]:
    """Make the calls an archive makes, under `prefix`; what worked, one line each. What the store lacks is in
    its findings afterwards; a call that fails raises (ArchiverError) naming it."""
    prefix = prefix.rstrip("/") + "/"
    key = f"{prefix}probe-{uuid.uuid4().hex}"
    smallest = getattr(storage, "min_part_bytes", 0)
    if smallest:
        storage.first_part_bytes = smallest  # type: ignore[attr-defined]
    size = max(smallest, 1 << 16) + 4096  # two parts (or blocks, or chunks) where the store cuts them
    data = hashlib.sha256(key.encode()).digest() * (size // 32 + 1)
    data = data[:size]
    done = []
    stored = storage.write(key, [data[: size // 2], data[size // 2:]], threading.Event(), if_absent=True)
    try:
        done.append(f"wrote a {stored.size}-byte object in two parts (or blocks, or chunks), checked against "
                    "what the store holds")
        info = storage.head(key)
        listed = [i.key for i in storage.list(prefix)]
        if info is None or info.size != size or key not in listed:
            raise IntegrityError(f"the probe {key} is not listed or reported with its size after writing it")
        if b"".join(storage.read(key)) != data:
            raise IntegrityError(f"the probe {key} reads back differently from what was written")
        done.append("listed it, read it back identical")
    finally:
        storage.delete(key)
    if storage.head(key) is not None:
        raise IntegrityError(f"the probe {key} is still there after deleting it")
    done.append("deleted it")
    interrupted = f"{prefix}interrupted-{uuid.uuid4().hex}"

    def stopped() -> Iterator[bytes]:
        yield data
        yield data
        raise _Interrupted()

    try:
        storage.write(interrupted, stopped(), threading.Event(), if_absent=True)
    except _Interrupted:
        pass
    if storage.head(interrupted) is not None:
        storage.delete(interrupted)
        raise IntegrityError(f"an interrupted write left an object at {interrupted}")
    left = [u for u in storage.unfinished(prefix) if u.key == interrupted]
    for item in left:
        storage.abort(item)
    done.append("an interrupted write left nothing at its key" + (
        "; its unfinished upload was found and aborted" if left else ""))
    return done


class _Interrupted(Exception):
    """The probe's stream breaking off mid-write."""
