"""Secrets never leave the process, and identifiers never escape the path template's prefix."""

from __future__ import annotations

import os
import re
import socket
import stat
from dataclasses import replace
from pathlib import Path

import psycopg
from faults.harness import (
    archive_settings,
    direct_s3,
    local,
    run_in_process,
    run_process,
    s3_url,
    verify_destination,
)
from faults.proxy import ERROR, Rule
from psycopg import sql

from pgarchiver_tui.cache import cache_path
from pgarchiver_tui.cli import main
from pgarchiver_tui.core.settings import Settings, save_profile
from pgarchiver_tui.core.sidecars import sidecar_key

DB_PASSWORD = "pw-Zq8xK2vNr7"
S3_SECRET = "sk-Hf93LmQp0WzYc"
S3_ACCESS = "AKIAQ7T2MEXAMPLE"
SECRETS = (DB_PASSWORD, S3_SECRET, S3_ACCESS)


def assert_no_secret(where: str, text: str | bytes) -> None:
    data = text if isinstance(text, bytes) else text.encode()
    for secret in SECRETS:
        assert secret.encode() not in data, f"{secret!r} leaked into {where}"


def with_secrets(settings: Settings) -> Settings:
    """The DSN as a URL with the password in it, and the S3 keys as flags (moto accepts any)."""
    dsn = settings.dsn.replace("postgres@", f"postgres:{DB_PASSWORD}@")  # type: ignore[union-attr]
    return replace(settings, dsn=dsn, db_password=DB_PASSWORD, s3_access_key=S3_ACCESS, s3_secret_key=S3_SECRET)


def test_secrets_stay_out_of_output_reports_cache_objects_and_profiles(
        seeded_events, s3_bucket, fault_proxy, quick_boto_retries, tmp_path, capsys):  # type: ignore[no-untyped-def]  # noqa: F811
    metrics = tmp_path / "metrics.prom"
    settings = with_secrets(archive_settings(
        seeded_events, "events", 5, s3_bucket=s3_bucket.name, s3_endpoint=fault_proxy.url, s3_region="us-east-1",
        log_format="json", metrics_file=str(metrics)))

    run = run_process(settings)  # a real process: everything it prints is captured

    assert run.code == 0, run.log
    assert len(run.objects("archived")) == 5
    assert_no_secret("stderr (json logs)", run.log)
    assert_no_secret("the --json report", str(run.report))
    assert_no_secret("the metrics file", metrics.read_text())
    cache = cache_path(s3_url(fault_proxy.url, s3_bucket.name))
    for path in cache.parent.glob(cache.name + "*"):
        assert_no_secret(f"the cache {path.name}", path.read_bytes())
    store = direct_s3(s3_bucket.endpoint, s3_bucket.name)
    for info in store.list(""):
        assert_no_secret(info.key, b"".join(store.read(info.key)))

    # failures: their reasons, the text log, the health lines
    fault_proxy.add(Rule("PutObject", ERROR, 500, "InternalError", times=None))
    failed = run_in_process(replace(settings, log_format="text", force=True, retries=1), capsys)
    assert failed.code == 1 and len(failed.objects("failed")) == 5, failed.log
    assert_no_secret("failure reasons and text logs", failed.log + str(failed.report))
    fault_proxy.clear()
    capsys.readouterr()
    assert main(["health", "--dsn", settings.dsn, "--db-password", DB_PASSWORD, "--table", "events",  # type: ignore[list-item]
                 "--s3-bucket", s3_bucket.name, "--s3-endpoint", fault_proxy.url, "--s3-access-key", S3_ACCESS,
                 "--s3-secret-key", S3_SECRET, "--s3-region", "us-east-1"]) == 0
    assert_no_secret("health output", "".join(capsys.readouterr()))

    # the settings shown to people, and a saved profile
    assert_no_secret("Settings.masked()", str(settings.masked()))
    profile = tmp_path / "config" / "config.toml"
    save_profile(profile, "prod", settings)
    assert_no_secret("the saved profile", profile.read_text())
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert "s3_bucket" in profile.read_text()


def test_a_connection_failure_does_not_echo_the_password(capsys):  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dsn = f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{port}/db"
    capsys.readouterr()
    code = main(["archive", "--no-ui", "--json", "--dsn", dsn, "--table", "events", "--start-date", "2024-01-01",
                 "--end-date", "2024-01-02", "--local-dir", "/nonexistent/never-written"])
    out, err = capsys.readouterr()

    assert code == 3 and "cannot connect to the database" in err  # 3: the service is unavailable
    assert_no_secret("the error of a failed connection", out + err)


NASTY_SCHEMA = ".."
NASTY_TABLE = '../"quoted"/\\back\x01\nline'
NASTY_PARTITIONS = ("../../p1", 'p"2"/\x02..')


