"""Discovery against a real PostgreSQL: every partition layout and naming scheme, any schema, odd names."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from pgarchiver_tui.commands.archive.prepare import prepare
from pgarchiver_tui.commands.demo_data import EVENT_COLUMNS, seed_events
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.model import SourceKind
from pgarchiver_tui.core.periods import Period
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.db.connection import connect
from pgarchiver_tui.db.discovery import Discovery, discover
from tests.archive_support import archive_args, archived_files, execute, jsonl_rows, run_cli, sidecar


def discovered(dsn: str, table: str, schema: str = "public", date_column: str | None = None) -> Discovery:
    with connect(dsn, snapshot=False) as conn:
        return discover(conn, schema, table, date_column)


def bounds(found: Discovery) -> dict[str, tuple[SourceKind, Period | None]]:
    return {s.name: (s.kind, s.bounds) for s in found.sources}


def day(d: int, month: int = 1, hour: int = 0, year: int = 2024) -> datetime:
    return datetime(year, month, d, hour)


# -- native declarative partitions --------------------------------------------------------------------------------

def test_native_daily_partitions_with_catalog_bounds_and_the_default(seeded_events: str) -> None:
    found = discovered(seeded_events, "events")
    assert found.layout == "native"
    expected = {f"events_202401{d:02d}": (SourceKind.NATIVE, Period(day(d), day(d + 1))) for d in range(1, 6)}
    expected["events_default"] = (SourceKind.DEFAULT, None)
    assert bounds(found) == expected
    assert [(c.name, c.type) for c in found.columns] == list(EVENT_COLUMNS)
    assert all(s.estimated_rows == 300 for s in found.partitions)  # reltuples after ANALYZE


def test_timestamptz_bounds_in_other_offsets_are_read_as_utc(pg_dsn: str) -> None:
    execute(pg_dsn,
            "CREATE TABLE t (at timestamptz NOT NULL) PARTITION BY RANGE (at)",
            "CREATE TABLE t_a PARTITION OF t FOR VALUES FROM ('2024-01-01 00:00+02') TO ('2024-01-02 00:00+02')",
            "CREATE TABLE t_b PARTITION OF t FOR VALUES FROM ('2024-01-02 00:00+02') TO (MAXVALUE)")
    assert bounds(discovered(pg_dsn, "t")) == {
        "t_a": (SourceKind.NATIVE, Period(datetime(2023, 12, 31, 22), datetime(2024, 1, 1, 22))),
        "t_b": (SourceKind.NATIVE, Period(datetime(2024, 1, 1, 22), datetime.max)),
    }


SUBPARTITIONED = (
    "CREATE TABLE m (id int, at timestamp(3) NOT NULL, kind text) PARTITION BY RANGE (at)",
    # range → range: a sub-partition may reach outside its parent; only the intersection holds rows
    "CREATE TABLE m_jan PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2024-02-01') PARTITION BY RANGE (at)",
    "CREATE TABLE m_jan_a PARTITION OF m_jan FOR VALUES FROM ('2023-12-25') TO ('2024-01-16')",
    "CREATE TABLE m_jan_b PARTITION OF m_jan FOR VALUES FROM ('2024-01-16') TO ('2024-02-01')",
    # range → list, with a default at the second level
    "CREATE TABLE m_feb PARTITION OF m FOR VALUES FROM ('2024-02-01') TO ('2024-03-01') PARTITION BY LIST (kind)",
    "CREATE TABLE m_feb_x PARTITION OF m_feb FOR VALUES IN ('x')",
    "CREATE TABLE m_feb_other PARTITION OF m_feb DEFAULT",
    # range → range on another key: leaves keep the date bounds of their parent
    "CREATE TABLE m_mar PARTITION OF m FOR VALUES FROM ('2024-03-01') TO ('2024-04-01') PARTITION BY RANGE (id)",
    "CREATE TABLE m_mar_low PARTITION OF m_mar FOR VALUES FROM (MINVALUE) TO (1000)",
    "CREATE TABLE m_mar_high PARTITION OF m_mar FOR VALUES FROM (1000) TO (MAXVALUE)",
    "CREATE TABLE m_default PARTITION OF m DEFAULT",
    "INSERT INTO m SELECT g, '2024-01-01'::timestamp + (g - 1) * interval '1 hour', "
    "CASE WHEN g % 2 = 0 THEN 'x' ELSE 'y' END FROM generate_series(1, 24 * 91) g",
)


def test_leaves_of_subpartitioned_children_with_bounds_intersected(pg_dsn: str) -> None:
    execute(pg_dsn, *SUBPARTITIONED)
    jan, feb, mar = Period(day(1), day(1, 2)), Period(day(1, 2), day(1, 3)), Period(day(1, 3), day(1, 4))
    assert bounds(discovered(pg_dsn, "m")) == {
        "m_jan_a": (SourceKind.NATIVE, Period(day(1), day(16))),
        "m_jan_b": (SourceKind.NATIVE, Period(day(16), jan.end)),
        "m_feb_x": (SourceKind.NATIVE, feb),
        "m_feb_other": (SourceKind.NATIVE, feb),
        "m_mar_low": (SourceKind.NATIVE, mar),
        "m_mar_high": (SourceKind.NATIVE, mar),
        "m_default": (SourceKind.DEFAULT, None),
    }


def test_subpartitioned_leaves_are_archived_into_their_month(pg_dsn: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    execute(pg_dsn, *SUBPARTITIONED)
    run = run_cli(capsys, *archive_args(pg_dsn, "m", "2024-01-01", "2024-03-31", output_duration="monthly",
                                        local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    assert [(o["sources"], o["rows"]) for o in run.objects()] == [
        (["public.m_jan_a", "public.m_jan_b"], 24 * 31),
        (["public.m_feb_other", "public.m_feb_x"], 24 * 29),
        (["public.m_mar_high", "public.m_mar_low"], 24 * 31),
    ]
    rows = jsonl_rows(tmp_path / "a")
    assert sorted(r["id"] for r in rows) == list(range(1, 24 * 91 + 1))


# -- rows outside any dated partition ----------------------------------------------------------------------------

def test_default_partition_rows_are_reported_and_archived_only_by_date(seeded_events: str, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    execute(seeded_events, "INSERT INTO events (id, created_at, note) VALUES (-7, '2024-01-07 12:00+00', 'late')")
    without = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-07",
                                            local_dir=tmp_path / "a"))
    assert without.code == 0, without.err
    [notice] = [n for n in without.report["notices"] if "events_default" in n]
    assert "NOT archived" in notice and "--date-column" in notice
    assert "events_default" in without.err
    assert without.report["summary"]["rows"] == 1500
    assert -7 not in {r["id"] for r in jsonl_rows(tmp_path / "a")}

    with_column = run_cli(capsys, *archive_args(seeded_events, "events", "2024-01-01", "2024-01-07",
                                                local_dir=tmp_path / "b", date_column="created_at"))
    assert with_column.code == 0, with_column.err
    assert [o["outcome"] for o in with_column.objects()] == ["archived"] * 5 + ["skipped", "archived"]
    assert with_column.objects()[5]["reason"] == "no rows in this window"
    last = with_column.objects()[6]
    assert last["sources"] == ["public.events_default"] and last["rows"] == 1
    assert with_column.report["summary"]["rows"] == 1501
    assert not any("NOT archived" in n for n in with_column.report["notices"])


# -- legacy date-named tables ------------------------------------------------------------------------------------

LEGACY = ["events_20240101", "events_p20240102", "events_2024_01_03", "events_2024_02"]
DECOYS = ["events_archive_p20240101", "events_archive_20240101", "eventsx20240104", "events_2024013",
          "events_20241399", "events_20240104_old", "Events_20240105", "other_20240101"]


def make_legacy(dsn: str, with_parent: bool) -> None:
    columns = "(id int, at timestamptz NOT NULL, msg text)"
    statements = []
    if with_parent:
        statements.append(f"CREATE TABLE events {columns}")
    for name in LEGACY + DECOYS:
        ddl = f'CREATE TABLE "{name}" () INHERITS (events)' if with_parent and name.startswith("events_") \
            else f'CREATE TABLE "{name}" {columns}'
        statements.append(ddl)
    for n, name in enumerate(LEGACY + DECOYS, start=1):
        at = "2024-02-10" if name == "events_2024_02" else "2024-01-0" + ("3" if "03" in name else "2")
        if name in ("events_20240101",):
            at = "2024-01-01"
        statements.append(f"INSERT INTO \"{name}\" VALUES ({n}, '{at} 06:00+00', '{name}')")
    if with_parent:
        statements.append("INSERT INTO events VALUES (0, '2024-01-02 08:00+00', 'parent')")
    execute(dsn, *statements)


@pytest.mark.parametrize("with_parent", [False, True], ids=["no-parent", "inheritance-parent"])
def test_legacy_names_are_matched_literally(pg_dsn: str, with_parent: bool) -> None:
    make_legacy(pg_dsn, with_parent)
    found = discovered(pg_dsn, "events")
    expected = {
        "events_20240101": (SourceKind.LEGACY, Period(day(1), day(2))),
        "events_p20240102": (SourceKind.LEGACY, Period(day(2), day(3))),
        "events_2024_01_03": (SourceKind.LEGACY, Period(day(3), day(4))),
        "events_2024_02": (SourceKind.LEGACY, Period(day(1, 2), day(1, 3))),
    }
    if with_parent:
        expected["events"] = (SourceKind.DEFAULT, None)  # the parent's own rows
        # children whose names say no date are still the parent's: named, never left out
        expected.update({name: (SourceKind.UNRECOGNISED, None) for name in DECOYS if name.startswith("events_")})
    assert found.layout == "legacy"
    assert bounds(found) == expected
    assert [c.name for c in found.columns] == ["id", "at", "msg"]


@pytest.mark.parametrize("with_parent", [False, True], ids=["no-parent", "inheritance-parent"])
def test_legacy_tables_are_archived_and_the_parents_rows_reported(
        pg_dsn: str, with_parent: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_legacy(pg_dsn, with_parent)
    run = run_cli(capsys, *archive_args(pg_dsn, "events", "2024-01-01", "2024-02-29",
                                        output_duration="monthly", local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    assert [(o["sources"], o["rows"]) for o in run.objects()] == [
        (["public.events_20240101", "public.events_2024_01_03", "public.events_p20240102"], 3),
        (["public.events_2024_02"], 1)]
    assert sorted(r["msg"] for r in jsonl_rows(tmp_path / "a")) == sorted(LEGACY)  # no decoy, no parent row
    assert any(n.startswith("public.events (the parent table itself): 1 row (all its rows") and "NOT archived" in n
               for n in run.report["notices"]) == with_parent
    accounting = run.report["accounting"]
    assert accounting["archived"] == 4
    assert accounting["not_archived"] == (6 if with_parent else 0)  # the parent's row, the inheriting decoys'
    assert accounting["rows_in_range"] == accounting["archived"] + accounting["not_archived"]

    if with_parent:
        dated = run_cli(capsys, *archive_args(pg_dsn, "events", "2024-01-01", "2024-02-29", date_column="at",
                                              output_duration="monthly", local_dir=tmp_path / "b"))
        assert dated.code == 0, dated.err
        inheriting = [name for name in DECOYS if name.startswith("events_")]
        assert sorted(r["msg"] for r in jsonl_rows(tmp_path / "b")) == sorted([*LEGACY, *inheriting, "parent"])


# -- schemas and names that need quoting -------------------------------------------------------------------------

def test_other_schema_by_flag_or_dotted_name(pg_dsn: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    seed_events(pg_dsn, days=2, rows_per_day=10, schema="sales")
    assert {s.schema for s in discovered(pg_dsn, "events", "sales").sources} == {"sales"}
    for n, how in enumerate((["--table", "sales.events"], ["--schema", "sales", "--table", "events"])):
        args = archive_args(pg_dsn, "x", "2024-01-01", "2024-01-02", local_dir=tmp_path / str(n))[4:]
        run = run_cli(capsys, "--dsn", pg_dsn, *how, *args)
        assert run.code == 0, run.err
        assert sorted(archived_files(tmp_path / str(n))) == [
            "sales/events/2024/01/events-2024-01-01.jsonl.zst", "sales/events/2024/01/events-2024-01-02.jsonl.zst"]


def test_names_that_need_quoting(pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema, table = "My Schema", 'Ev "ents"'
    q_schema, q_table = '"My Schema"', '"Ev ""ents"""'
    execute(pg_dsn,
            f"CREATE SCHEMA {q_schema}",
            f"CREATE TABLE {q_schema}.{q_table} (id int, \"At\" timestamptz NOT NULL) PARTITION BY RANGE (\"At\")",
            f"CREATE TABLE {q_schema}.\"Ev \"\"ents\"\"_20240101\" PARTITION OF {q_schema}.{q_table} "
            "FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2024-01-02 00:00+00')",
            f"CREATE TABLE {q_schema}.events (id int)",  # a lowercase namesake is someone else
            f"INSERT INTO {q_schema}.{q_table} VALUES (1, '2024-01-01 10:00+00'), (2, '2024-01-01 11:00+00')")
    assert bounds(discovered(pg_dsn, table, schema)) == {
        'Ev "ents"_20240101': (SourceKind.NATIVE, Period(day(1), day(2)))}
    for n, extra in enumerate(([], ["--date-column", "At", "--output-format", "csv"])):
        run = run_cli(capsys, "--schema", schema, *archive_args(pg_dsn, table, "2024-01-01", "2024-01-01",
                                                               local_dir=tmp_path / str(n)), *extra)
        assert run.code == 0, run.err
        [(key, path)] = archived_files(tmp_path / str(n)).items()
        assert key.startswith('My Schema/Ev "ents"/2024/01/Ev "ents"-2024-01-01.')
        assert sidecar(path)["rows"] == 2
        assert sidecar(path)["sources"] == ['My Schema.Ev "ents"_20240101']


