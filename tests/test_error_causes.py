"""Errors by cause, so that the exit code tells an operator what to do: 2 fix the configuration, 3 a service is
down or refusing for now (retry later), 1 objects failed, 130 interrupted. And the lines that say so stay lines.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgarchiver_tui.core.errors import ConfigError, Unavailable
from pgarchiver_tui.db.connection import connect, free_connection_slots
from tests.archive_support import archive_args, execute, run_cli

LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z (INFO|WARNING|ERROR) ")


@pytest.fixture
def limited_role(seeded_events: str) -> Iterator[tuple[str, str]]:
    """A role that may SELECT the events and make at most 3 connections: (its DSN, its name)."""
    role = f"r_{uuid.uuid4().hex[:10]}"
    execute(seeded_events, f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 3",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        yield make_conninfo(seeded_events, user=role), role
    finally:
        execute(seeded_events, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def test_a_server_at_its_connection_limit_is_unavailable_and_retryable(limited_role: tuple[str, str],
                                                                        seeded_events: str) -> None:
    dsn, role = limited_role
    execute(seeded_events, f"ALTER ROLE {role} CONNECTION LIMIT 0")
    with pytest.raises(Unavailable) as refused:
        connect(dsn, snapshot=False)
    assert refused.value.retryable
    assert "refuses connections for now" in str(refused.value) and "too many connections" in str(refused.value)


def test_a_server_at_its_connection_limit_exits_3(limited_role: tuple[str, str], seeded_events: str,
                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dsn, role = limited_role
    execute(seeded_events, f"ALTER ROLE {role} CONNECTION LIMIT 0")
    run = run_cli(capsys, *archive_args(dsn, "events", "2024-01-01", "2024-01-02", local_dir=tmp_path / "archive"))
    assert run.code == 3 and len(run.err.splitlines()) == 1, run.err
    assert "refuses connections for now" in run.err
    assert not (tmp_path / "archive").exists()


def test_wrong_credentials_are_configuration(seeded_events: str) -> None:
    with pytest.raises(ConfigError, match='role "no_such_role" does not exist'):
        connect(make_conninfo(seeded_events, user="no_such_role"), snapshot=False)


def test_free_connection_slots_count_the_role_limit(limited_role: tuple[str, str]) -> None:
    dsn, _ = limited_role
    with psycopg.connect(dsn) as conn:
        assert free_connection_slots(conn) == 3  # its own connection counts as free: it closes before the run


def test_more_workers_than_free_connections_are_capped_with_a_notice(
        limited_role: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dsn, _ = limited_role
    run = run_cli(capsys, *archive_args(dsn, "events", "2024-01-01", "2024-01-05", local_dir=tmp_path / "archive",
                                        workers=150))
    assert run.code == 0, run.err
    assert len(run.objects("archived")) == 5
    assert "--workers 150 capped to 3: the server has 3 free connection slot(s)" in run.err
    assert "--workers 150 capped to 3" in " ".join(run.report["notices"])


NEWLINE_TABLE = "ev\nents\x01"


def test_names_with_control_characters_are_escaped_in_text_logs(pg_dsn: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    parent = sql.Identifier(NEWLINE_TABLE)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id int, at date NOT NULL) PARTITION BY RANGE (at)").format(parent))
        conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ('2024-01-01') TO ('2024-01-02')")
                     .format(sql.Identifier(NEWLINE_TABLE + "_20240101"), parent))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (1, '2024-01-01')").format(parent))
    run = run_cli(capsys, *archive_args(pg_dsn, NEWLINE_TABLE, "2024-01-01", "2024-01-01",
                                        local_dir=tmp_path / "archive"))
    assert run.code == 0, run.err
    lines = run.err.splitlines()
    assert lines and all(LOG_LINE.match(line) for line in lines), run.err
    assert "ev\\nents\\x01" in run.err
    missing = run_cli(capsys, *archive_args(pg_dsn, "no\nsuch", "2024-01-01", "2024-01-01",
                                            local_dir=tmp_path / "archive"))
    assert missing.code == 2 and len(missing.err.splitlines()) == 1, missing.err
    assert "no\\nsuch" in missing.err


def test_a_note_never_glues_a_prefix_after_the_endpoints_query_string(seeded_events: str, s3_bucket, tmp_path,
                                                                       capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.archive_support import command

    run = command(capsys, "verify", "--dsn", seeded_events, "--table", "events", "--s3-bucket", s3_bucket.name,
                  "--s3-endpoint", s3_bucket.endpoint, "--s3-region", "us-east-1", "--cache-dir",
                  str(tmp_path / "cache"))
    assert run.code == 1, run.err
    note = next(n for n in run.report["notices"] if n.startswith("nothing archived"))
    assert f"?endpoint={s3_bucket.endpoint} in the range" in note, note
    assert "under prefix 'public/events/'" in note, note


def test_a_connection_refused_for_the_servers_limit_mid_run_is_retried(
        limited_role: tuple[str, str], seeded_events: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from faults.harness import archive_settings, run_in_process

    from pgarchiver_tui.core.events import Notice, RunStarted

    dsn, role = limited_role
    execute(seeded_events, f"ALTER ROLE {role} CONNECTION LIMIT 1")
    held: list[psycopg.Connection] = []

    def hear(event: object) -> None:
        if isinstance(event, RunStarted):  # discovery's connection is closed: take the role's only slot
            held.append(psycopg.connect(dsn))
        elif isinstance(event, Notice) and "retrying in" in event.message and held:
            held.pop().close()  # the server has room again before the retry

    settings = archive_settings(dsn, "events", 1, local_dir=str(tmp_path / "archive"))
    run = run_in_process(settings, capsys, hear)

    assert run.code == 0, run.log
    [archived] = run.objects("archived")
    assert archived["attempts"] == 2, archived
    assert "too many connections" in run.log and "[unavailable]; retrying in" in run.log
