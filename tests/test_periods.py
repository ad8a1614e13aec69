"""Calendar math, period labels, object keys and path templates: pure logic, no server."""

from __future__ import annotations

import posixpath
from datetime import date, datetime

import pytest

from pgarchiver_tui.core.periods import (
    Duration,
    Period,
    TemplateError,
    check_template,
    day_range,
    is_whole_period,
    object_key,
    periods_covering,
    safe_segment,
)
from pgarchiver_tui.storage.local import LocalStorage


def dt(*parts: int) -> datetime:
    return datetime(*parts)  # type: ignore[arg-type]


# -- floor / next / label for every duration --------------------------------------------------------------------

@pytest.mark.parametrize(("duration", "moment", "start", "end", "label"), [
    (Duration.HOURLY, dt(2024, 3, 5, 7, 59, 59), dt(2024, 3, 5, 7), dt(2024, 3, 5, 8), "2024-03-05-07"),
    (Duration.HOURLY, dt(2024, 12, 31, 23, 30), dt(2024, 12, 31, 23), dt(2025, 1, 1), "2024-12-31-23"),
    (Duration.DAILY, dt(2024, 2, 29, 13), dt(2024, 2, 29), dt(2024, 3, 1), "2024-02-29"),
    (Duration.DAILY, dt(2023, 12, 31, 23, 59), dt(2023, 12, 31), dt(2024, 1, 1), "2023-12-31"),
    (Duration.WEEKLY, dt(2024, 1, 10, 5), dt(2024, 1, 8), dt(2024, 1, 15), "2024-W02"),
    # ISO weeks across years: the week's ISO year, not the calendar year of its Monday
    (Duration.WEEKLY, dt(2025, 1, 1), dt(2024, 12, 30), dt(2025, 1, 6), "2025-W01"),
    (Duration.WEEKLY, dt(2024, 12, 30), dt(2024, 12, 30), dt(2025, 1, 6), "2025-W01"),
    (Duration.WEEKLY, dt(2021, 1, 3, 12), dt(2020, 12, 28), dt(2021, 1, 4), "2020-W53"),
    (Duration.WEEKLY, dt(2027, 1, 1), dt(2026, 12, 28), dt(2027, 1, 4), "2026-W53"),
    (Duration.MONTHLY, dt(2024, 2, 29, 23), dt(2024, 2, 1), dt(2024, 3, 1), "2024-02"),
    (Duration.MONTHLY, dt(2024, 12, 31, 23), dt(2024, 12, 1), dt(2025, 1, 1), "2024-12"),
    (Duration.MONTHLY, dt(2024, 11, 15), dt(2024, 11, 1), dt(2024, 12, 1), "2024-11"),
    (Duration.YEARLY, dt(2024, 7, 4), dt(2024, 1, 1), dt(2025, 1, 1), "2024"),
])
def test_floor_next_and_label(duration: Duration, moment: datetime, start: datetime, end: datetime,
                              label: str) -> None:
    assert duration.floor(moment) == start
    assert duration.next(start) == end
    assert duration.label(start) == label
    assert is_whole_period(Period(start, end), duration)


@pytest.mark.parametrize(("duration", "span"), [
    (Duration.HOURLY, Period(dt(2023, 12, 30, 22), dt(2024, 1, 2, 3))),
    *[(d, Period(dt(2019, 12, 20), dt(2027, 1, 10))) for d in Duration if d is not Duration.HOURLY],
])
def test_periods_tile_the_span_with_unique_labels(duration: Duration, span: Period) -> None:
    periods = list(periods_covering(span, duration))
    assert periods[0].start <= span.start and periods[-1].end >= span.end
    for before, after in zip(periods, periods[1:], strict=False):
        assert before.end == after.start
    assert all(is_whole_period(p, duration) for p in periods)
    labels = [duration.label(p.start) for p in periods]
    assert len(labels) == len(set(labels))


def test_iso_week_labels_are_unique_and_53_week_years_are_named() -> None:
    weeks = list(periods_covering(Period(dt(2015, 1, 1), dt(2030, 1, 1)), Duration.WEEKLY))
    labels = [Duration.WEEKLY.label(w.start) for w in weeks]
    assert len(labels) == len(set(labels))
    assert {"2015-W53", "2020-W53", "2026-W53"} <= set(labels)
    assert "2019-W53" not in labels
    assert all(w.start.weekday() == 0 for w in weeks)


