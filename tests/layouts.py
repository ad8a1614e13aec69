"""Partition layouts built the way their tools build them, for the accounting and corpus tests.

Written for these tests: pg_partman-style native sets (5.x names every child `_pYYYYMMDD` by its start, plus a
`_default`), pg_partman 4-style trigger-based inheritance sets (children with `..._partition_check` CHECK
constraints, rows routed by a trigger on the parent, the rest left in the parent), hash and list partitioning,
a plain table, and monthly native partitions named `payment_p2022_01` as public sample databases name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pgarchiver_tui.core.periods import Duration, Period, periods_covering
from tests.archive_support import execute, query

COLUMNS = "id bigint NOT NULL, at timestamptz, region text, amount numeric(10,2), note text"


def rows_through(dsn: str, table: str, first: str, hours: int, step_hours: int = 1, start_id: int = 1) -> None:
    """Rows every `step_hours` from `first` (UTC), inserted through the parent: partitions or a trigger route them.

    Values vary enough for a round trip to mean something: regions, amounts with cents, text with newlines,
    tabs, quotes and non-ASCII.
    """
    execute(dsn, f"""
        INSERT INTO {table} (id, at, region, amount, note)
        SELECT {start_id} + g, ('{first}'::timestamp AT TIME ZONE 'UTC') + g * interval '{step_hours} hours',
               (ARRAY['eu', 'us', 'ap'])[1 + g % 3], (g * 37 % 100000) / 100.0,
               CASE g % 4 WHEN 0 THEN e'line\\none\\ttab "q" \\\\ ü€' WHEN 1 THEN '' WHEN 2 THEN NULL
                          ELSE 'row ' || g END
          FROM generate_series(0, {hours // step_hours - 1}) g""")


def trigger_based_set(dsn: str, table: str, children: dict[str, tuple[str, str]], with_checks: bool = True,
                      column: str = "at", not_null: bool = False) -> None:
    """A parent, children `{name: (from, to)}` made like pg_partman 4 makes them, and its routing trigger.

    Rows the trigger has no child for stay in the parent, as pg_partman 4's do.
    """
    columns = COLUMNS.replace("at timestamptz", "at timestamptz NOT NULL") if not_null else COLUMNS
    statements = [f"CREATE TABLE {table} ({columns})"]
    routes = []
    for name, (start, end) in children.items():
        statements.append(f"CREATE TABLE {name} (LIKE {table} INCLUDING ALL)")
        if with_checks:
            statements.append(f"ALTER TABLE {name} ADD CONSTRAINT {name}_partition_check CHECK "
                              f"({column} >= '{start}+00' AND {column} < '{end}+00')")
        statements.append(f"ALTER TABLE {name} INHERIT {table}")
        routes.append(f"IF NEW.{column} >= '{start}+00' AND NEW.{column} < '{end}+00' THEN "
                      f"INSERT INTO {name} VALUES (NEW.*); RETURN NULL; END IF;")
    statements.append(f"CREATE FUNCTION {table}_route() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                      + " ".join(routes) + " RETURN NEW; END $$")
    statements.append(f"CREATE TRIGGER {table}_route BEFORE INSERT ON {table} FOR EACH ROW "
                      f"EXECUTE FUNCTION {table}_route()")
    execute(dsn, *statements)


def native_set(dsn: str, table: str, first: date, last: date, duration: Duration, default: bool = True,
               name_format: str = "{table}_p{start:%Y%m%d}", column: str = "at") -> None:
    """A native range-partitioned set like pg_partman 5 makes: one child per period, named by its start."""
    statements = [f"CREATE TABLE {table} ({COLUMNS}) PARTITION BY RANGE ({column})"]
    span = Period(datetime.combine(first, datetime.min.time()), datetime.combine(last, datetime.min.time()))
    for period in periods_covering(span, duration):
        name = name_format.format(table=table, start=period.start)
        statements.append(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{period.start}+00') "
                          f"TO ('{period.end}+00')")
    if default:
        statements.append(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    execute(dsn, *statements)


@dataclass
class Layout:
    """One table to archive, and what a correct archive of it holds."""

    name: str
    table: str
    build: Any  # (dsn) -> None
    start: str
    end: str
    options: dict[str, Any] = field(default_factory=dict)  # archive flags: output_duration, date_column, ...
    date: str = "at"  # the column that dates the rows (for the test's own count and the restore target)
    # rows of the range that are not archived, as SQL over the table (the test's own statement of it)
    not_archived: str = "at IS NULL"
    reasons: dict[str, int] = field(default_factory=dict)  # expected rows not archived, per reason


def _native_daily(dsn: str) -> None:
    native_set(dsn, "ev", date(2024, 1, 1), date(2024, 1, 8), Duration.DAILY)
    rows_through(dsn, "ev", "2024-01-01 00:30", 24 * 7)
    rows_through(dsn, "ev", "2024-01-09 05:00", 3, start_id=10_000)  # the default holds dated rows in the range
    execute(dsn, "INSERT INTO ev (id, at, note) VALUES (-1, NULL, 'no date'), (-2, NULL, 'no date either')")


def _native_weekly(dsn: str) -> None:
    native_set(dsn, "wk", date(2024, 1, 1), date(2024, 1, 22), Duration.WEEKLY)
    rows_through(dsn, "wk", "2024-01-01 00:00", 24 * 21, step_hours=3)
    rows_through(dsn, "wk", "2024-01-23 00:00", 2, start_id=10_000)  # in the default, after the range
    execute(dsn, "INSERT INTO wk_default (id, at, note) VALUES (-1, NULL, 'no date')")


def _native_monthly(dsn: str) -> None:
    native_set(dsn, "mo", date(2024, 1, 1), date(2024, 4, 1), Duration.MONTHLY)
    rows_through(dsn, "mo", "2024-01-01 00:00", 24 * 91, step_hours=5)
    rows_through(dsn, "mo", "2024-04-03 00:00", 2, start_id=10_000)  # default, outside the range
    execute(dsn, "INSERT INTO mo (id, at, note) VALUES (-1, NULL, 'no date')")


# naming → children, the range (one period past the last child: rows pg_partman 4 had no child for yet stay
# in the parent), archive flags
PARTMAN_4 = {
    "yearly": ({"y_p2023": ("2023-01-01", "2024-01-01"), "y_p2024": ("2024-01-01", "2025-01-01")},
               "2023-01-01", "2025-12-31", {"output_duration": "yearly"}),
    "quarterly": ({"q_p2024q1": ("2024-01-01", "2024-04-01"), "q_p2024q2": ("2024-04-01", "2024-07-01")},
                  "2024-01-01", "2024-07-31", {"output_duration": "monthly", "date_column": "at"}),
    "monthly": ({"m_p2024_01": ("2024-01-01", "2024-02-01"), "m_p2024_02": ("2024-02-01", "2024-03-01")},
                "2024-01-01", "2024-03-31", {"output_duration": "monthly"}),
    "weekly": ({"w_p2025w40": ("2025-09-29", "2025-10-06"), "w_p2025w41": ("2025-10-06", "2025-10-13")},
               "2025-09-29", "2025-10-19", {"output_duration": "weekly"}),
    "daily": ({"d_p2024_01_01": ("2024-01-01", "2024-01-02"), "d_p2024_01_02": ("2024-01-02", "2024-01-03")},
              "2024-01-01", "2024-01-03", {}),
    "hourly": ({"h_p2024_01_01_0000": ("2024-01-01 00:00", "2024-01-01 01:00"),
                "h_p2024_01_01_0100": ("2024-01-01 01:00", "2024-01-01 02:00")},
               "2024-01-01", "2024-01-01", {"output_duration": "hourly"}),
    "partman 5 names": ({"f_p20240101": ("2024-01-01", "2024-02-01"), "f_p20240201": ("2024-02-01", "2024-03-01")},
                        "2024-01-01", "2024-03-31", {"output_duration": "monthly"}),
}


def _partman4(naming: str) -> Layout:
    children, start, end, options = PARTMAN_4[naming]
    table = next(iter(children)).split("_p")[0]
    first = min(s for s, _ in children.values())
    last = max(e for _, e in children.values())
    hours = int((datetime.fromisoformat(last) - datetime.fromisoformat(first)) / timedelta(hours=1))
    dated = "date_column" in options

    def build(dsn: str) -> None:
        # pg_partman 4 wants its control column NOT NULL; a hand-made set (the dated variant) may not
        trigger_based_set(dsn, table, children, not_null=not dated)
        rows_through(dsn, table, first, hours, step_hours=max(1, hours // 400))
        rows_through(dsn, table, last, 2, start_id=10_000)  # no child yet: they stay in the parent
        execute(dsn, f"INSERT INTO {table} (id, at, note) VALUES "
                     f"(-2, '{first}+00'::timestamptz - interval '1 year', 'long ago, outside the range')")
        if dated:  # a CHECK constraint lets NULL through: a child can hold undated rows too
            execute(dsn, f"INSERT INTO {table} (id, at, note) VALUES (-1, NULL, 'no date')",
                    f"INSERT INTO {next(iter(children))} (id, at, note) VALUES (-3, NULL, 'no date, in a child')")

    if dated:  # the parent's rows of the range are archived by date; undated ones are reported
        return Layout(f"partman 4 {naming}", table, build, start, end, options, reasons={"null-date": 2})
    return Layout(f"partman 4 {naming}", table, build, start, end, options,
                  not_archived=f"tableoid = '{table}'::regclass", reasons={"outside-dated-partitions": 2})


def _disagreeing(dsn: str) -> None:
    trigger_based_set(dsn, "t", {"t_p20251001": ("2025-10-01", "2025-11-01"),
                                 "t_p20251101": ("2025-11-01", "2025-12-01")})
    rows_through(dsn, "t", "2025-10-01 00:00", 24 * 61, step_hours=2)


def _plain(dsn: str) -> None:
    execute(dsn, f"CREATE TABLE pl ({COLUMNS})")
    rows_through(dsn, "pl", "2024-03-01 00:00", 24 * 10, step_hours=2)
    execute(dsn, "INSERT INTO pl (id, at, note) SELECT -g, NULL, 'undated' FROM generate_series(1, 7) g")


def _hash(dsn: str) -> None:
    execute(dsn, f"CREATE TABLE hs ({COLUMNS}) PARTITION BY HASH (id)",
            *[f"CREATE TABLE hs_{n} PARTITION OF hs FOR VALUES WITH (MODULUS 4, REMAINDER {n})" for n in range(4)])
    rows_through(dsn, "hs", "2024-01-01 00:00", 24 * 20, step_hours=2)
    execute(dsn, "INSERT INTO hs (id, at) VALUES (-1, NULL), (-2, NULL)")


def _list(dsn: str) -> None:
    execute(dsn, f"CREATE TABLE ls ({COLUMNS}) PARTITION BY LIST (region)",
            "CREATE TABLE ls_eu PARTITION OF ls FOR VALUES IN ('eu')",
            "CREATE TABLE ls_us PARTITION OF ls FOR VALUES IN ('us')",
            "CREATE TABLE ls_other PARTITION OF ls DEFAULT")
    rows_through(dsn, "ls", "2024-01-01 00:00", 24 * 62, step_hours=6)
    execute(dsn, "INSERT INTO ls (id, at, region) VALUES (-1, NULL, 'eu')")


def _payment(dsn: str) -> None:
    execute(dsn, """
        CREATE TABLE payment (payment_id integer NOT NULL, customer_id integer NOT NULL, staff_id integer NOT NULL,
                              rental_id integer NOT NULL, amount numeric(5,2) NOT NULL,
                              payment_date timestamptz NOT NULL) PARTITION BY RANGE (payment_date)""")
    execute(dsn, *[f"CREATE TABLE payment_p2022_{m:02d} PARTITION OF payment FOR VALUES FROM ('2022-{m:02d}-01 00:00:00+00') "
              f"TO ('{2022 + m // 12}-{m % 12 + 1:02d}-01 00:00:00+00')" for m in range(1, 8)],
            "INSERT INTO payment SELECT g, 1 + g % 599, 1 + g % 2, g, (g % 1200) / 100.0, "
            "'2022-01-24 21:40:19+00'::timestamptz + g * interval '97 minutes' FROM generate_series(0, 1999) g")


LAYOUTS = [
    Layout("native daily + default (pg_partman 5)", "ev", _native_daily, "2024-01-01", "2024-01-10",
           {"date_column": "at"}, reasons={"null-date": 2}),
    Layout("native weekly + default, no date column", "wk", _native_weekly, "2024-01-01", "2024-01-21",
           {"output_duration": "weekly"}, not_archived="tableoid = 'wk_default'::regclass",
           reasons={"outside-dated-partitions": 1}),
    Layout("native monthly + default, weekly objects by date", "mo", _native_monthly, "2024-01-01", "2024-03-31",
           {"output_duration": "weekly", "date_column": "at"}, reasons={"null-date": 1}),
    *[_partman4(naming) for naming in PARTMAN_4],
    Layout("name and constraint disagree", "t", _disagreeing, "2025-10-01", "2025-11-30",
           {"output_duration": "monthly"}, not_archived="false"),
    Layout("plain table with NULL dates", "pl", _plain, "2024-03-01", "2024-03-10", {"date_column": "at"},
           reasons={"null-date": 7}),
    Layout("hash partitions", "hs", _hash, "2024-01-01", "2024-01-21", {"date_column": "at",
                                                                         "output_duration": "weekly"},
           reasons={"null-date": 2}),
    Layout("list partitions", "ls", _list, "2024-01-01", "2024-03-31", {"date_column": "at",
                                                                         "output_duration": "monthly"},
           reasons={"null-date": 1}),
    Layout("payment_p2022_01 monthly (sample database style)", "payment", _payment, "2022-01-01", "2022-07-31",
           {"output_duration": "monthly"}, date="payment_date", not_archived="false"),
]


def count(dsn: str, table: str, where: str) -> int:
    return int(query(dsn, f"SELECT count(*) FROM {table} WHERE {where}")[0][0])
