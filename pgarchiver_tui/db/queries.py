"""Questions asked of the live rows: how many a job's slices hold now."""

from __future__ import annotations

import psycopg
from psycopg import sql

from pgarchiver_tui.core.model import Job
from pgarchiver_tui.db.connection import scalar
from pgarchiver_tui.pipeline.formats import Selection


def count_job_rows(executor: psycopg.Connection | psycopg.Cursor, job: Job) -> int:
    """The rows the job's slices hold now (`count(*)` of each)."""
    return sum(int(scalar(executor, Selection.of(part, job.date_column).select(sql.SQL("count(*)"))))
               for part in job.slices)
