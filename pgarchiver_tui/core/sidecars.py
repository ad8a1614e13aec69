"""Where an object's facts are stored: `<dir>/_meta/<name>.meta.json`, beside the data but out of its way.

A prefix used as a table location by Hive, Spark, Athena or Trino must hold only data files: those engines skip
every file or directory whose name starts with `_` or `.`. A visible `_meta/` directory (not hidden dot files)
keeps the facts where an operator's `ls` and every copy or sync tool see them, next to the objects they describe,
so one listing of the objects' directory still returns both. DuckDB reads what its glob names: `**/*.parquet`
never matches a `.meta.json`.

Archives written before kept the facts at `<key>.meta.json`; they are still read (the new name first).
"""

from __future__ import annotations

SIDECAR_DIR = "_meta"
SIDECAR_SUFFIX = ".meta.json"
PURGE_RECORD_SUFFIX = ".purged.json"  # what purge removed from the database on the object's proof


def sidecar_key(key: str, suffix: str = SIDECAR_SUFFIX) -> str:
    """Where the facts of the object at `key` are written (with PURGE_RECORD_SUFFIX: its purge record)."""
    head, _, name = key.rpartition("/")
    return f"{head}/{SIDECAR_DIR}/{name}{suffix}" if head else f"{SIDECAR_DIR}/{name}{suffix}"


def legacy_sidecar_key(key: str) -> str:
    """Where earlier versions wrote them: read, never written."""
    return key + SIDECAR_SUFFIX


def sidecar_keys(key: str) -> tuple[str, str]:
    """Every name the facts of `key` may have, the one to prefer first."""
    return sidecar_key(key), legacy_sidecar_key(key)


def data_key_of(key: str, suffix: str = SIDECAR_SUFFIX) -> str | None:
    """The object a sidecar (or, with PURGE_RECORD_SUFFIX, a purge record) describes, whichever name it has;
    None when `key` is no such file."""
    if not key.endswith(suffix):
        return None
    stem = key[: -len(suffix)]
    head, _, name = stem.rpartition("/")
    folder, _, last = head.rpartition("/")
    if last == SIDECAR_DIR or (head == SIDECAR_DIR and not folder):
        return f"{folder}/{name}" if folder else name
    return stem


def is_current_sidecar(key: str) -> bool:
    return data_key_of(key) is not None and sidecar_key(data_key_of(key) or "") == key
