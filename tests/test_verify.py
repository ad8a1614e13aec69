"""verify: every way an archive can be wrong is found and named, and a sound one is proven, with or without --deep."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from pgarchiver_tui.cache import open_cache
from pgarchiver_tui.commands.verify import prepare_verify
from pgarchiver_tui.core.events import JobProgress, JobResult, JobStarted, Outcome, RunReport, RunStarted
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.core.sidecars import sidecar_key
from pgarchiver_tui.pipeline import digest
from pgarchiver_tui.storage.s3 import S3Settings, S3Storage
from tests.archive_support import Run, archive_events, execute, sidecar_path
from tests.readback_support import command, flags

PREFIX = "public/events/2024/01/"
KEYS = [f"{PREFIX}events-2024-01-0{day}.jsonl.zst" for day in (1, 2, 3)]


def verify(capsys: pytest.CaptureFixture[str], dsn: str, where: list[str], *extra: str) -> Run:
    return command(capsys, "verify", "--dsn", dsn, "--table", "events", *where, *extra)


def by_key(run: Run) -> dict[str, dict]:
    return {o["key"]: o for o in run.report["objects"]}


def local(tmp_path: Path) -> list[str]:
    return flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")


def s3(bucket, tmp_path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    return flags(s3_endpoint=bucket.endpoint, s3_bucket=bucket.name, cache_dir=tmp_path / "cache")


def test_a_sound_archive_on_s3_verifies_clean_and_the_cache_remembers(
        seeded_events: str, s3_bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    where = s3(s3_bucket, tmp_path)
    archive_events(capsys, seeded_events, where)

    run = verify(capsys, seeded_events, where)

    assert run.code == 0, run.err
    summary = run.report["summary"]
    assert {k: summary[k] for k in ("objects", "verified", "failed", "orphans", "unfinished", "cancelled", "rows")} \
        == {"objects": 3, "verified": 3, "failed": 0, "orphans": 0, "unfinished": 0, "cancelled": 0, "rows": 900}
    assert [(o["key"], o["rows"], o["live_rows"]) for o in run.report["objects"]] == [(k, 300, 300) for k in KEYS]
    cache = open_cache(run.report["destination"], str(tmp_path / "cache"))
    assert {cache.get(k).verify_outcome for k in KEYS} == {"ok"}  # type: ignore[union-attr]
    assert f"ok {KEYS[0]}: 300 rows, live table 300" in run.err


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_deep_compares_every_row_with_the_live_table_in_every_format(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    where = local(tmp_path)
    archive_events(capsys, seeded_events, where, output_format=fmt)
    sound = verify(capsys, seeded_events, where, "--deep")
    assert sound.code == 0, sound.err
    assert {n for o in sound.report["objects"] for n in o["notes"]} == {"every row matches the live table's"}

    # same row count, one value changed: only the content comparison can see it
    execute(seeded_events, "UPDATE events SET note = coalesce(note, '') || '!' WHERE id = (SELECT min(id) FROM "
                           "events_20240102)")
    shallow = verify(capsys, seeded_events, where)
    deep = verify(capsys, seeded_events, where, "--deep")

    assert shallow.code == 0, "row counts still agree"
    assert deep.code == 1
    changed = by_key(deep)[KEYS[1].replace("jsonl.zst", f"{fmt}.zst" if fmt != "parquet" else "parquet")]
    assert changed["problems"] == ["content differs from the live rows (row fingerprints do not match)"]
    assert deep.report["summary"]["verified"] == 2


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def change_row_count(path: Path) -> None:
    meta = sidecar_path(path)
    facts = json.loads(meta.read_text())
    meta.write_text(json.dumps({**facts, "rows": facts["rows"] + 1}))


CORRUPTIONS = {
    "flipped-byte": (flip_a_byte, ["SHA-256 differs from the metadata's"]),  # a file has no ETag
    "truncated": (truncate, ["truncated", "size"]),
    "deleted": (Path.unlink, ["missing from the destination"]),
    "sidecar-deleted": (lambda p: sidecar_path(p).unlink(), ["sidecar (public/events/2024/01/_meta/events-2024-01-"]),
    "row-count-changed": (change_row_count, ["300 rows read, the metadata says 301"]),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_each_corruption_is_found_and_named(seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            corruption: str) -> None:
    where = local(tmp_path)
    archive_events(capsys, seeded_events, where)
    damage, expected = CORRUPTIONS[corruption]
    damage(tmp_path / "a" / KEYS[1])

    run = verify(capsys, seeded_events, where)

    assert run.code == 1
    found = by_key(run)
    assert not found[KEYS[1]]["ok"]
    problems = "; ".join(found[KEYS[1]]["problems"])
    for words in expected:
        assert words in problems
    assert found[KEYS[0]]["ok"] and found[KEYS[2]]["ok"], "the others are untouched"
    assert f"PROBLEM {KEYS[1]}" in run.err
    cache = open_cache(run.report["destination"], str(tmp_path / "cache"))
    assert cache.get(KEYS[1]).verify_outcome.startswith("problem: ")  # type: ignore[union-attr]


def test_without_sidecar_or_cache_an_object_is_an_orphan(seeded_events: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    where = local(tmp_path)
    archive_events(capsys, seeded_events, where)
    (tmp_path / "a" / sidecar_key(KEYS[2])).unlink()
    (tmp_path / "a" / PREFIX / "notes.txt").write_text("not an archive")

    run = verify(capsys, seeded_events, flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "fresh-cache"))

    assert run.code == 1
    orphans = sorted(o["key"] for o in run.report["objects"] if o["kind"] == "orphan")
    assert orphans == [KEYS[2], PREFIX + "notes.txt"]
    assert run.report["summary"]["verified"] == 2


def test_an_unfinished_multipart_upload_and_a_stray_object_are_found_on_s3(
        seeded_events: str, s3_bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    where = s3(s3_bucket, tmp_path)
    archive_events(capsys, seeded_events, where)
    client = s3_bucket.client
    stray = PREFIX + "events-2024-01-04.jsonl.zst"
    upload = client.create_multipart_upload(Bucket=s3_bucket.name, Key=stray)["UploadId"]
    client.upload_part(Bucket=s3_bucket.name, Key=stray, UploadId=upload, PartNumber=1, Body=b"x" * 1024)
    client.put_object(Bucket=s3_bucket.name, Key=PREFIX + "events-2024-01-05.jsonl.zst", Body=b"who wrote this?")

    run = verify(capsys, seeded_events, where)

    assert run.code == 1
    kinds = {o["key"]: o["kind"] for o in run.report["objects"] if not o["ok"]}
    assert kinds == {stray: "unfinished", PREFIX + "events-2024-01-05.jsonl.zst": "orphan"}
    assert upload in by_key(run)[stray]["problems"][0]


def test_an_object_changed_on_s3_disagrees_with_its_sha256_and_etag(
        seeded_events: str, s3_bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    where = s3(s3_bucket, tmp_path)
    archive_events(capsys, seeded_events, where)
    client = s3_bucket.client
    body = bytearray(client.get_object(Bucket=s3_bucket.name, Key=KEYS[0])["Body"].read())
    body[10] ^= 1
    client.put_object(Bucket=s3_bucket.name, Key=KEYS[0], Body=bytes(body))

    problems = "; ".join(by_key(verify(capsys, seeded_events, where))[KEYS[0]]["problems"])

    assert "SHA-256 differs from the metadata's" in problems
    assert "SHA-256 differs from the cache's" in problems
    assert "the store reports ETag" in problems


def test_rows_added_to_the_live_partition_after_archiving_are_reported(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = local(tmp_path)
    archive_events(capsys, seeded_events, where)
    execute(seeded_events, "INSERT INTO events (id, created_at, account_id, kind) "
                           "VALUES (999999, '2024-01-02 12:00+00', 1, 'late')")

    run = verify(capsys, seeded_events, where, "--start-date", "2024-01-02", "--end-date", "2024-01-02")

    assert run.code == 1
    [check] = run.report["objects"]
    assert check["problems"] == ["the live table holds 301 rows for this period, the object 300"]


def test_once_the_partition_is_gone_the_archive_still_verifies(seeded_events: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    where = local(tmp_path)
    archive_events(capsys, seeded_events, where)
    execute(seeded_events, "DROP TABLE events_20240101")

    run = verify(capsys, seeded_events, where, "--deep")

    assert run.code == 0, run.err
    gone = by_key(run)[KEYS[0]]
    assert gone["live_rows"] is None and "no longer exists" in gone["notes"][0]


def test_the_etag_of_a_multipart_upload_is_recomputed_from_its_part_sizes(s3_bucket) -> None:  # type: ignore[no-untyped-def]
    storage = S3Storage(S3Settings(bucket=s3_bucket.name, endpoint=s3_bucket.endpoint, region="us-east-1"))
    data = os.urandom(9 << 20)  # two parts: 8 MiB and 1 MiB
    stored = storage.write("big.bin", [data[i:i + 700_000] for i in range(0, len(data), 700_000)],
                           threading.Event())
    tally = digest.Tally()

    for _ in digest.hash_etag(storage.read("big.bin"), stored.part_sizes, tally):
        pass

    assert stored.part_sizes == [8 << 20, 1 << 20]
    assert tally.etag == storage.head("big.bin").etag == stored.etag  # type: ignore[union-attr]
    assert tally.etag.endswith("-2")


def test_nothing_to_verify_is_a_failure_and_bad_input_exits_2(seeded_events: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    empty = verify(capsys, seeded_events, flags(local_dir=tmp_path / "empty", cache_dir=tmp_path / "cache"))
    assert empty.code == 1 and "nothing archived for public.events" in empty.err

    missing_dir = verify(capsys, seeded_events, flags(local_dir=tmp_path / "nowhere"))
    assert missing_dir.code == 2 and "--local-dir" in missing_dir.err and "does not exist" in missing_dir.err
    assert not (tmp_path / "nowhere").exists(), "verify creates nothing"

    no_table = command(capsys, "verify", "--local-dir", str(tmp_path / "empty"))
    assert no_table.code == 2 and "--table" in no_table.err


def test_the_function_api_reports_progress_as_archive_events_and_stops_when_cancelled(
        seeded_events: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive_events(capsys, seeded_events, local(tmp_path))
    settings = Settings(dsn=seeded_events, table="events", local_dir=str(tmp_path / "a"),
                        cache_dir=str(tmp_path / "cache"), workers=2)
    events: list[object] = []

    report = prepare_verify(settings, False, events.append).run()

    assert report.exit_code == 0
    kinds = {type(e) for e in events}
    assert {RunStarted, JobStarted, JobProgress, JobResult, RunReport} <= kinds
    assert {e.job.key for e in events if isinstance(e, JobStarted)} == set(KEYS)
    assert events[-1] is report

    cancelled = prepare_verify(settings, False, events.append)
    cancelled.cancel()
    stopped = cancelled.run()
    assert stopped.exit_code == 130
    assert [c.outcome for c in stopped.results] == [Outcome.CANCELLED] * 3
