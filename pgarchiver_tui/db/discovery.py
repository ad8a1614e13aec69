"""From the catalog to Sources: native partition trees, legacy date-named tables, plain tables."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from pgarchiver_tui.core.errors import ConfigError, PrivilegeError
from pgarchiver_tui.core.model import Column, Source, SourceKind
from pgarchiver_tui.core.periods import Duration, Period
from pgarchiver_tui.db.connection import scalar

_DATE_TYPES = ("date", "timestamp without time zone", "timestamp with time zone")
_RANGE_BOUND = re.compile(r"^FOR VALUES FROM \((.+)\) TO \((.+)\)$", re.S)
_LITERAL = re.compile(r"^'([^']*)'(?:::[\w ]+)?$")


@dataclass
class Discovery:
    """What a table consists of."""

    schema: str
    table: str
    layout: str  # native | legacy | plain
    sources: list[Source]
    columns: list[Column]
    notes: list[str] = field(default_factory=list)

    @property
    def partitions(self) -> list[Source]:
        return [s for s in self.sources if s.bounds is not None]

    @property
    def unbounded(self) -> list[Source]:
        """Sources without date bounds: default partitions, parents holding rows, plain tables."""
        return [s for s in self.sources if s.bounds is None]


def legacy_bounds(table: str, name: str) -> Period | None:
    """Bounds of a legacy partition named after `table`, or None when `name` is not one.

    Matched literally (never LIKE, whose `_` is a wildcard): events_archive_p20240101 is not events'.
    """
    if not name.startswith(table + "_"):
        return None
    suffix = name[len(table) + 1:]
    try:
        if m := re.fullmatch(r"p?(\d{4})(\d{2})(\d{2})", suffix):
            start = datetime(int(m[1]), int(m[2]), int(m[3]))
            return Period(start, Duration.DAILY.next(start))
        if m := re.fullmatch(r"p?(\d{4})_(\d{2})_(\d{2})", suffix):
            start = datetime(int(m[1]), int(m[2]), int(m[3]))
            return Period(start, Duration.DAILY.next(start))
        if m := re.fullmatch(r"p?(\d{4})_(\d{2})", suffix):
            start = datetime(int(m[1]), int(m[2]), 1)
            return Period(start, Duration.MONTHLY.next(start))
    except ValueError:  # events_20241399 is no date
        return None
    return None


def parse_range_bound(bound: str) -> Period | None:
    """Bounds of `FOR VALUES FROM (...) TO (...)` on a single date/timestamp key; None for anything else."""
    match = _RANGE_BOUND.match(bound.strip())
    if not match:
        return None
    lower, upper = (_bound_value(match.group(1)), _bound_value(match.group(2)))
    if lower is None or upper is None:
        return None
    return Period(lower, upper)


def _bound_value(text: str) -> datetime | None:
    text = text.strip()
    if text == "MINVALUE":
        return datetime.min
    if text == "MAXVALUE":
        return datetime.max
    match = _LITERAL.match(text)
    if not match:
        return None  # a multi-column or non-literal key
    value = match.group(1)
    if value == "-infinity":
        return datetime.min
    if value == "infinity":
        return datetime.max
    value = re.sub(r"([+-]\d{2})$", r"\1:00", value)  # '+00' → '+00:00' for fromisoformat
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def columns_of(conn: psycopg.Connection, schema: str, name: str) -> list[Column]:
    rows = conn.execute(
        """SELECT a.attname, format_type(a.atttypid, a.atttypmod)
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum""",
        (schema, name),
    ).fetchall()
    return [Column(n, t) for n, t in rows]


def discover(conn: psycopg.Connection, schema: str, table: str, date_column: str | None = None) -> Discovery:
    """Read the catalog; raise ConfigError with one line naming the fix when the table cannot be archived."""
    if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None:
        raise ConfigError(f"schema {schema!r} does not exist; check --schema or the schema part of --table")
    parent = conn.execute(
        """SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')""",
        (schema, table),
    ).fetchone()
    if parent is not None and parent[1] == "p":
        found = _native(conn, schema, table, parent[0])
    else:
        found = _legacy(conn, schema, table, has_parent=parent is not None)
        if not found.sources:
            if parent is None:
                raise ConfigError(f"table {schema}.{table} does not exist and no table is named like "
                                  f"{table}_YYYYMMDD; check --table and --schema")
            found = Discovery(schema, table, "plain",
                              [_plain_source(conn, schema, table, SourceKind.PLAIN)], [])
    # without a parent table, the first legacy table speaks for the columns
    found.columns = columns_of(conn, schema, table if parent is not None else found.sources[0].name)
    if date_column is not None:
        match = next((c for c in found.columns if c.name == date_column), None)
        if match is None:
            raise ConfigError(f"--date-column {date_column!r} is not a column of {schema}.{table}; "
                              f"columns: {', '.join(c.name for c in found.columns)}")
        if re.sub(r"\(\d+\)", "", match.type) not in _DATE_TYPES:  # timestamp(3) is a timestamp too
            raise ConfigError(f"--date-column {date_column!r} is of type {match.type}; it must be a date or "
                              "timestamp column")
    return found


