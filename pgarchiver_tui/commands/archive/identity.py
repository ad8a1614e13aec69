"""Whose an object is: a record and an object belong to schema.table + destination + key, never to a key alone.

Two tables whose template gives the same key (`a.ev` and `b.ev` with `--path-template '{table}'`) collide: the
second must fail naming both tables, never be skipped as "already archived" and archived nowhere.
"""

from __future__ import annotations

from pgarchiver_tui.core.model import Job


def collision(job: Job, schema: str, table: str, evidence: str) -> str | None:
    """The failure to report when `key` already belongs to `schema.table` (as `evidence` says), or None."""
    if (schema, table) == (job.schema, job.table):
        return None
    return (f"{job.key} already holds {schema}.{table} ({evidence}); {job.schema}.{job.table} cannot be archived "
            "under the same key: add {schema} (or another distinguishing part) to --path-template")
