"""A corpus of layouts real tools make: archive, verify --deep, restore, the same rows back, every row accounted.

For each layout: rows in the range (counted here, by the test's own SQL) = rows archived + rows reported not
archived, each reason with its count; `verify --deep` proves every object against the live rows; a restore into
a range-partitioned copy (which refuses any row outside an object's period) gives back exactly the archived rows
(`EXCEPT ALL` both ways empty).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.archive_support import archive_args, execute, flags, query, run_cli
from tests.layouts import LAYOUTS, Layout, count
from tests.readback_support import command


def in_range(layout: Layout, accounting: dict) -> str:
    """The test's own statement of the range's rows: dated within the (widened) range, or not dated at all."""
    column = layout.date
    return (f"({column} IS NULL OR ({column} >= '{accounting['range_start']}+00' AND "
            f"{column} < '{accounting['range_end']}+00'))")


def check_accounting(dsn: str, layout: Layout, report: dict, err: str) -> str:
    """Rows in range = archived + reported, per object and per reason; returns the archived rows' predicate."""
    accounting = report["accounting"]
    scope = in_range(layout, accounting)
    archived = f"{scope} AND NOT ({layout.not_archived})"
    assert accounting["rows_in_range"] == count(dsn, layout.table, scope)
    assert accounting["archived"] + accounting["not_archived"] == accounting["rows_in_range"]
    assert accounting["archived"] == count(dsn, layout.table, archived)
    assert accounting["archived"] == sum(o["rows"] for o in accounting["objects"])
    assert {o["key"]: o["rows"] for o in accounting["objects"]} == {
        o["key"]: o["rows"] for o in report["objects"] if o["outcome"] == "archived"}
    reasons: Counter[str] = Counter()
    for item in accounting["not_archived_rows"]:
        reasons[item["reason"]] += item["rows"]
        assert item["message"] in err, "a warning line for every row not archived"
    assert dict(reasons) == layout.reasons
    return archived


@pytest.mark.parametrize("layout", LAYOUTS, ids=[layout.name for layout in LAYOUTS])
def test_layout_round_trip_with_every_row_accounted(pg_dsn: str, tmp_path: Path, layout: Layout,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    layout.build(pg_dsn)
    where = flags(local_dir=tmp_path / "archive", cache_dir=tmp_path / "cache")
    dated = flags(date_column=layout.options.get("date_column"),
                  output_duration=layout.options.get("output_duration"))

    run = run_cli(capsys, *archive_args(pg_dsn, layout.table, layout.start, layout.end, **layout.options), *where)
    assert run.code == 0, run.err
    assert run.objects("archived"), "something was archived"
    archived = check_accounting(pg_dsn, layout, run.report, run.err)
    assert "rows in public." in run.err and "archived now" in run.err  # the summary line

    verify = command(capsys, "verify", "--dsn", pg_dsn, "--table", layout.table, "--start-date", layout.start,
                     "--end-date", layout.end, "--deep", *dated, *where)
    assert verify.code == 0, verify.err
    checks = [c for c in verify.report["objects"] if c["kind"] == "object"]
    assert len(checks) == len(run.objects("archived"))
    assert all(c["ok"] and c["live_rows"] == c["rows"] for c in checks), checks

    execute(pg_dsn, f"CREATE TABLE restored (LIKE {layout.table}) PARTITION BY RANGE ({layout.date})")
    restore = command(capsys, "restore", "--dsn", pg_dsn, "--table", layout.table, "--target-table", "restored",
                      *where)
    assert restore.code == 0, restore.err
    assert {o["outcome"] for o in restore.report["objects"]} == {"restored"}
    left = f"SELECT row(t.*)::text FROM {layout.table} t WHERE {archived}"
    right = "SELECT row(r.*)::text FROM restored r"
    assert query(pg_dsn, f"({left} EXCEPT ALL {right}) UNION ALL ({right} EXCEPT ALL {left})") == []

    rerun = run_cli(capsys, *archive_args(pg_dsn, layout.table, layout.start, layout.end, **layout.options), *where)
    assert rerun.code == 0, rerun.err
    assert not rerun.objects("archived")
    again = rerun.report["accounting"]
    assert again["archived_before"] == run.report["accounting"]["archived"]
    assert again["rows_in_range"] == run.report["accounting"]["rows_in_range"]
