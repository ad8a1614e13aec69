"""The test infrastructure itself: throwaway PostgreSQL, demo data, loopback S3."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from pgarchiver_tui.commands.demo_data import seed_events
from pgarchiver_tui.db import throwaway
from pgarchiver_tui.db.throwaway import ThrowawayPostgres, ThrowawayPostgresError, dsn_with_dbname


def _scalar(conn: psycopg.Connection, query: str, params: tuple[Any, ...] | None = None) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def _row(conn: psycopg.Connection, query: str) -> tuple[Any, ...]:
    row = conn.execute(query).fetchone()
    assert row is not None
    return tuple(row)


def test_server_accepts_connections(pg_server) -> None:
    with psycopg.connect(pg_server.dsn) as conn:
        version = _scalar(conn, "SELECT version()")
    assert version.startswith("PostgreSQL ")


def test_pg_dsn_is_a_fresh_url_database(pg_dsn: str) -> None:
    assert pg_dsn.startswith("postgresql://")
    with psycopg.connect(pg_dsn) as conn:
        dbname = _scalar(conn, "SELECT current_database()")
        n_tables = _scalar(
            conn,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public'",
        )
    assert dbname.startswith("t_")
    assert n_tables == 0


def _partitions(conn: psycopg.Connection, parent: str) -> list[tuple[str, str, bool]]:
    return conn.execute(
        """
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), t.isleaf
        FROM pg_partition_tree(%s::regclass) t
        JOIN pg_class c ON c.oid = t.relid
        WHERE t.level = 1
        ORDER BY c.relname
        """,
        (parent,),
    ).fetchall()


def _fingerprint(conn: psycopg.Connection) -> str:
    conn.execute("SET TIME ZONE 'UTC'")  # timestamptz::text depends on the session time zone
    return _scalar(conn, "SELECT md5(string_agg(e::text, E'\\n' ORDER BY id)) FROM events e")


def test_seed_events_partitions_counts_and_determinism(pg_dsn: str) -> None:
    seed_events(pg_dsn)  # defaults: 31 days from 2024-01-01, 2000 rows/day
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        parts = _partitions(conn, "events")
        names = [p[0] for p in parts]
        expected = [f"events_{date(2024, 1, 1) + timedelta(days=i):%Y%m%d}" for i in range(31)]
        assert names == sorted(expected + ["events_default"])
        assert all(isleaf for _, _, isleaf in parts)
        bounds = dict((n, b) for n, b, _ in parts)
        assert bounds["events_default"] == "DEFAULT"
        assert bounds["events_20240131"] == (
            "FOR VALUES FROM ('2024-01-31 00:00:00+00') TO ('2024-02-01 00:00:00+00')"
        )

        counts: dict[str, int] = dict(
            conn.execute("SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1").fetchall()
        )
        assert counts == {name: 2000 for name in expected}  # events_default is empty
        assert _scalar(conn, "SELECT count(*) FROM events_default") == 0
        assert _scalar(conn, "SELECT count(*) FROM ONLY events") == 0

        ids = _row(conn, "SELECT min(id), max(id), count(DISTINCT id) FROM events")
        assert ids == (1, 62000, 62000)
        first, last = _row(conn, "SELECT min(created_at), max(created_at) FROM events")
        assert first == datetime(2024, 1, 1, tzinfo=UTC)
        assert last < datetime(2024, 2, 1, tzinfo=UTC)

        # The awkward values are really there.
        notes = {r[0] for r in conn.execute("SELECT DISTINCT note FROM events WHERE id <= 24")}
        assert None in notes and "" in notes and "\\N" in notes and "NULL" in notes
        assert any(n and "\n" in n for n in notes)
        assert any(n and "🐘" in n for n in notes)
        assert _scalar(conn, "SELECT count(*) FROM events WHERE tags IS NULL") > 0
        assert _scalar(conn, "SELECT count(*) FROM events WHERE payload IS NULL") > 0

        # ANALYZE ran: leaf partitions have row estimates.
        reltuples = _scalar(conn, "SELECT reltuples FROM pg_class WHERE relname = 'events_20240115'")
        assert reltuples == 2000

        fp1 = _fingerprint(conn)

    seed_events(pg_dsn)  # idempotent: drops and recreates
    with psycopg.connect(pg_dsn) as conn:
        assert _fingerprint(conn) == fp1
        assert len(_partitions(conn, "events")) == 32


def test_seed_events_custom_shape(pg_dsn: str) -> None:
    seed_events(pg_dsn, table="ev", first_day=date(2023, 12, 30), days=3, rows_per_day=7, schema="arch")
    with psycopg.connect(pg_dsn) as conn:
        counts: dict[str, int] = dict(
            conn.execute("SELECT tableoid::regclass::text, count(*) FROM arch.ev GROUP BY 1").fetchall()
        )
        assert counts == {"arch.ev_20231230": 7, "arch.ev_20231231": 7, "arch.ev_20240101": 7}
        assert [r[0] for r in _partitions(conn, "arch.ev")] == [
            "ev_20231230",
            "ev_20231231",
            "ev_20240101",
            "ev_default",
        ]


def test_seeded_events_fixture(seeded_events: str) -> None:
    with psycopg.connect(seeded_events) as conn:
        counts = conn.execute(
            "SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert counts == [(f"events_2024010{d}", 300) for d in range(1, 6)]


def test_s3_bucket_roundtrip(s3_bucket) -> None:
    assert s3_bucket.endpoint.startswith("http://127.0.0.1:")
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="a/b.txt", Body=b"hello\n")
    got = s3_bucket.client.get_object(Bucket=s3_bucket.name, Key="a/b.txt")["Body"].read()
    assert got == b"hello\n"
    listed = s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name)
    assert [o["Key"] for o in listed["Contents"]] == ["a/b.txt"]


def test_missing_binaries_error_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(throwaway, "PG_VERSIONED_GLOB", str(tmp_path / "nothing" / "*" / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_config, no initdb
    monkeypatch.setitem(sys.modules, "pgserver", None)  # makes `import pgserver` fail
    with pytest.raises(ThrowawayPostgresError) as excinfo:
        ThrowawayPostgres(base_dir=tmp_path).start()
    msg = str(excinfo.value)
    assert "\n" not in msg
    assert "apt-get install postgresql" in msg and "pgarchiver-tui[demo]" in msg


def test_lifecycle_stop_is_idempotent_and_cleans_up() -> None:
    pg = ThrowawayPostgres()
    with pg:
        directory = pg.directory
        assert directory is not None and (directory / "data" / "PG_VERSION").exists()
        assert pg.dsn == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
        dsn = pg.create_database("demo db")
        assert dsn == pg.dsn_for("demo db")
        with psycopg.connect(dsn) as conn:
            assert _scalar(conn, "SELECT current_database()") == "demo db"
    assert not directory.exists()
    pg.stop()  # second stop is a no-op
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2)


def test_dsn_with_dbname() -> None:
    assert dsn_with_dbname("postgresql://u:p%40ss@db.example:5433/x?sslmode=require", "y") == (
        "postgresql://u:p%40ss@db.example:5433/y?sslmode=require"
    )
    assert dsn_with_dbname("host=/var/run/postgresql user=me dbname=x", "a b") == (
        "postgresql://me@/a%20b?host=/var/run/postgresql"
    )