def check_privileges(conn: psycopg.Connection, sources: list[Source]) -> None:
    if not sources:
        return
    rows = conn.execute(
        "SELECT n FROM unnest(%s::text[]) WITH ORDINALITY AS u(name, n) "
        "WHERE NOT has_table_privilege(name::regclass, 'SELECT') ORDER BY n",
        ([_quote_qualified(s) for s in sources],),
    ).fetchall()
    if rows:
        denied = ", ".join(sources[n - 1].qualified for (n,) in rows[:5]) + (" …" if len(rows) > 5 else "")
        raise PrivilegeError(f"no SELECT privilege on {denied} (of {len(sources)} sources); "
                             "GRANT SELECT to the archiving role")


def _quote_qualified(source: Source) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in (source.schema, source.name))


def _native(conn: psycopg.Connection, schema: str, table: str, oid: int) -> Discovery:
    rows = conn.execute(
        """SELECT t.relid::oid, t.parentrelid::oid, t.isleaf, n.nspname, c.relname,
                  coalesce(pg_get_expr(c.relpartbound, c.oid), ''), greatest(c.reltuples, 0)::bigint,
                  pg_total_relation_size(c.oid), c.relkind
             FROM pg_partition_tree(%s::oid::regclass) t
             JOIN pg_class c ON c.oid = t.relid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            ORDER BY t.level, c.relname""",
        (oid,),
    ).fetchall()
    bounds_of: dict[int, Period | None] = {}
    sources: list[Source] = []
    for relid, parent, isleaf, nsp, name, bound, reltuples, size, _kind in rows:
        own = parse_range_bound(bound) if bound else None
        inherited = bounds_of.get(parent) if parent else None
        if own is not None and inherited is not None:
            own = own.intersect(inherited)
        bounds_of[relid] = own if own is not None else inherited
        if isleaf and relid != oid:
            kind = SourceKind.DEFAULT if bounds_of[relid] is None else SourceKind.NATIVE
            sources.append(Source(nsp, name, kind, bounds_of[relid], int(reltuples), int(size)))
    notes = []
    if not sources:
        notes.append(f"{schema}.{table} is partitioned but has no partitions")
    return Discovery(schema, table, "native", sources, [], notes)


def _legacy(conn: psycopg.Connection, schema: str, table: str, has_parent: bool) -> Discovery:
    rows = conn.execute(
        """SELECT c.relname, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND left(c.relname, %s) = %s
            ORDER BY c.relname""",
        (schema, len(table) + 1, table + "_"),
    ).fetchall()
    sources = []
    for name, reltuples, size in rows:
        bounds = legacy_bounds(table, name)
        if bounds is not None:
            sources.append(Source(schema, name, SourceKind.LEGACY, bounds, int(reltuples), int(size)))
    if sources and has_parent:
        sources.append(_plain_source(conn, schema, table, SourceKind.DEFAULT))
    return Discovery(schema, table, "legacy", sources, [])


def _plain_source(conn: psycopg.Connection, schema: str, table: str, kind: SourceKind) -> Source:
    row = conn.execute(
        """SELECT greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relname = %s""",
        (schema, table),
    ).fetchone()
    if row is None:
        raise ConfigError(f"table {schema}.{table} disappeared while it was being discovered; run again")
    reltuples, size = row
    return Source(schema, table, kind, None, int(reltuples), int(size))


def holds_rows(conn: psycopg.Connection, source: Source) -> bool:
    """Whether the relation itself (not its children) has any row: cheap, stops at the first."""
    from psycopg import sql

    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM ONLY {})").format(sql.Identifier(source.schema, source.name))
    return bool(scalar(conn, query))
