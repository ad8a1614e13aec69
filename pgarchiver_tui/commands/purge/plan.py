"""What the database and the archive hold → periods to purge, each proven and purged on its own.

A period is one connected group of live targets — whole partitions or legacy tables (dropped or detached), date
windows of a plain table or a default partition (deleted) — and the archived objects made from them. Usually one
partition and one object; daily partitions grouped into a monthly object make one period of the month; a monthly
partition split into daily objects makes one period of all its days. Each period is proven and removed in one
transaction: it is either untouched or fully purged, and one that cannot be proven never stops the others.

What can be told without reading the archive is decided here (not archived, reaching outside the range, covered
only in part); the proof itself is `period.purge_period`'s.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from pgarchiver_tui.commands.holdings import ArchivedObject, by_period
from pgarchiver_tui.core.model import Source
from pgarchiver_tui.core.periods import Period
from pgarchiver_tui.core.units import rows_text
from pgarchiver_tui.db.connection import scalar
from pgarchiver_tui.db.discovery import Discovery, holds_rows

_RANGE_KEY = re.compile(r'^RANGE \(("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\)$')


@dataclass(frozen=True)
class Target:
    """A whole relation (to drop or detach), or the rows of one date window of a relation (to delete)."""

    source: Source
    window: Period | None = None

    @property
    def whole(self) -> bool:
        return self.window is None

    @property
    def period(self) -> Period | None:
        return self.window if self.window is not None else self.source.bounds

    @property
    def label(self) -> str:
        return self.source.qualified if self.window is None else f"{self.source.qualified} {self.window}"


@dataclass
class PeriodPlan:
    schema: str
    table: str
    targets: list[Target]
    objects: list[ArchivedObject]
    refusal: str = ""  # known before reading anything: the period is left untouched, with this reason
    gone: list[str] = field(default_factory=list)  # relations the objects name that no longer exist

    @property
    def period(self) -> Period | None:
        spans = [t.period for t in self.targets if t.period is not None] + \
            [o.period for o in self.objects if o.period is not None]
        if not spans:
            return None
        return Period(min(s.start for s in spans), max(s.end for s in spans))

    @property
    def label(self) -> str:
        names = [t.label for t in self.targets] or [o.key for o in self.objects]
        return names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1}"

    @property
    def keys(self) -> list[str]:
        return [o.key for o in self.objects]

    @property
    def archived_rows(self) -> int:
        return sum(o.rows or 0 for o in self.objects)


def object_sources(obj: ArchivedObject) -> list[str] | None:
    """The relations an object was read from, by its facts or else the cache; None when nothing says."""
    if obj.facts is not None:
        return list(obj.facts.sources)
    if obj.record is not None and obj.record.sources:
        return obj.record.sources.split(",")
    return None


class _Groups:
    """Union-find over hashable nodes: which targets and objects must be proven and purged together."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, node: object) -> object:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def join(self, a: object, b: object) -> None:
        self.parent[self.find(a)] = self.find(b)


def plan_purge(conn: psycopg.Connection, found: Discovery, objects: list[ArchivedObject], requested: Period,
               date_column: str | None) -> list[PeriodPlan]:
    """Periods to purge in `requested`, in order. `objects`: what the archive holds for the table in the range
    (with or without facts)."""
    by_name = {s.qualified: s for s in found.sources}
    groups = _Groups()
    targets: dict[Target, None] = {}  # an ordered set
    linked: dict[Target, list[int]] = defaultdict(list)
    gone: dict[int, list[str]] = defaultdict(list)
    for n, obj in enumerate(objects):
        groups.find(("object", n))
        names = object_sources(obj)
        if names is None or obj.period is None:
            continue
        for name in names:
            source = by_name.get(name)
            if source is None:
                gone[n].append(name)
                continue
            target = Target(source) if source.bounds is not None else Target(source, obj.period)
            targets.setdefault(target)
            linked[target].append(n)
    # every dated relation in the range is to be purged, and can be only with an object that proves it
    for source in found.sources:
        if source.bounds is not None and source.bounds.overlaps(requested):
            targets.setdefault(Target(source))
    # an object that says nothing of its sources goes with whatever it may hold: it is refused with them
    for n, obj in enumerate(objects):
        if object_sources(obj) is None and obj.period is not None:
            for target in list(targets):
                if target.whole and target.period is not None and target.period.overlaps(obj.period):
                    linked[target].append(n)
    for target in targets:
        groups.find(("target", target))
        for n in linked[target]:
            groups.join(("target", target), ("object", n))
    members: dict[object, tuple[list[Target], list[int]]] = {}
    for target in targets:
        members.setdefault(groups.find(("target", target)), ([], []))[0].append(target)
    for n in range(len(objects)):
        members.setdefault(groups.find(("object", n)), ([], []))[1].append(n)
    plans = []
    for group_targets, numbers in members.values():
        plan = PeriodPlan(found.schema, found.table, group_targets, [objects[n] for n in numbers],
                          gone=sorted({name for n in numbers for name in gone[n]}))
        holding = {target: [objects[n] for n in linked[target]] for target in group_targets}
        plan.refusal = _refusal(plan, holding, requested, date_column)
        plans.append(plan)
    plans += _unbounded(conn, found, list(targets), requested, date_column)
    plans.sort(key=lambda p: (p.period or Period(datetime.min, datetime.min), p.label))
    return plans


