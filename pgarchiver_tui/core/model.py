"""Plain data shared by discovery, the engine, storage, the cache and whatever renders events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

from pgarchiver_tui.core.periods import Duration, Period


class SourceKind(str, Enum):
    NATIVE = "native"  # a leaf of a declarative partition tree
    LEGACY = "legacy"  # a table named {table}_YYYYMMDD, {table}_pYYYYMMDD, {table}_YYYY_MM, ...
    DEFAULT = "default"  # a DEFAULT partition, or the parent of an inheritance tree holding rows itself
    PLAIN = "plain"  # a table that is not partitioned, cut into windows by a date column
    UNRECOGNISED = "unrecognised"  # an inheritance child whose bounds neither a constraint nor its name states


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type(): e.g. "numeric(18,6)", "timestamp with time zone", "text[]"


@dataclass(frozen=True)
class Source:
    """A relation that rows are read from."""

    schema: str
    name: str
    kind: SourceKind
    bounds: Period | None  # None: no date bounds known (default partitions, plain tables)
    estimated_rows: int = 0
    size_bytes: int = 0
    # the server keeps every row within `bounds` (a partition bound, a validated CHECK constraint); False when
    # only the name states them, so rows outside them may be there
    checked: bool = True

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def read_whole(self, period: Period, date_column: str | None) -> bool:
        """Whether an object of `period` takes every row of this source, rather than its rows dated in `period`.

        Bounds only a name states are not trusted when a date column can tell: the rows are then read by date,
        so a row outside the name's period never lands in an object whose period does not hold it.
        """
        if self.bounds is None or not period.contains(self.bounds):
            return False
        return self.checked or date_column is None


@dataclass(frozen=True)
class Slice:
    """The part of one source that goes into one object: the whole source, or a date window of it."""

    source: Source
    window: Period | None  # None: every row of the source; else date_column in [start, end)


@dataclass(frozen=True)
class Job:
    """One object to write: one whole output period of one table, read from one or more slices."""

    schema: str
    table: str
    period: Period
    duration: Duration
    key: str
    slices: tuple[Slice, ...]
    date_column: str | None = None
    skip_if_empty: bool = False  # windows of a plain table: an empty window writes nothing

    @property
    def label(self) -> str:
        return f"{self.table}-{self.duration.label(self.period.start)}"

    @property
    def estimated_rows(self) -> int:
        total = 0
        for part in self.slices:
            rows = part.source.estimated_rows
            if part.window is not None and part.source.bounds is not None:
                # a window of a larger partition: assume rows spread evenly
                span = (part.source.bounds.end - part.source.bounds.start).total_seconds() or 1
                rows = int(rows * (part.window.end - part.window.start).total_seconds() / span)
            total += max(rows, 0)
        return total


@dataclass
class ObjectFacts:
    """What an archived object holds, stored beside it so it can be checked and restored without the cache."""

    key: str
    schema: str
    table: str
    sources: list[str]
    period_start: str
    period_end: str
    duration: str
    format: str
    compression: str
    columns: list[Column]
    rows: int = 0
    bytes_in: int = 0  # uncompressed
    bytes_out: int = 0  # as stored
    sha256: str = ""
    etag: str = ""
    part_sizes: list[int] = field(default_factory=list)
    tool_version: str = ""
    created_at: str = ""
    date_column: str = ""  # the column that dates the rows (a restore finds the period's rows by it); "" unknown


def split_table_name(table: str, schema: str | None) -> tuple[str, str]:
    if schema:
        return schema, table
    if "." in table:
        head, tail = table.split(".", 1)
        return head, tail
    return "public", table


def facts_from_json(data: bytes) -> ObjectFacts:
    raw = json.loads(data)
    raw["columns"] = [Column(**c) for c in raw.get("columns", [])]
    return ObjectFacts(**raw)
