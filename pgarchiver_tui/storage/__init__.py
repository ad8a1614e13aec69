"""Destinations behind one interface (base.Storage), chosen from a URL in one place: destination.py."""

from __future__ import annotations

from pgarchiver_tui.storage.base import (
    SIDECAR_SUFFIX,
    Finding,
    Findings,
    ObjectInfo,
    Storage,
    StoredObject,
    Unfinished,
)

__all__ = ["SIDECAR_SUFFIX", "Finding", "Findings", "ObjectInfo", "Storage", "StoredObject",
           "Unfinished"]
