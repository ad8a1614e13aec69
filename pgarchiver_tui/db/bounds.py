"""Date bounds of a table, as the catalog states them: partition bounds, CHECK constraints, child names.

Pure text parsing of what the catalog returns (`pg_get_expr(relpartbound)`, `pg_get_constraintdef`, relation
names); discovery decides which to believe. A constraint is enforced by the server, a name is only a promise,
so where both exist the constraint wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pgarchiver_tui.core.periods import Duration, Period

_RANGE_BOUND = re.compile(r"^FOR VALUES FROM \((.+)\) TO \((.+)\)$", re.S)
_LITERAL = re.compile(r"^'([^']*)'(?:::[\w ]+)?$")


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
    return moment_of(match.group(1))


def moment_of(value: str) -> datetime | None:
    """A date/timestamp literal as the server prints it (sessions run in UTC) → a naive UTC datetime."""
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


# -- CHECK constraints -------------------------------------------------------------------------------------------

_CHECK = re.compile(r"^CHECK \((.*)\)(?: NO INHERIT)?(?: NOT VALID)?$", re.S)
_QUOTED = re.compile(r"'((?:[^']|'')*)'(?:::([a-z][a-z0-9_ ]*(?:\(\d+\))?(?: with(?:out)? time zone)?))?")
_IDENT = r'("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_TERM = re.compile(_IDENT + r"\s*(>=|<=|>|<|=)\s*\$(\d+)")
_ONE_DAY = timedelta(days=1)
_ONE_TICK = timedelta(microseconds=1)


def check_bounds(definition: str) -> dict[str, Period]:
    """The date bounds a CHECK constraint promises, per column: `{column: [lower, upper)}`.

    Only a conjunction of comparisons with date/timestamp literals is understood — what pg_partman writes
    (`((at >= '2024-01-01 00:00:00+00'::timestamp with time zone) AND (at < '...'))`) and what people write by
    hand (BETWEEN comes back as >= AND <=). Anything with OR, NOT or CASE promises no bounds.
    """
    match = _CHECK.match(definition.strip())
    if not match:
        return {}
    literals: list[tuple[str, str]] = []

    def hide(found: re.Match[str]) -> str:
        literals.append((found.group(1).replace("''", "'"), found.group(2) or ""))
        return f"${len(literals) - 1}"

    skeleton = _QUOTED.sub(hide, match.group(1)).replace("IS NOT NULL", "")
    if re.search(r"\b(OR|NOT|CASE)\b", skeleton):
        return {}
    lower: dict[str, datetime] = {}
    upper: dict[str, datetime] = {}
    for column, op, index in _TERM.findall(skeleton):
        text, cast = literals[int(index)]
        if not (cast == "date" or cast.startswith("timestamp")):
            continue
        moment = moment_of(text)
        if moment is None or moment in (datetime.min, datetime.max):
            continue
        name = column[1:-1].replace('""', '"') if column.startswith('"') else column
        step = _ONE_DAY if cast == "date" else _ONE_TICK
        low = moment + step if op == ">" else moment if op in (">=", "=") else None
        high = moment + step if op in ("<=", "=") else moment if op == "<" else None
        if low is not None:
            lower[name] = max(low, lower.get(name, low))
        if high is not None:
            upper[name] = min(high, upper.get(name, high))
    return {name: Period(lower[name], upper[name]) for name in lower
            if name in upper and lower[name] < upper[name]}


# -- names -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NamedBounds:
    """What a child's name says: its period, or that it is the set's default."""

    period: Period | None  # None: a `_default` child
    start_only: bool = False  # `_pYYYY_MM_DD_HH24MI`: the name gives the start; the length is a guess


def _day(y: str, m: str, d: str) -> Period:
    start = datetime(int(y), int(m), int(d))
    return Period(start, Duration.DAILY.next(start))


def _month(y: str, m: str) -> Period:
    start = datetime(int(y), int(m), 1)
    return Period(start, Duration.MONTHLY.next(start))


def _year(y: str) -> Period:
    start = datetime(int(y), 1, 1)
    return Period(start, Duration.YEARLY.next(start))


def _iso_week(y: str, w: str) -> Period:
    start = datetime.fromisocalendar(int(y), int(w), 1)
    return Period(start, Duration.WEEKLY.next(start))


def _quarter(y: str, q: str) -> Period:
    start = datetime(int(y), 3 * int(q) - 2, 1)
    return Period(start, Duration.MONTHLY.next(Duration.MONTHLY.next(Duration.MONTHLY.next(start))))


def _minute(y: str, m: str, d: str, hh: str, mi: str) -> Period:
    start = datetime(int(y), int(m), int(d), int(hh), int(mi))
    return Period(start, start + timedelta(hours=1))


# The suffixes after `{table}_`: this tool's first formats, then pg_partman 4's (`_pYYYY`, `_pYYYYqQ`,
# `_pYYYY_MM`, `_pIYYYwIW`, `_pYYYY_MM_DD`, `_pYYYY_MM_DD_HH24MI`) and 5's (`_pYYYYMMDD`, the start of any
# interval of a day or more: only a CHECK constraint or a partition bound tells its real length).
_NAMES = (
    (re.compile(r"p?(\d{4})(\d{2})(\d{2})"), _day),
    (re.compile(r"p?(\d{4})_(\d{2})_(\d{2})"), _day),
    (re.compile(r"p?(\d{4})_(\d{2})"), _month),
    (re.compile(r"p(\d{4})"), _year),
    (re.compile(r"p(\d{4})w(\d{2})"), _iso_week),
    (re.compile(r"p(\d{4})q([1-4])"), _quarter),
    (re.compile(r"p(\d{4})_(\d{2})_(\d{2})_(\d{2})(\d{2})"), _minute),
)


def name_bounds(table: str, name: str) -> NamedBounds | None:
    """What the name of a child of `table` says, or None when it says nothing.

    Matched literally (never LIKE, whose `_` is a wildcard): events_archive_p20240101 is not events'.
    """
    if not name.startswith(table + "_"):
        return None
    suffix = name[len(table) + 1:]
    if suffix == "default":
        return NamedBounds(None)
    for pattern, period_of in _NAMES:
        if match := pattern.fullmatch(suffix):
            try:
                return NamedBounds(period_of(*match.groups()), start_only=period_of is _minute)
            except ValueError:  # events_20241399 is no date
                return None
    return None


def legacy_bounds(table: str, name: str) -> Period | None:
    """The period a child's name gives, or None (not a dated name of `table`'s, or its default)."""
    named = name_bounds(table, name)
    return named.period if named is not None else None


def spaced_like_siblings(starts: list[datetime]) -> timedelta:
    """The length of `_HH24MI` children: the closest spacing of their starts, at most an hour (pg_partman's
    sub-daily intervals are an hour, half an hour or a quarter)."""
    ordered = sorted(set(starts))
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False) if b > a]
    return min([*gaps, timedelta(hours=1)])
