"""From discovered sources and a requested range to Jobs: one object per whole output period."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.model import Job, Slice, Source
from pgarchiver_tui.core.periods import Duration, Period, object_key, periods_covering


@dataclass
class Plan:
    jobs: list[Job]
    requested: Period
    widened: Period
    notes: list[str] = field(default_factory=list)  # said once at the start of the run
    open_periods: int = 0  # periods left alone because they are still open
    left_open: list[Job] = field(default_factory=list)  # their would-be jobs: the rows they hold are reported

    @property
    def covers_nothing(self) -> bool:
        """No source overlaps the range at all: a mistake in the range or the table, not a success."""
        return not self.jobs and not self.open_periods


def make_plan(schema: str, table: str, sources: list[Source], requested: Period, duration: Duration,
              template: str, extension: str, date_column: str | None, now: datetime,
              include_current: bool = False) -> Plan:
    """Assign every source (or window of one) to the whole output period it belongs to.

    One object holds one whole period: a period reaching outside the requested range is taken whole (the
    range is widened), a partition longer than a period is split by `date_column`, and partitions shorter than
    a period are grouped into it. Keys are derived from the period alone, so no two jobs share one.
    """
    widened = Period(duration.floor(requested.start), _end_of_period(duration, requested.end))
    slices: dict[Period, list[Slice]] = defaultdict(list)
    notes: list[str] = []
    if widened != requested:
        notes.append(f"range widened from {requested} to {widened} so that every {duration.value} object "
                     "holds a whole period")
    for source in sources:
        if source.bounds is None:
            if date_column is None:
                continue  # reported by the caller, who knows whether it holds rows
            for period in _periods(widened, duration, f"windows of {source.qualified}"):
                slices[period].append(Slice(source, period))
            continue
        if not source.bounds.overlaps(widened):
            continue
        home = duration.floor(source.bounds.start)
        if source.bounds.end <= duration.next(home):
            period = Period(home, duration.next(home))
            # bounds only a name states are read by date when a date column can tell
            slices[period].append(Slice(source, None if source.read_whole(period, date_column) else period))
            continue
        if date_column is None:
            raise ConfigError(
                f"partition {source.qualified} {source.bounds} spans several {duration.value} periods; give "
                f"--date-column to split it, or choose a longer --output-duration")
        overlap = source.bounds.intersect(widened)
        for period in _periods(overlap, duration, f"{source.qualified} split by --date-column") if overlap else ():
            slices[period].append(Slice(source, period))
    jobs = []
    left_open = []
    for period in sorted(slices):
        parts = tuple(slices[period])
        job = Job(
            schema=schema, table=table, period=period, duration=duration,
            key=object_key(template, schema, table, period.start, duration, extension), slices=parts,
            date_column=date_column,
            skip_if_empty=all(part.window is not None and part.source.bounds is None for part in parts),
        )
        if period.end > now and not include_current:
            left_open.append(job)
            notes.append(f"left alone: {duration.label(period.start)} is still open "
                         "(give --include-current to archive it anyway)")
            continue
        jobs.append(job)
    open_periods = len(left_open)
    if not slices:  # say why a run does nothing, rather than finish silently with "0 objects"
        notes.append(f"nothing to archive: no partition of {schema}.{table} overlaps {widened}")
    return Plan(jobs, requested, widened, notes, open_periods, left_open)


MAX_PERIODS = 100_000  # objects one source may be cut into in one run


def _end_of_period(duration: Duration, moment: datetime) -> datetime:
    """The end of the period holding the last instant before `moment` (an exclusive end)."""
    if moment == datetime.max:
        return moment
    last = duration.floor(moment)
    return last if last == moment else duration.next(last)


def _periods(span: Period, duration: Duration, what: str) -> list[Period]:
    """The periods covering `span`, refused beyond MAX_PERIODS: a range of centuries cut into hours would
    otherwise plan for minutes and hold millions of jobs."""
    found = []
    for period in periods_covering(span, duration):
        found.append(period)
        if len(found) > MAX_PERIODS:
            raise ConfigError(f"{what} would make more than {MAX_PERIODS:,} {duration.value} objects from "
                              f"{span}; narrow --start-date/--end-date or choose a longer --output-duration")
    return found
