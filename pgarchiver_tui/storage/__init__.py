"""Destinations behind one interface (base.Storage), chosen from a URL in one place: destination.py."""

from __future__ import annotations

from pgarchiver_tui.storage.base import (
    PURGE_RECORD_SUFFIX,
    SIDECAR_SUFFIX,
    Finding,
    Findings,
    ObjectInfo,
    Storage,
    StoredObject,
    Unfinished,
)

__all__ = ["PURGE_RECORD_SUFFIX", "SIDECAR_SUFFIX", "Finding", "Findings", "ObjectInfo", "Storage", "StoredObject",
           "Unfinished"]