def test_periods_covering_takes_whole_periods_reaching_outside_the_span() -> None:
    span = day_range(date(2024, 1, 10), date(2024, 2, 3))
    assert span == Period(dt(2024, 1, 10), dt(2024, 2, 4))
    months = list(periods_covering(span, Duration.MONTHLY))
    assert months == [Period(dt(2024, 1, 1), dt(2024, 2, 1)), Period(dt(2024, 2, 1), dt(2024, 3, 1))]
    weeks = list(periods_covering(span, Duration.WEEKLY))
    assert weeks[0].start == dt(2024, 1, 8) and weeks[-1].end == dt(2024, 2, 5)
    hours = list(periods_covering(day_range(date(2024, 3, 1), date(2024, 3, 1)), Duration.HOURLY))
    assert len(hours) == 24


def test_period_overlap_intersection_and_text() -> None:
    jan = Period(dt(2024, 1, 1), dt(2024, 2, 1))
    feb = Period(dt(2024, 2, 1), dt(2024, 3, 1))
    assert not jan.overlaps(feb) and jan.intersect(feb) is None
    assert jan.intersect(Period(dt(2024, 1, 15), dt(2024, 2, 15))) == Period(dt(2024, 1, 15), dt(2024, 2, 1))
    assert str(jan) == "[2024-01-01, 2024-02-01)"
    assert str(Period(datetime.min, dt(2024, 1, 1, 6))) == "[-infinity, 2024-01-01 06:00:00)"


# -- keys and templates ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("duration", "start", "name"), [
    (Duration.HOURLY, dt(2024, 1, 2, 3), "events-2024-01-02-03.jsonl.zst"),
    (Duration.DAILY, dt(2024, 1, 2), "events-2024-01-02.jsonl.zst"),
    (Duration.WEEKLY, dt(2024, 12, 30), "events-2025-W01.jsonl.zst"),
    (Duration.MONTHLY, dt(2024, 1, 1), "events-2024-01.jsonl.zst"),
    (Duration.YEARLY, dt(2024, 1, 1), "events-2024.jsonl.zst"),
])
def test_object_key_is_template_plus_table_and_period(duration: Duration, start: datetime, name: str) -> None:
    key = object_key("archives/{schema}/{table}/{YYYY}/{MM}/{DD}/{HH}", "sales", "events", start, duration,
                     "jsonl.zst")
    assert key == f"archives/sales/events/{start:%Y/%m/%d/%H}/{name}"


def test_empty_template_and_slashes_around_it() -> None:
    assert object_key("", "public", "t", dt(2024, 1, 1), Duration.DAILY, "csv") == "t-2024-01-01.csv"
    assert object_key("a/{table}/", "public", "t", dt(2024, 1, 1), Duration.DAILY, "csv") == "a/t/t-2024-01-01.csv"


@pytest.mark.parametrize("template", ["{tabel}", "x/{YY}", "{table}/{month}", "{0}", "{}", "{table.name}"])
def test_unknown_placeholder_is_an_error_naming_it(template: str) -> None:
    with pytest.raises(TemplateError, match="placeholder|malformed") as caught:
        check_template(template)
    assert "{table}" in str(caught.value)  # says what is allowed


@pytest.mark.parametrize("template", ["{table", "table}", "/abs/{table}", "a/../{table}", ".."])
def test_malformed_or_escaping_template_is_an_error(template: str) -> None:
    with pytest.raises(TemplateError):
        check_template(template)


@pytest.mark.parametrize("template", ["{schema}/{table}/{YYYY}/{MM}", "", "archives", "x/{DD}-{HH}"])
def test_good_templates_pass(template: str) -> None:
    check_template(template)


UNSAFE_NAMES = ["..", ".", "", "../../etc/passwd", "a/b", "..\\..\\x", "tab\tle", "nul\x00l", "/", "~root",
                "Mixed Case", 'quo"te', "ünï/../cødé"]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_unsafe_names_cannot_escape_the_prefix(name: str, tmp_path) -> None:
    for template in ("archives/{schema}/{table}/{YYYY}", "{table}", "{schema}{table}", ""):
        key = object_key(template, name, name, dt(2024, 1, 1), Duration.DAILY, "jsonl")
        segments = key.split("/")
        assert ".." not in segments and "." not in segments and "" not in segments, key
        assert not key.startswith("/")
        assert posixpath.normpath(key) == key
        assert not any(ch in key for ch in "\x00\t\\")
        if template.startswith("archives/"):
            assert key.startswith("archives/")
            assert len(segments) == 5  # archives / schema / table / YYYY / name: names add no levels
        LocalStorage(tmp_path)._path(key)  # raises when a key escapes the directory


def test_safe_segment_keeps_ordinary_names() -> None:
    assert safe_segment("events") == "events"
    assert safe_segment("Mixed Case") == "Mixed Case"
    assert safe_segment("..") == "_"