# -- which partitions a range takes ------------------------------------------------------------------------------

def planned(dsn: str, tmp_path: Path, table: str, start: str, end: str, **settings: object) -> list[list[tuple]]:
    prepared = prepare(Settings(dsn=dsn, table=table, start_date=start, end_date=end, local_dir=str(tmp_path),
                                **settings))  # type: ignore[arg-type]
    if prepared.cache:
        prepared.cache.close()
    return [[(p.source.name, p.window) for p in job.slices] for job in prepared.plan.jobs]


def test_a_partition_belongs_to_the_range_when_its_bounds_overlap_it(pg_dsn: str, tmp_path: Path) -> None:
    statements = ["CREATE TABLE h (at timestamp NOT NULL) PARTITION BY RANGE (at)"]
    for d in (1, 2, 3):
        for half in (0, 12):
            statements.append(f"CREATE TABLE h_{d}_{half} PARTITION OF h FOR VALUES FROM "
                              f"('2024-01-0{d} {half:02d}:00') TO ('2024-01-0{d} {half:02d}:00'::timestamp + "
                              "interval '12 hours')")
    statements += ["CREATE TABLE w (at timestamp NOT NULL) PARTITION BY RANGE (at)",
                   "CREATE TABLE w_52 PARTITION OF w FOR VALUES FROM ('2023-12-25') TO ('2024-01-01')",
                   "CREATE TABLE w_01 PARTITION OF w FOR VALUES FROM ('2024-01-01') TO ('2024-01-08')",
                   "CREATE TABLE w_02 PARTITION OF w FOR VALUES FROM ('2024-01-08') TO ('2024-01-15')"]
    execute(pg_dsn, *statements)
    assert planned(pg_dsn, tmp_path, "h", "2024-01-02", "2024-01-02") == [[("h_2_0", None), ("h_2_12", None)]]
    assert planned(pg_dsn, tmp_path, "w", "2024-01-03", "2024-01-04", date_column="at") == [
        [("w_01", Period(day(3), day(4)))], [("w_01", Period(day(4), day(5)))]]
    assert planned(pg_dsn, tmp_path, "w", "2024-01-01", "2024-01-07", output_duration="weekly") == [
        [("w_01", None)]]
    assert planned(pg_dsn, tmp_path, "w", "2023-12-31", "2024-01-08", output_duration="weekly") == [
        [("w_52", None)], [("w_01", None)], [("w_02", None)]]


