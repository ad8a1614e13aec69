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
        """The start of the period after the one starting at `start`."""
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
    """The requested range as a period: from the start of `start` to the end of `end_inclusive`."""
    return Period(datetime.combine(start, datetime.min.time()),
                  datetime.combine(end_inclusive + timedelta(days=1), datetime.min.time()))


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


class TemplateError(ValueError):
    pass


def check_template(template: str) -> None:
    """Raise TemplateError naming the problem when `template` cannot be expanded safely."""
    try:
        fields = [field for _, field, spec, conv in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise TemplateError(f"path template {template!r} is malformed ({exc}); braces go around placeholders "
                            f"like {{table}}") from None
    for field in fields:
        if field not in PLACEHOLDERS:
            known = " ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise TemplateError(f"path template {template!r} has unknown placeholder {{{field}}}; use {known}")
    if template.startswith("/") or any(part == ".." for part in template.split("/")):
        raise TemplateError(f"path template {template!r} must be relative and must not contain '..'")
    if "_meta" in template.split("/"):
        raise TemplateError(f"path template {template!r} uses the folder name _meta, which holds the objects' facts; "
                            "choose another")


def safe_segment(name: str) -> str:
    """A database identifier made safe for use inside an object key: it can never climb out of the prefix."""
    cleaned = _UNSAFE_SEGMENT.sub("_", name).replace("/", "_")
    return "_" if cleaned in ("", ".", "..") else cleaned


def object_key(template: str, schema: str, table: str, period_start: datetime, duration: Duration,
               extension: str) -> str:
    """Expanded template + '/' + '{table}-{period}.{extension}'."""
    safe_table = safe_segment(table)
    prefix = template.format(
        table=safe_table, schema=safe_segment(schema), YYYY=f"{period_start.year:04d}",
        MM=f"{period_start.month:02d}", DD=f"{period_start.day:02d}", HH=f"{period_start.hour:02d}",
    ).strip("/")
    name = f"{safe_table}-{duration.label(period_start)}.{extension}"
    return f"{prefix}/{name}" if prefix else name