def _refusal(plan: PeriodPlan, holding: dict[Target, list[ArchivedObject]], requested: Period,
             date_column: str | None) -> str:
    """Why the period must be left alone, as far as can be told without reading the archive; "" when it may go."""
    for target in plan.targets:
        if not holding[target]:
            return "not archived: no archived object holds it"
    for target in plan.targets:
        if target.period is None or not requested.contains(target.period):
            where = target.period or "no date bounds"
            return (f"{target.label} ({where}) reaches outside {requested}: a period is purged whole or not at "
                    f"all; widen --start-date/--end-date to take in {plan.period}")
    if date_column is None:
        windowed = next((t for t in plan.targets if not t.whole), None)
        if windowed is not None:
            return (f"rows of {windowed.source.qualified} were archived by date: give --date-column to purge "
                    "them by date")
    dated = sorted((o for o in plan.objects if o.period is not None), key=by_period)
    for first, second in zip(dated, dated[1:], strict=False):
        assert first.period is not None and second.period is not None
        if first.period.overlaps(second.period):
            return (f"two archived objects hold {first.period.intersect(second.period)}: {first.key} and "
                    f"{second.key}; the proof needs exactly one: remove the one that is not wanted")
    for target in plan.targets:
        if target.whole and target.period is not None:
            covered = [o.period for o in holding[target] if o.period is not None]
            missing = _uncovered(target.period, covered)
            if missing:
                gaps = ", ".join(str(p) for p in missing[:3]) + (" …" if len(missing) > 3 else "")
                return f"the archive covers {target.label} only in part: {gaps} in no archived object"
    return ""  # relations gone meanwhile are purge_period's to judge: it knows whether a purge removed them


def _uncovered(span: Period, covered: list[Period]) -> list[Period]:
    """The parts of `span` that no period of `covered` holds."""
    gaps, start = [], span.start
    for period in sorted(covered):
        if period.start > start:
            gaps.append(Period(start, min(period.start, span.end)))
        start = max(start, period.end)
        if start >= span.end:
            break
    if start < span.end:
        gaps.append(Period(start, span.end))
    return [gap for gap in gaps if gap.start < gap.end]


def _unbounded(conn: psycopg.Connection, found: Discovery, targets: list[Target], requested: Period,
               date_column: str | None) -> list[PeriodPlan]:
    """Rows of relations without date bounds (a default partition, an inheritance parent, a plain table) that
    lie in the range and that no archived object holds: refused, each with the count that says so."""
    plans = []
    for source in found.unbounded:
        column = date_column or _range_key(conn, found)
        if column is None:
            if holds_rows(conn, source):
                plans.append(PeriodPlan(found.schema, found.table, [Target(source)], [], refusal=(
                    f"{source.kind.value} {source.qualified} holds rows outside any dated partition; without a "
                    "date column purge cannot tell which are in the range: give --date-column to purge them by "
                    "date (archived by date too)")))
            continue
        windows = [t.window for t in targets if t.source == source and t.window is not None]
        if windows and date_column is None:
            continue  # archived by date: those periods are refused until --date-column is given
        gaps = _uncovered(requested, windows) if date_column else [requested]
        for gap, rows in zip(gaps, _count_in(conn, source, column, gaps), strict=True):
            if not rows:
                continue
            if date_column is None:
                reason = (f"{source.kind.value} {source.qualified} holds {rows_text(rows)} in the range: they are "
                          "purged only by date, archived by date: give --date-column")
            else:
                reason = f"not archived: {rows_text(rows)} of {source.qualified} in {gap} are in no archived object"
            plans.append(PeriodPlan(found.schema, found.table, [Target(source, gap)], [], refusal=reason))
    return plans


def _range_key(conn: psycopg.Connection, found: Discovery) -> str | None:
    """The partition key column of a table partitioned by range on one column; rows of its default partition
    in the range can be counted by it even without --date-column."""
    if found.layout != "native":
        return None
    key = scalar(conn, "SELECT coalesce(pg_get_partkeydef(c.oid), '') FROM pg_class c JOIN pg_namespace n ON "
                       "n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s", (found.schema, found.table))
    match = _RANGE_KEY.match(key)
    if match is None:
        return None
    name = match.group(1)
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _count_in(conn: psycopg.Connection, source: Source, column: str, gaps: list[Period]) -> list[int]:
    """Rows of `source` (not of its children) in each gap, in one scan."""
    if not gaps:
        return []
    ident = sql.Identifier(column)
    cases = sql.SQL(" ").join(
        sql.SQL("WHEN {} >= {} AND {} < {} THEN {}").format(ident, sql.Literal(gap.start), ident,
                                                            sql.Literal(gap.end), sql.Literal(n))
        for n, gap in enumerate(gaps))
    query = sql.SQL("SELECT g, count(*) FROM (SELECT CASE {} END AS g FROM ONLY {}) AS t WHERE g IS NOT NULL "
                    "GROUP BY g").format(cases, sql.Identifier(source.schema, source.name))
    counts: dict[int, int] = dict(conn.execute(query).fetchall())
    return [int(counts.get(n, 0)) for n in range(len(gaps))]
