"""`health`, `validate` and the Prometheus metrics of a run, against the real PostgreSQL and moto."""

from __future__ import annotations

import os
import socket
import urllib.request
import uuid

import psycopg
import pytest
from faults.harness import archive_settings, run_in_process
from prometheus_client.parser import text_string_to_metric_families

from pgarchiver_tui.cli import main
from pgarchiver_tui.core.events import Event, JobStarted

KEYS = [f"public/events/2024/01/events-2024-01-0{n}.jsonl.zst" for n in range(1, 6)]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(capsys, *argv: str) -> tuple[int, list[str], str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def health(capsys, dsn: str, bucket: str, endpoint: str, *extra: str) -> tuple[int, dict[str, str]]:  # type: ignore[no-untyped-def]
    code, lines, _ = cli(capsys, "health", "--dsn", dsn, "--table", "events", "--s3-bucket", bucket,
                         "--s3-endpoint", endpoint, "--s3-region", "us-east-1", *extra)
    checks = {line.split()[1]: line for line in lines}
    assert len(checks) == 3 == len(lines), lines
    return code, checks


def failing(checks: dict[str, str]) -> list[str]:
    return [name for name, line in checks.items() if line.startswith("FAIL")]


def test_health_passes_every_check_and_removes_its_probe(seeded_events, s3_bucket, fault_proxy, capsys):  # type: ignore[no-untyped-def]  # noqa: F811
    code, checks = health(capsys, seeded_events, s3_bucket.name, fault_proxy.url, "--probe-prefix", "ops/probes/")

    assert code == 0, checks
    assert failing(checks) == []
    assert "SELECT on public.events" in checks["database"]
    # the calls an archive makes: a multipart upload, listing, reading back, an interrupted upload aborted
    [probe] = fault_proxy.keys("CompleteMultipartUpload")
    assert probe.startswith("ops/probes/probe-")
    assert fault_proxy.count("UploadPart", probe, ok=True) == 2
    assert fault_proxy.count("GetObject", probe, ok=True) == 1
    assert fault_proxy.count("DeleteObject", probe, ok=True) == 1
    [interrupted] = fault_proxy.keys("AbortMultipartUpload")
    assert interrupted.startswith("ops/probes/interrupted-")
    assert fault_proxy.count("ListMultipartUploads", ok=True) >= 1
    assert s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name).get("KeyCount") == 0


def test_health_fails_one_line_for_an_unreachable_database(s3_bucket, capsys):  # type: ignore[no-untyped-def]
    dsn = f"postgresql://postgres@127.0.0.1:{closed_port()}/nowhere"
    code, checks = health(capsys, dsn, s3_bucket.name, s3_bucket.endpoint)

    assert code == 1
    assert failing(checks) == ["database"], checks
    assert "cannot connect to the database" in checks["database"]


def test_health_fails_one_line_for_a_missing_bucket(seeded_events, s3_bucket, capsys):  # type: ignore[no-untyped-def]
    code, checks = health(capsys, seeded_events, "no-such-bucket-here", s3_bucket.endpoint)

    assert code == 1
    assert failing(checks) == ["destination"], checks
    assert "does not exist" in checks["destination"]


def test_health_fails_one_line_without_select_privilege(seeded_events, s3_bucket, capsys):  # type: ignore[no-untyped-def]
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(seeded_events, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        try:
            code, checks = health(capsys, seeded_events, s3_bucket.name, s3_bucket.endpoint, "--db-user", role)
        finally:
            admin.execute(f"DROP ROLE {role}")

    assert code == 1
    assert failing(checks) == ["database"], checks
    assert "no SELECT privilege on public.events" in checks["database"]


def test_validate_checks_the_configuration_without_connecting(capsys):  # type: ignore[no-untyped-def]
    nowhere = f"127.0.0.1:{closed_port()}"
    common = ["validate", "--dsn", f"postgresql://u@{nowhere}/db", "--table", "events", "--start-date",
              "2024-01-01", "--end-date", "2024-01-31", "--s3-bucket", "archive", "--s3-endpoint", f"http://{nowhere}"]

    assert cli(capsys, *common)[0] == 0
    code, out, err = cli(capsys, *common, "--path-template", "{table}/{quarter}")
    assert code == 2
    assert err.count("\n") == 1 and "unknown placeholder {quarter}" in err, err


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, read by prometheus_client's own parser (which also refuses
    what is not the format); each family must say what it is."""
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation and family.type == "gauge", family
        for found in family.samples:
            samples[(found.name, tuple(sorted(found.labels.items())))] = found.value
    return samples


def sample(samples, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    return samples[(name, tuple(sorted({"table": "public.events", **labels}.items())))]


def test_metrics_file_is_written_atomically_with_the_run_in_it(seeded_events, tmp_path, capsys):  # type: ignore[no-untyped-def]
    metrics = tmp_path / "textfile" / "pgarchiver.prom"
    metrics.parent.mkdir()
    metrics.write_text("old\n")
    os.link(metrics, tmp_path / "old-inode")  # rewritten in place, the old inode would change too
    settings = archive_settings(seeded_events, "events", 5, local_dir=str(tmp_path / "a"),
                                metrics_file=str(metrics))
    run = run_in_process(settings, capsys)

    assert run.code == 0, run.log
    assert (tmp_path / "old-inode").read_text() == "old\n"
    assert os.listdir(metrics.parent) == ["pgarchiver.prom"]
    samples = parse_metrics(metrics.read_text())
    summary = run.report["summary"]
    assert sample(samples, "pgarchiver_objects", outcome="archived") == 5
    assert sample(samples, "pgarchiver_objects", outcome="failed") == 0
    assert sample(samples, "pgarchiver_rows_archived") == summary["rows"] == 1500
    assert sample(samples, "pgarchiver_rows_not_archived") == run.report["accounting"]["not_archived"] == 0
    assert sample(samples, "pgarchiver_bytes_read") == summary["bytes_in"]
    assert sample(samples, "pgarchiver_bytes_stored") == summary["bytes_out"]
    assert sample(samples, "pgarchiver_run_duration_seconds") == pytest.approx(summary["seconds"], abs=0.01)
    started = sample(samples, "pgarchiver_last_run_timestamp_seconds")
    assert started <= sample(samples, "pgarchiver_last_success_timestamp_seconds") <= started + 60


def test_metrics_port_serves_the_run_while_it_runs(seeded_events, tmp_path, capsys):  # type: ignore[no-untyped-def]
    port = closed_port()
    fetched: list[str] = []

    def fetch_before_the_second_object(event: Event) -> None:
        if isinstance(event, JobStarted) and event.job.key == KEYS[1]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                assert response.headers["Content-Type"].startswith("text/plain; version=")
                fetched.append(response.read().decode())

    settings = archive_settings(seeded_events, "events", 5, local_dir=str(tmp_path / "a"), metrics_port=port)
    run = run_in_process(settings, capsys, fetch_before_the_second_object)

    assert run.code == 0, run.log
    samples = parse_metrics(fetched[0])
    assert sample(samples, "pgarchiver_objects", outcome="archived") == 1  # the first object, counted live
    assert sample(samples, "pgarchiver_rows_archived") == 300
    assert not any(name == "pgarchiver_last_success_timestamp_seconds" for name, _ in samples)
    with pytest.raises(OSError):  # served during the run only
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)

