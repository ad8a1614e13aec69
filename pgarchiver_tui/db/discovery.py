"""From the catalog to Sources: native partition trees, legacy date-named tables, plain tables."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from pgarchiver_tui.core.errors import ConfigError, PrivilegeError
from pgarchiver_tui.core.model import Column, Source, SourceKind
from pgarchiver_tui.core.periods import Period
from pgarchiver_tui.db.bounds import (
    NamedBounds,
    check_bounds,
    legacy_bounds,
    name_bounds,
    parse_range_bound,
    spaced_like_siblings,
)
from pgarchiver_tui.db.connection import scalar

__all__ = ["Discovery", "check_privileges", "columns_of", "discover", "holds_rows", "is_date_type",
           "legacy_bounds", "parse_range_bound"]

_DATE_TYPES = ("date", "timestamp without time zone", "timestamp with time zone")
_RANGE_KEY = re.compile(r'^RANGE \(("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\)$')


@dataclass
class Discovery:
    """What a table consists of."""

    schema: str
    table: str
    layout: str  # native | legacy | plain
    sources: list[Source]
    columns: list[Column]
    notes: list[str] = field(default_factory=list)
    date_key: str | None = None  # the column the catalog dates rows by: the range key, the CHECK constraints'

    @property
    def partitions(self) -> list[Source]:
        return [s for s in self.sources if s.bounds is not None]

    @property
    def unbounded(self) -> list[Source]:
        """Sources without date bounds: default partitions, parents holding rows, plain tables, children whose
        bounds nothing states."""
        return [s for s in self.sources if s.bounds is None]

    @property
    def unrecognised(self) -> list[Source]:
        return [s for s in self.sources if s.kind is SourceKind.UNRECOGNISED]


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
        found = _legacy(conn, schema, table, parent[0] if parent is not None else None, date_column)
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
        if not is_date_type(match.type):
            raise ConfigError(f"--date-column {date_column!r} is of type {match.type}; it must be a date or "
                              "timestamp column")
    if found.date_key is not None and not any(c.name == found.date_key and is_date_type(c.type)
                                              for c in found.columns):
        found.date_key = None  # a range key of another type (ids, text): it dates nothing
    return found


def is_date_type(type_name: str) -> bool:
    return re.sub(r"\(\d+\)", "", type_name) in _DATE_TYPES  # timestamp(3) is a timestamp too


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
    key = _RANGE_KEY.match(scalar(conn, "SELECT pg_get_partkeydef(%s)", (oid,)) or "")
    date_key = _unquote(key.group(1)) if key else None
    return Discovery(schema, table, "native", sources, [], notes, date_key)


@dataclass
class _Child:
    oid: int
    schema: str
    name: str
    estimated_rows: int
    size_bytes: int
    inherits: bool  # a descendant of the parent (not only named like one of its children)
    named: NamedBounds | None = None
    checks: list[tuple[str, dict[str, Period], bool]] = field(default_factory=list)  # name, bounds, validated


def _legacy(conn: psycopg.Connection, schema: str, table: str, parent: int | None,
            date_column: str | None) -> Discovery:
    """Inheritance children and tables named `{table}_<date>`: bounds from CHECK constraints, else names.

    Every descendant of the parent is accounted for: a child whose bounds nothing states is an UNRECOGNISED
    source (read by date with --date-column, reported otherwise), never silently left out.
    """
    children = _children(conn, schema, table, parent)
    for child in children.values():
        child.named = name_bounds(table, child.name)
    _read_checks(conn, children)
    key = _date_key(children.values(), date_column)
    sources: list[Source] = []
    notes: list[str] = []
    disagreeing: list[str] = []
    minute_named = [c for c in children.values() if c.named and c.named.start_only and c.named.period]
    step = spaced_like_siblings([c.named.period.start for c in minute_named if c.named and c.named.period])
    for child in sorted(children.values(), key=lambda c: (c.schema, c.name)):
        named = child.named.period if child.named else None
        if named is not None and child.named and child.named.start_only:
            named = Period(named.start, named.start + step)
        constraint = next(((n, b[key], ok) for n, b, ok in child.checks if key in b), None) if key else None
        qualified = f"{child.schema}.{child.name}"
        if constraint is not None:
            constraint_name, bounds, validated = constraint
            if named is not None and named != bounds:
                disagreeing.append(f"{qualified}: its name says {named} but its CHECK constraint "
                                   f"{constraint_name} says {bounds}")
            sources.append(Source(child.schema, child.name, SourceKind.LEGACY, bounds, child.estimated_rows,
                                  child.size_bytes, checked=validated))
        elif named is not None:
            sources.append(Source(child.schema, child.name, SourceKind.LEGACY, named, child.estimated_rows,
                                  child.size_bytes, checked=False))
        elif child.named is not None:  # `{table}_default`
            sources.append(Source(child.schema, child.name, SourceKind.DEFAULT, None, child.estimated_rows,
                                  child.size_bytes))
        elif child.inherits:
            sources.append(Source(child.schema, child.name, SourceKind.UNRECOGNISED, None, child.estimated_rows,
                                  child.size_bytes))
    if parent is not None and sources:
        sources.append(_plain_source(conn, schema, table, SourceKind.DEFAULT))
    if len(disagreeing) == 1:
        notes.append(f"{disagreeing[0]}; the constraint's bounds are used")
    elif disagreeing:  # pg_partman 5 names every child by its start: one line, not one per child
        notes.append(f"{len(disagreeing)} children's names disagree with their CHECK constraints, e.g. "
                     f"{disagreeing[0]}; the constraints' bounds are used")
    unknown = [s.qualified for s in sources if s.kind is SourceKind.UNRECOGNISED]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        notes.append(f"{len(unknown)} child table(s) of {schema}.{table} have no date bounds in a CHECK "
                     f"constraint or their name: {shown}; their rows are archived by date with --date-column, "
                     "and reported otherwise")
    return Discovery(schema, table, "legacy", sources, [], notes, key)


def _children(conn: psycopg.Connection, schema: str, table: str, parent: int | None) -> dict[int, _Child]:
    """Every inheritance descendant of the parent, in any schema, and the tables of `schema` named like its
    children whether they inherit or not."""
    rows = conn.execute(
        """WITH RECURSIVE tree(oid) AS (
               SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = %(parent)s
               UNION
               SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid)
           SELECT c.oid, n.nspname, c.relname, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid),
                  c.oid IN (SELECT oid FROM tree)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition
              AND (c.oid IN (SELECT oid FROM tree)
                   OR (n.nspname = %(schema)s AND left(c.relname, %(length)s) = %(prefix)s))
            ORDER BY n.nspname, c.relname""",
        {"parent": parent or 0, "schema": schema, "length": len(table) + 1, "prefix": table + "_"},
    ).fetchall()
    children = {}
    for oid, nsp, name, reltuples, size, inherits in rows:
        if oid == parent:
            continue
        children[oid] = _Child(oid, nsp, name, int(reltuples), int(size), bool(inherits))
    # a table that does not inherit is one of ours only when its name gives a period
    return {oid: c for oid, c in children.items() if c.inherits or legacy_bounds(table, c.name) is not None}


def _read_checks(conn: psycopg.Connection, children: dict[int, _Child]) -> None:
    if not children:
        return
    rows = conn.execute(
        """SELECT conrelid, conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint
            WHERE contype = 'c' AND conrelid = ANY(%s) ORDER BY conrelid, conname""",
        (list(children),),
    ).fetchall()
    for relid, name, definition, validated in rows:
        bounds = check_bounds(definition)
        if bounds:
            children[relid].checks.append((name, bounds, bool(validated)))


def _date_key(children: Iterable[_Child], date_column: str | None) -> str | None:
    """The column the children's CHECK constraints date them by: the one most of them bound."""
    votes: Counter[str] = Counter()
    for child in children:
        for column in {column for _name, bounds, _ok in child.checks for column in bounds}:
            votes[column] += 1
    if not votes:
        return None
    if date_column in votes:
        return date_column
    return sorted(votes.items(), key=lambda item: (-item[1], item[0]))[0][0]


def _unquote(identifier: str) -> str:
    return identifier[1:-1].replace('""', '"') if identifier.startswith('"') else identifier


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
