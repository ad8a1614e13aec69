"""Calendar math: output durations, whole periods, object keys and path templates.

All times are naive datetimes meaning UTC: the engine sets every session's time zone to UTC, so the bounds
it reads from the catalog and the literals it writes into queries agree.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum


class Duration(str, Enum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"

    def floor(self, moment: datetime) -> datetime:
        """The start of the period that holds `moment`."""
        if self is Duration.HOURLY:
            return moment.replace(minute=0, second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self is Duration.DAILY:
            return day
        if self is Duration.WEEKLY:  # ISO weeks start on Monday
            return day - timedelta(days=day.weekday())
        if self is Duration.MONTHLY:
            return day.replace(day=1)
        return day.replace(month=1, day=1)

    def next(self, start: datetime) -> datetime:
        """The start of the period after the one starting at `start`; datetime.max past the year 9999."""
        try:
            return self._next(start)
        except (OverflowError, ValueError):  # the year 10000 is not a datetime: the period ends at the end of time
            return datetime.max

    def _next(self, start: datetime) -> datetime:
        if self is Duration.HOURLY:
            return start + timedelta(hours=1)
        if self is Duration.DAILY:
            return start + timedelta(days=1)
        if self is Duration.WEEKLY:
            return start + timedelta(days=7)
        if self is Duration.MONTHLY:
            return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return start.replace(year=start.year + 1)

    def label(self, start: datetime) -> str:
        """The period's name inside an object key."""
        if self is Duration.HOURLY:
            return start.strftime("%Y-%m-%d-%H")
        if self is Duration.DAILY:
            return start.strftime("%Y-%m-%d")
        if self is Duration.WEEKLY:
            year, week, _ = start.isocalendar()
            return f"{year:04d}-W{week:02d}"
        if self is Duration.MONTHLY:
            return start.strftime("%Y-%m")
        return start.strftime("%Y")


@dataclass(frozen=True, order=True)
class Period:
    """A half-open time interval [start, end)."""

    start: datetime
    end: datetime

    def overlaps(self, other: Period) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end

    def intersect(self, other: Period) -> Period | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Period(start, end) if start < end else None

    def __str__(self) -> str:
        return f"[{_fmt(self.start)}, {_fmt(self.end)})"


def _fmt(moment: datetime) -> str:
    if moment == datetime.min:
        return "-infinity"
    if moment == datetime.max:
        return "infinity"
    if moment.hour == moment.minute == moment.second == moment.microsecond == 0:
        return moment.strftime("%Y-%m-%d")
    return moment.isoformat(sep=" ")


def day_range(start: date, end_inclusive: date) -> Period:
    """The requested range as a period: from the start of `start` to the end of `end_inclusive`
    (datetime.max for 9999-12-31: the year 10000 is not a datetime)."""
    end = datetime.max if end_inclusive == date.max else \
        datetime.combine(end_inclusive + timedelta(days=1), datetime.min.time())
    return Period(datetime.combine(start, datetime.min.time()), end)


def periods_covering(span: Period, duration: Duration) -> Iterator[Period]:
    """Whole periods of `duration` that overlap `span`, in order."""
    start = duration.floor(span.start)
    while start < span.end:
        end = duration.next(start)
        yield Period(start, end)
        start = end


def is_whole_period(span: Period, duration: Duration) -> bool:
    return duration.floor(span.start) == span.start and duration.next(span.start) == span.end


PLACEHOLDERS = ("table", "schema", "YYYY", "MM", "DD", "HH")
_UNSAFE_SEGMENT = re.compile(r"[\x00-\x1f\x7f\\]")
_UNSAFE_KEY = re.compile(r"[\x00-\x1f\x7f\\]")


class TemplateError(ValueError):
    pass


def check_template(template: str) -> None:
    """Raise TemplateError naming the problem when `template` cannot be expanded safely.

    Placeholders only: a format spec or a conversion ({table:>300}, {YYYY:d}, {table!r}) is no template
    syntax here — padding could spell '..' and climb out of the prefix.
    """
    known = " ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"path template {template!r} is malformed ({exc}); braces go around placeholders "
                            f"like {{table}}") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            raise TemplateError(f"path template {template!r} has unknown placeholder {{{field}}}; use {known}")
        if spec or conversion:
            written = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise TemplateError(f"path template {template!r} has {written}: placeholders take no format spec or "
                                f"conversion; write {{{field}}}")
    if _UNSAFE_KEY.search(template):
        raise TemplateError(f"path template {template!r} holds a control character or a backslash")
    if template.startswith("/") or any(part in ("..", ".") for part in template.split("/")):
        raise TemplateError(f"path template {template!r} must be relative and must not contain '.' or '..' "
                            "segments")
    if "_meta" in template.split("/"):
        raise TemplateError(f"path template {template!r} uses the folder name _meta, which holds the objects' facts; "
                            "choose another")
    if "//" in template.strip("/"):
        raise TemplateError(f"path template {template!r} has an empty segment ('//')")


def check_key(key: str) -> str:
    """`key` when it is safe on every store: relative, no '.', '..' or empty segment, no control character.

    Raises TemplateError otherwise. Every object key passes here, whatever the destination.
    """
    segments = key.split("/")
    if not key or key.startswith("/") or _UNSAFE_KEY.search(key) or \
            any(segment in ("", ".", "..") for segment in segments):
        raise TemplateError(f"object key {key!r} would escape the path template's prefix or is malformed; "
                            "check --path-template")
    return key


def safe_segment(name: str) -> str:
    """A database identifier made safe for use inside an object key: it can never climb out of the prefix."""
    cleaned = _UNSAFE_SEGMENT.sub("_", name).replace("/", "_")
    return "_" if cleaned in ("", ".", "..") else cleaned


def object_key(template: str, schema: str, table: str, period_start: datetime, duration: Duration,
               extension: str) -> str:
    """Expanded template + '/' + '{table}-{period}.{extension}', checked by check_key."""
    check_template(template)
    safe_table = safe_segment(table)
    prefix = template.format(
        table=safe_table, schema=safe_segment(schema), YYYY=f"{period_start.year:04d}",
        MM=f"{period_start.month:02d}", DD=f"{period_start.day:02d}", HH=f"{period_start.hour:02d}",
    ).strip("/")
    name = f"{safe_table}-{duration.label(period_start)}.{extension}"
    return check_key(f"{prefix}/{name}" if prefix else name)
