"""Destinations behind one interface (base.Storage), chosen in one place: `open_storage`."""

from __future__ import annotations

from pgarchiver_tui.storage.base import (
    PURGE_RECORD_SUFFIX,
    SIDECAR_SUFFIX,
    ObjectInfo,
    Storage,
    StoredObject,
    Unfinished,
)

__all__ = ["PURGE_RECORD_SUFFIX", "SIDECAR_SUFFIX", "ObjectInfo", "Storage", "StoredObject", "Unfinished", "open_storage"]


def open_storage(local_dir: str | None, s3: object | None) -> Storage:
    """A local directory when one is given, else the S3 bucket described by `s3` (an S3Settings)."""
    if local_dir:
        from pgarchiver_tui.storage.local import LocalStorage

        return LocalStorage(local_dir)
    from pgarchiver_tui.storage.s3 import S3Settings, S3Storage

    assert isinstance(s3, S3Settings)
    return S3Storage(s3)
