"""Planning: sources and a requested range → one job per whole output period. Pure logic, no server."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgarchiver_tui.commands.archive.plan import Plan, make_plan
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.model import Source, SourceKind
from pgarchiver_tui.core.periods import Duration, Period, day_range, is_whole_period, periods_covering

TEMPLATE = "{schema}/{table}/{YYYY}/{MM}"
LATER = datetime(2031, 1, 1)  # "now" far after every period: nothing is still open


def partitions(duration: Duration, first: datetime, last: datetime, kind: SourceKind = SourceKind.NATIVE,
               name: str = "events") -> list[Source]:
    """Partitions of `duration` covering [first, last)."""
    return [Source("public", f"{name}_{period.start:%Y%m%d%H}", kind, period, 100)
            for period in periods_covering(Period(first, last), duration)]


def ten_day_partitions(first: datetime, last: datetime) -> list[Source]:
    """Partitions aligned to no calendar period at all."""
    found, start = [], first
    while start < last:
        found.append(Source("public", f"events_{start:%Y%m%d}", SourceKind.NATIVE,
                            Period(start, start + timedelta(days=10)), 100))
        start += timedelta(days=10)
    return found


SPAN = (datetime(2023, 11, 1), datetime(2025, 3, 1))
LAYOUTS = {
    "hourly": lambda: partitions(Duration.HOURLY, datetime(2024, 12, 28), datetime(2025, 1, 3)),
    "daily": lambda: partitions(Duration.DAILY, *SPAN),
    "weekly": lambda: partitions(Duration.WEEKLY, *SPAN),
    "monthly": lambda: partitions(Duration.MONTHLY, *SPAN),
    "yearly": lambda: partitions(Duration.YEARLY, datetime(2023, 1, 1), datetime(2026, 1, 1)),
    "ten-day": lambda: ten_day_partitions(*SPAN),
    "legacy daily + parent": lambda: partitions(Duration.DAILY, *SPAN, kind=SourceKind.LEGACY)
    + [Source("public", "events", SourceKind.DEFAULT, None)],
    "monthly + default": lambda: partitions(Duration.MONTHLY, *SPAN)
    + [Source("public", "events_default", SourceKind.DEFAULT, None)],
    "plain": lambda: [Source("public", "events", SourceKind.PLAIN, None, 5000)],
}


def plan(sources: list[Source], first: date, last: date, duration: Duration, date_column: str | None = "at",
         now: datetime = LATER, include_current: bool = False) -> Plan:
    return make_plan("public", "events", sources, day_range(first, last), duration, TEMPLATE, "jsonl.zst",
                     date_column, now, include_current)


def check_plan(result: Plan, sources: list[Source]) -> None:
    """The invariants every plan keeps, whatever the layout and duration."""
    keys = [job.key for job in result.jobs]
    assert len(keys) == len(set(keys)), "two jobs share a key"
    assert result.widened.start <= result.requested.start and result.requested.end <= result.widened.end
    covered: dict[Source, list[Period]] = defaultdict(list)
    for job in result.jobs:
        assert is_whole_period(job.period, job.duration)
        assert result.widened.start <= job.period.start and job.period.end <= result.widened.end
        for part in job.slices:
            if part.window is None:
                assert part.source.bounds is not None and job.period.contains(part.source.bounds)
                covered[part.source].append(part.source.bounds)
            else:
                assert part.window.start >= result.widened.start, "a window starts before the widened start"
                assert job.period.contains(part.window)
                bounds = part.source.bounds or Period(datetime.min, datetime.max)
                covered[part.source].append(part.window.intersect(bounds))
    for source in sources:
        pieces = sorted(covered.get(source, []))
        for before, after in zip(pieces, pieces[1:], strict=False):
            assert before.end <= after.start, f"rows of {source.name} would go into two objects"
        wanted = (source.bounds or result.widened).intersect(result.widened)
        total = sum(((p.end - p.start) for p in pieces), timedelta())
        assert total == ((wanted.end - wanted.start) if wanted else timedelta()), source.name


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("duration", list(Duration))
def test_no_two_jobs_share_a_key_and_every_row_goes_into_one_object(layout: str, duration: Duration) -> None:
    sources = LAYOUTS[layout]()
    ranges = [(date(2024, 1, 1), date(2024, 1, 31)), (date(2024, 12, 29), date(2025, 1, 2)),
              (date(2024, 2, 27), date(2024, 3, 2))]
    if duration is not Duration.HOURLY:
        ranges.append((date(2023, 12, 15), date(2025, 1, 20)))
    for first, last in ranges:
        check_plan(plan(sources, first, last, duration), sources)


@settings(max_examples=150, deadline=None)
@given(layout=st.sampled_from(list(LAYOUTS)), duration=st.sampled_from([d for d in Duration if d != "hourly"]),
       first=st.dates(date(2023, 12, 1), date(2025, 1, 31)), days=st.integers(0, 70))
def test_invariants_hold_for_any_range(layout: str, duration: Duration, first: date, days: int) -> None:
    sources = LAYOUTS[layout]()
    check_plan(plan(sources, first, first + timedelta(days=days), duration), sources)


@pytest.mark.parametrize(("duration", "objects", "per_object"), [
    (Duration.WEEKLY, 5, {7}), (Duration.MONTHLY, 1, {31}), (Duration.YEARLY, 1, {35}),  # the whole year: every partition there is
])
def test_daily_partitions_are_grouped_into_longer_periods(duration: Duration, objects: int,
                                                          per_object: set[int]) -> None:
    # Jan 2024 begins on a Monday: weeks W01..W05, the last reaching into February
    sources = partitions(Duration.DAILY, datetime(2024, 1, 1), datetime(2024, 2, 5))
    result = plan(sources, date(2024, 1, 1), date(2024, 1, 31), duration)
    assert len(result.jobs) == objects
    assert {len(job.slices) for job in result.jobs} == per_object
    assert all(part.window is None for job in result.jobs for part in job.slices)
    if duration is Duration.WEEKLY:
        assert [job.key.rsplit("/", 1)[1] for job in result.jobs] == [
            f"events-2024-W0{n}.jsonl.zst" for n in range(1, 6)]
        assert result.jobs[-1].period.end == datetime(2024, 2, 5)  # W05 taken whole
    if duration is Duration.YEARLY:
        assert result.jobs[0].key.endswith("/events-2024.jsonl.zst")


def test_monthly_partitions_are_split_into_daily_windows_by_the_date_column() -> None:
    sources = partitions(Duration.MONTHLY, datetime(2024, 1, 1), datetime(2024, 4, 1))
    result = plan(sources, date(2024, 1, 30), date(2024, 2, 2), Duration.DAILY, date_column="created_at")
    assert [job.period.start.day for job in result.jobs] == [30, 31, 1, 2]
    assert [job.slices[0].source.name for job in result.jobs] == ["events_2024010100"] * 2 + ["events_2024020100"] * 2
    for job in result.jobs:
        assert job.date_column == "created_at"
        assert [part.window for part in job.slices] == [job.period]
        assert not job.skip_if_empty  # a window of a partition: an empty object still proves it is empty


def test_weekly_slices_of_monthly_partitions_share_one_object_at_month_ends() -> None:
    sources = partitions(Duration.MONTHLY, datetime(2024, 1, 1), datetime(2024, 3, 1))
    result = plan(sources, date(2024, 1, 29), date(2024, 2, 4), Duration.WEEKLY)
    [job] = result.jobs  # 2024-W05: Jan 29 .. Feb 4
    assert [part.source.name for part in job.slices] == ["events_2024010100", "events_2024020100"]
    assert all(part.window == job.period for part in job.slices)


def test_splitting_without_a_date_column_is_a_clear_error() -> None:
    sources = partitions(Duration.MONTHLY, datetime(2024, 1, 1), datetime(2024, 3, 1))
    with pytest.raises(ConfigError, match=r"--date-column.*--output-duration") as caught:
        plan(sources, date(2024, 1, 1), date(2024, 1, 31), Duration.DAILY, date_column=None)
    assert "public.events_2024010100" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unbounded_sources_without_a_date_column_are_left_to_the_caller() -> None:
    sources = partitions(Duration.DAILY, datetime(2024, 1, 1), datetime(2024, 1, 3)) + [
        Source("public", "events_default", SourceKind.DEFAULT, None)]
    result = plan(sources, date(2024, 1, 1), date(2024, 1, 2), Duration.DAILY, date_column=None)
    assert all(part.source.kind is SourceKind.NATIVE for job in result.jobs for part in job.slices)


def test_plain_table_is_cut_into_windows_skipped_when_empty() -> None:
    sources = [Source("public", "events", SourceKind.PLAIN, None)]
    result = plan(sources, date(2024, 1, 1), date(2024, 3, 31), Duration.MONTHLY)
    assert [job.period.start.month for job in result.jobs] == [1, 2, 3]
    assert all(job.skip_if_empty for job in result.jobs)


def test_widening_is_said_once_and_names_both_ranges() -> None:
    sources = partitions(Duration.DAILY, datetime(2024, 1, 1), datetime(2024, 3, 1))
    result = plan(sources, date(2024, 1, 10), date(2024, 1, 20), Duration.MONTHLY)
    assert result.widened == Period(datetime(2024, 1, 1), datetime(2024, 2, 1))
    [note] = [n for n in result.notes if "widened" in n]
    assert "[2024-01-10, 2024-01-21)" in note and "[2024-01-01, 2024-02-01)" in note
    assert len(result.jobs[0].slices) == 31  # the whole month, not just the requested days
    exact = plan(sources, date(2024, 1, 1), date(2024, 1, 31), Duration.MONTHLY)
    assert exact.widened == exact.requested and not any("widened" in n for n in exact.notes)


def test_the_current_open_period_is_left_alone_unless_asked() -> None:
    sources = partitions(Duration.DAILY, datetime(2024, 1, 1), datetime(2024, 3, 1))
    now = datetime(2024, 2, 14, 9, 30)
    result = plan(sources, date(2024, 1, 1), date(2024, 2, 29), Duration.MONTHLY, now=now)
    assert [job.period.start.month for job in result.jobs] == [1]
    assert any("2024-02" in n and "--include-current" in n for n in result.notes)
    daily = plan(sources, date(2024, 2, 13), date(2024, 2, 14), Duration.DAILY, now=now)
    assert [job.period.start.day for job in daily.jobs] == [13]
    forced = plan(sources, date(2024, 1, 1), date(2024, 2, 29), Duration.MONTHLY, now=now, include_current=True)
    assert [job.period.start.month for job in forced.jobs] == [1, 2]


def test_partitions_outside_the_widened_range_are_not_planned() -> None:
    sources = partitions(Duration.DAILY, datetime(2023, 12, 1), datetime(2024, 3, 1))
    result = plan(sources, date(2024, 1, 8), date(2024, 1, 14), Duration.WEEKLY)
    [job] = result.jobs
    assert [part.source.bounds.start.day for part in job.slices] == list(range(8, 15))


def test_a_default_partition_is_windowed_beside_the_partitions() -> None:
    sources = partitions(Duration.DAILY, datetime(2024, 1, 1), datetime(2024, 1, 3)) + [
        Source("public", "events_default", SourceKind.DEFAULT, None)]
    result = plan(sources, date(2024, 1, 1), date(2024, 1, 4), Duration.DAILY, date_column="created_at")
    assert [len(job.slices) for job in result.jobs] == [2, 2, 1, 1]
    assert [job.skip_if_empty for job in result.jobs] == [False, False, True, True]
    assert result.jobs[0].slices[1].window == result.jobs[0].period


def test_a_range_without_partitions_says_so() -> None:
    sources = partitions(Duration.DAILY, datetime(2024, 1, 1), datetime(2024, 1, 3))
    result = plan(sources, date(2023, 1, 1), date(2023, 1, 3), Duration.DAILY)
    assert result.jobs == []
    assert result.notes == ["nothing to archive: no partition of public.events overlaps [2023-01-01, 2023-01-04)"]