# -- plain tables cut into windows -------------------------------------------------------------------------------

@pytest.mark.parametrize("column_type", ["timestamp(0) without time zone", "timestamptz", "date"])
def test_plain_table_is_archived_in_windows_by_its_date_column(
        pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], column_type: str) -> None:
    execute(pg_dsn, f"CREATE TABLE metrics (id int, at {column_type} NOT NULL, v text)",
            "INSERT INTO metrics VALUES (1, '2024-01-01 05:00', 'x')",
            "INSERT INTO metrics SELECT g, '2024-01-03'::date + g * interval '1 minute', 'y' "
            "FROM generate_series(2, 51) g")
    found = discovered(pg_dsn, "metrics", date_column="at")
    assert found.layout == "plain" and bounds(found) == {"metrics": (SourceKind.PLAIN, None)}
    run = run_cli(capsys, *archive_args(pg_dsn, "metrics", "2024-01-01", "2024-01-03", date_column="at",
                                        local_dir=tmp_path / "a"))
    assert run.code == 0, run.err
    assert [(o["outcome"], o["rows"]) for o in run.objects()] == [("archived", 1), ("skipped", 0), ("archived", 50)]
    small = archived_files(tmp_path / "a")["public/metrics/2024/01/metrics-2024-01-01.jsonl.zst"]
    assert small.stat().st_size < 100  # tiny, and kept: it holds a row
    assert "metrics-2024-01-02" not in " ".join(archived_files(tmp_path / "a"))


def test_plain_table_without_date_column_is_refused(pg_dsn: str, tmp_path: Path) -> None:
    execute(pg_dsn, "CREATE TABLE metrics (id int, at date)")
    with pytest.raises(ConfigError, match="--date-column"):
        planned(pg_dsn, tmp_path, "metrics", "2024-01-01", "2024-01-03")


# -- what cannot be discovered -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("schema", "table", "message"), [
    ("nope", "events", "schema 'nope' does not exist"),
    ("public", "nope", "table public.nope does not exist"),
    ("public", "Events", "table public.Events does not exist"),
])
def test_unknown_table_or_schema(seeded_events: str, schema: str, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        discovered(seeded_events, table, schema)
    assert "\n" not in str(caught.value) and "--" in str(caught.value)


@pytest.mark.parametrize(("column", "message"), [("nope", "is not a column"), ("note", "is of type text")])
def test_bad_date_column(seeded_events: str, column: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        discovered(seeded_events, "events", date_column=column)