def test_identifiers_cannot_escape_the_path_templates_prefix(pg_dsn, tmp_path, capsys):  # type: ignore[no-untyped-def]
    parent = sql.Identifier(NASTY_SCHEMA, NASTY_TABLE)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(NASTY_SCHEMA)))
        conn.execute(sql.SQL("CREATE TABLE {} (id int, created_at timestamptz NOT NULL) "
                             "PARTITION BY RANGE (created_at)").format(parent))
        for day, name in enumerate(NASTY_PARTITIONS, start=1):
            conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(NASTY_SCHEMA, name), parent, sql.Literal(f"2024-01-0{day}"),
                sql.Literal(f"2024-01-0{day + 1}")))
        conn.execute(sql.SQL("INSERT INTO {} SELECT g, '2024-01-01'::timestamptz + g * interval '1 hour' "
                             "FROM generate_series(0, 47) AS g").format(parent))
    root = tmp_path / "archive"
    settings = replace(archive_settings(pg_dsn, NASTY_TABLE, 2, local_dir=str(root)), schema=NASTY_SCHEMA,
                       path_template="archives/{schema}/{table}/{YYYY}")

    run = run_in_process(settings, capsys)

    assert run.code == 0, run.log
    keys = [o["key"] for o in run.objects("archived")]
    assert len(keys) == 2
    for key in keys:
        assert key.startswith("archives/"), key
        segments = key.split("/")
        assert len(segments) == 5 and not {".", ".."} & set(segments), key
        assert not re.search(r"[\x00-\x1f\x7f\\]", key), key
    written = [p for p in root.rglob("*") if p.is_file()]
    assert written and all((root / "archives") in p.parents for p in written), written
    assert os.listdir(root) == ["archives"]
    verified = verify_destination(local(root), None)
    assert [v["rows"] for v in verified.values()] == [24, 24]


def test_server_side_encryption_options_reach_every_write(seeded_events, s3_bucket, capsys):  # type: ignore[no-untyped-def]
    for sse, key_id in (("AES256", None), ("aws:kms", "alias/archive")):
        settings = archive_settings(seeded_events, "events", 1, s3_bucket=s3_bucket.name,
                                    s3_endpoint=s3_bucket.endpoint, s3_region="us-east-1", s3_sse=sse,
                                    s3_sse_kms_key_id=key_id, force=True)
        run = run_in_process(settings, capsys)
        assert run.code == 0, run.log
        key = run.objects("archived")[0]["key"]
        for stored in (key, sidecar_key(key)):
            head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=stored)
            assert head["ServerSideEncryption"] == sse, stored
            assert key_id is None or key_id in head["SSEKMSKeyId"], head


def test_tls_and_replica_options_reach_libpq(seeded_events, tmp_path, capsys):  # type: ignore[no-untyped-def]
    # the throwaway server speaks no TLS and is no standby: libpq refusing it proves the options arrived
    for option, value, refusal in (("--db-sslmode", "require", "SSL"),
                                   ("--db-target-session-attrs", "standby", "hot standby")):
        capsys.readouterr()
        code = main(["health", "--dsn", seeded_events, "--local-dir", str(tmp_path / "a"), option, value])
        lines = capsys.readouterr().out.splitlines()
        assert code == 1, lines
        [database] = [line for line in lines if line.split()[1] == "database"]
        assert database.startswith("FAIL") and refusal in database, database


def test_a_malformed_dsn_is_reported_without_echoing_it(capsys):  # type: ignore[no-untyped-def]
    capsys.readouterr()
    code = main(["validate", "--dsn", f"host=localhost password{DB_PASSWORD}", "--table", "events", "--start-date",
                 "2024-01-01", "--end-date", "2024-01-02", "--local-dir", "/tmp/never-written"])
    err = capsys.readouterr().err

    assert code == 2 and "--dsn is not a valid connection string" in err, err
    assert_no_secret("the error of a malformed --dsn", err)


def test_secret_flags_are_masked_in_the_process_title(tmp_path):  # type: ignore[no-untyped-def]
    """`ps` shows what /proc/PID/cmdline holds: the tool rewrites it before it connects anywhere."""
    import subprocess
    import sys

    silent = socket.socket()  # accepts TCP and never answers: the run waits in its connection attempt
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "pgarchiver_tui", "--no-ui", "--dsn",
         f"postgresql://archiver:{DB_PASSWORD}@127.0.0.1:{port}/app?connect_timeout=30",
         "--s3-secret-key", S3_SECRET, f"--s3-access-key={S3_ACCESS}", "--table", "t",
         "--start-date", "2024-01-01", "--end-date", "2024-01-02", "--local-dir", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        connection, _ = silent.accept()  # the tool is connecting: its title was set before that
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert cmdline.startswith(b"pgarchiver-tui "), cmdline
        assert_no_secret("the process title", cmdline)
        assert b"--s3-secret-key ********" in cmdline
        connection.close()
    finally:
        process.kill()
        process.wait()
        silent.close()
