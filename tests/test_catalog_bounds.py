"""Bounds from the catalog over names: CHECK constraints, pg_partman's child names, children nothing dates."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pgarchiver_tui.core.model import SourceKind
from pgarchiver_tui.core.periods import Period
from pgarchiver_tui.db.bounds import check_bounds, name_bounds
from pgarchiver_tui.db.connection import connect
from pgarchiver_tui.db.discovery import Discovery, discover
from tests.archive_support import archive_args, execute, jsonl_rows, run_cli
from tests.layouts import trigger_based_set


def discovered(dsn: str, table: str, date_column: str | None = None) -> Discovery:
    with connect(dsn, snapshot=False) as conn:
        return discover(conn, "public", table, date_column)


def span(start: str, end: str) -> Period:
    return Period(datetime.fromisoformat(start), datetime.fromisoformat(end))


# -- what a constraint and a name say (no server) ----------------------------------------------------------------

@pytest.mark.parametrize(("definition", "expected"), [
    ("CHECK (((at >= '2025-10-01 00:00:00+00'::timestamp with time zone) AND "
     "(at < '2025-11-01 00:00:00+00'::timestamp with time zone)))", {"at": span("2025-10-01", "2025-11-01")}),
    ("CHECK (((d >= '2024-01-01'::date) AND (d <= '2024-01-31'::date)))", {"d": span("2024-01-01", "2024-02-01")}),
    ("CHECK (((\"Made At\" > '2024-01-01'::date) AND (\"Made At\" < '2024-01-03'::date)))",
     {"Made At": span("2024-01-02", "2024-01-03")}),
    ("CHECK (((at >= '2024-01-01 00:00:00'::timestamp without time zone) AND "
     "(at < '2024-01-01 01:00:00'::timestamp without time zone))) NOT VALID",
     {"at": span("2024-01-01", "2024-01-01 01:00")}),
    ("CHECK (((at IS NOT NULL) AND (at >= '2024-01-01'::date) AND (at < '2024-02-01'::date) AND "
     "(region = 'eu'::text)))", {"at": span("2024-01-01", "2024-02-01")}),
    ("CHECK (((at >= '2024-01-01'::date) OR (at < '2023-01-01'::date)))", {}),
    ("CHECK ((NOT (at < '2024-01-01'::date)))", {}),
    ("CHECK ((at >= '2024-01-01'::date))", {}),  # no upper bound: no period
    ("CHECK (((id >= 1) AND (id < 100)))", {}),
    ("CHECK (((note >= 'a AND b'::text) AND (note < 'c'::text)))", {}),
])
def test_check_constraints_that_promise_bounds(definition: str, expected: dict[str, Period]) -> None:
    assert check_bounds(definition) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("t_20240131", span("2024-01-31", "2024-02-01")),
    ("t_p20240131", span("2024-01-31", "2024-02-01")),
    ("t_2024_01_31", span("2024-01-31", "2024-02-01")),
    ("t_p2024_01_31", span("2024-01-31", "2024-02-01")),
    ("t_p2024_01", span("2024-01-01", "2024-02-01")),
    ("t_2024_12", span("2024-12-01", "2025-01-01")),
    ("t_p2024", span("2024-01-01", "2025-01-01")),
    ("t_p2025w41", span("2025-10-06", "2025-10-13")),
    ("t_p2024w01", span("2024-01-01", "2024-01-08")),
    ("t_p2024q4", span("2024-10-01", "2025-01-01")),
    ("t_p2024_01_31_2300", span("2024-01-31 23:00", "2024-02-01")),
    ("t_default", None),
])
def test_names_pg_partman_and_this_tool_give(name: str, expected: Period | None) -> None:
    named = name_bounds("t", name)
    assert named is not None and named.period == expected


@pytest.mark.parametrize("name", ["t_2024", "t_p2024w54", "t_p20241301", "t_archive_p20240101", "tx_p2024",
                                  "t_p2024_01_31_25", "t_defaults", "T_p2024"])
def test_names_that_say_nothing(name: str) -> None:
    assert name_bounds("t", name) is None


# -- pg_partman 4's trigger-based sets: inheritance children with CHECK constraints ------------------------------

def fill(dsn: str, table: str, start: str, hours: int, column: str = "at") -> None:
    """One row an hour from `start`, inserted through the parent (the trigger routes them)."""
    execute(dsn, f"INSERT INTO {table} SELECT g, '{start}+00'::timestamptz + (g - 1) * interval '1 hour', "
                 f"'row ' || g FROM generate_series(1, {hours}) g")


PARTMAN_4 = {
    "yearly": {"y_p2023": ("2023-01-01", "2024-01-01"), "y_p2024": ("2024-01-01", "2025-01-01")},
    "quarterly": {"q_p2024q1": ("2024-01-01", "2024-04-01")},
    "monthly": {"m_p2024_01": ("2024-01-01", "2024-02-01"), "m_p2024_02": ("2024-02-01", "2024-03-01")},
    "weekly": {"w_p2025w40": ("2025-09-29", "2025-10-06"), "w_p2025w41": ("2025-10-06", "2025-10-13")},
    "daily": {"d_p2024_01_01": ("2024-01-01", "2024-01-02"), "d_p2024_01_02": ("2024-01-02", "2024-01-03")},
    "hourly": {"h_p2024_01_01_0000": ("2024-01-01 00:00", "2024-01-01 01:00"),
               "h_p2024_01_01_0100": ("2024-01-01 01:00", "2024-01-01 02:00")},
    "half-hourly": {"s_p2024_01_01_0000": ("2024-01-01 00:00", "2024-01-01 00:30"),
                    "s_p2024_01_01_0030": ("2024-01-01 00:30", "2024-01-01 01:00")},
    "partman 5 names": {"f_p20240101": ("2024-01-01", "2024-02-01"), "f_p20240201": ("2024-02-01", "2024-03-01")},
}


@pytest.mark.parametrize("naming", list(PARTMAN_4))
@pytest.mark.parametrize("with_checks", [True, False], ids=["check", "name-only"])
def test_pg_partman_children_are_dated_by_constraint_or_name(pg_dsn: str, naming: str, with_checks: bool) -> None:
    children = PARTMAN_4[naming]
    table = next(iter(children)).split("_p")[0]
    trigger_based_set(pg_dsn, table, children, with_checks, not_null=True)
    found = discovered(pg_dsn, table)
    expected = {name: (SourceKind.LEGACY, span(*bounds)) for name, bounds in children.items()}
    if naming == "partman 5 names" and not with_checks:  # a start only: a name alone says one day
        expected = {name: (SourceKind.LEGACY, span(start, f"{start[:8]}02")) for name, (start, _) in children.items()}
    expected[table] = (SourceKind.DEFAULT, None)
    assert {s.name: (s.kind, s.bounds) for s in found.sources} == expected
    assert [s.checked for s in found.partitions] == [with_checks] * len(children)
    assert found.date_key == ("at" if with_checks else None)
    if naming == "partman 5 names" and with_checks:  # the names give starts only: said once for the set
        [note] = found.notes
        assert note.startswith("2 children's names disagree with their CHECK constraints, e.g. public.f_p20240101: "
                               "its name says [2024-01-01, 2024-01-02) but its CHECK constraint")
    else:
        assert not found.notes


def test_a_name_that_disagrees_with_its_constraint_takes_the_constraints_bounds(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # named like a day, constrained (and filled) like a month: pg_partman 5 names a month's child p20251001
    trigger_based_set(pg_dsn, "t", {"t_p20251001": ("2025-10-01", "2025-11-01")}, not_null=True)
    fill(pg_dsn, "t", "2025-10-01", 31 * 24)
    found = discovered(pg_dsn, "t")
    [child] = found.partitions
    assert child.bounds == span("2025-10-01", "2025-11-01")
    [note] = found.notes
    assert note == ("public.t_p20251001: its name says [2025-10-01, 2025-10-02) but its CHECK constraint "
                    "t_p20251001_partition_check says [2025-10-01, 2025-11-01); the constraint's bounds are used")
    daily = run_cli(capsys, *archive_args(pg_dsn, "t", "2025-10-01", "2025-10-31", local_dir=tmp_path / "d"))
    assert daily.code == 2 and "spans several daily periods" in daily.err  # not archived as one day
    monthly = run_cli(capsys, *archive_args(pg_dsn, "t", "2025-10-01", "2025-10-31", output_duration="monthly",
                                            local_dir=tmp_path / "m"))
    assert monthly.code == 0, monthly.err
    assert [(o["key"], o["rows"]) for o in monthly.objects()] == [("public/t/2025/10/t-2025-10.jsonl.zst", 744)]
    assert note in monthly.report["notices"]
    by_day = run_cli(capsys, *archive_args(pg_dsn, "t", "2025-10-01", "2025-10-31", date_column="at",
                                           local_dir=tmp_path / "byday"))
    assert by_day.code == 0, by_day.err
    assert [o["rows"] for o in by_day.objects()] == [24] * 31


@pytest.mark.parametrize("children", [
    {"t_p2025w40": ("2025-09-29", "2025-10-06"), "t_p2025w41": ("2025-10-06", "2025-10-13")},
    {"t_p2024": ("2024-01-01", "2025-01-01")},
    {"t_weird": ("2024-01-01", "2025-01-01")},
], ids=["weekly", "yearly", "unnamed"])
def test_children_no_name_or_constraint_dates_are_archived_through_the_parent_by_date(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], children: dict) -> None:
    """Before: with --date-column the parent was read alone, 'no rows in this window', every row lost."""
    trigger_based_set(pg_dsn, "t", children, with_checks=False, not_null=True)
    start = min(s for s, _ in children.values())
    fill(pg_dsn, "t", start, 24 * 14)
    if "t_weird" in children:
        [child] = discovered(pg_dsn, "t").unrecognised
        assert child.name == "t_weird"
    run = run_cli(capsys, *archive_args(pg_dsn, "t", start, (datetime.fromisoformat(start) + timedelta(days=13))
                                        .date().isoformat(), date_column="at", output_duration="weekly",
                                        local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    assert run.report["summary"]["rows"] == 24 * 14
    assert sorted(r["id"] for r in jsonl_rows(tmp_path / "a")) == list(range(1, 24 * 14 + 1))


def test_an_unrecognised_child_without_date_column_is_named_in_the_refusal(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trigger_based_set(pg_dsn, "t", {"t_weird": ("2024-01-01", "2025-01-01")}, with_checks=False, not_null=True)
    fill(pg_dsn, "t", "2024-01-01", 5)
    run = run_cli(capsys, *archive_args(pg_dsn, "t", "2024-01-01", "2024-01-31", local_dir=tmp_path))
    assert run.code == 2
    assert "public.t_weird" in run.err and "--date-column" in run.err
