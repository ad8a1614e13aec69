"""--split N: one partition read by N connections on one exported snapshot, still one exact object.

The rows of each block range are compressed apart and the streams concatenated: the object must hold exactly
the bytes one reader writes, with every row counted once, and verify and restore must read it unchanged.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pgarchiver_tui.core.sidecars import sidecar_key
from tests.archive_support import archive_args, archived_files, execute, query, read_object, run_cli
from tests.readback_support import command, differences, flags

ROWS = 30_000  # about 400 blocks: every range holds rows


@pytest.fixture
def big(pg_dsn: str) -> str:
    execute(pg_dsn,
            "CREATE TABLE big (id bigint, created_at timestamptz NOT NULL, note text, payload jsonb) "
            "PARTITION BY RANGE (created_at)",
            "CREATE TABLE big_20240101 PARTITION OF big FOR VALUES FROM ('2024-01-01') TO ('2024-01-02')",
            f"INSERT INTO big SELECT g, '2024-01-01'::timestamptz + g * interval '1 second', "
            f"'row ' || g || repeat(' x', mod(g, 20)), jsonb_build_object('g', g, 'q', e'quote \"\\\\ ' || g) "
            f"FROM generate_series(1, {ROWS}) g",
            # holes and moved rows: ranges must follow the blocks as they are, not the ids
            "DELETE FROM big WHERE id % 97 = 0", "UPDATE big SET note = note || ' updated' WHERE id % 89 = 0")
    return pg_dsn


def archive(capsys: pytest.CaptureFixture[str], dsn: str, root: Path, **options: object) -> tuple[Path, dict]:
    run = run_cli(capsys, *archive_args(dsn, "big", "2024-01-01", "2024-01-01", local_dir=root,
                                        cache_dir=root.parent / f"cache-{root.name}", **options))
    assert run.code == 0, run.err
    [(key, path)] = archived_files(root).items()
    facts = json.loads((root / sidecar_key(key)).read_bytes())
    return path, facts


def live_rows(dsn: str) -> int:
    return query(dsn, "SELECT count(*) FROM big_20240101")[0][0]


@pytest.mark.parametrize("codec", ["zstd", "gzip", "lz4"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("readers", [2, 4])
def test_split_objects_hold_exactly_what_one_reader_writes(big: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str], codec: str,
                                                           fmt: str, readers: int) -> None:
    one, one_facts = archive(capsys, big, tmp_path / "one", output_format=fmt, compression=codec)
    split, facts = archive(capsys, big, tmp_path / "split", output_format=fmt, compression=codec, split=readers)
    assert read_object(split) == read_object(one)
    assert facts["rows"] == one_facts["rows"] == live_rows(big)
    assert facts["bytes_in"] == one_facts["bytes_in"]
    assert facts["sha256"] == hashlib.sha256(split.read_bytes()).hexdigest()
    assert facts["etag"] == ""  # a directory: the SHA-256 and the size are the digest
    assert facts["bytes_out"] == split.stat().st_size
    frames = split.read_bytes().count({"zstd": b"\x28\xb5\x2f\xfd", "gzip": b"\x1f\x8b\x08",
                                       "lz4": b"\x04\x22\x4d\x18"}[codec])
    assert frames >= readers, "each reader wrote its own frames"


def test_a_split_archive_verifies_deep_and_restores_exactly(big: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    run = run_cli(capsys, *archive_args(big, "big", "2024-01-01", "2024-01-01", split=4), *where)
    assert run.code == 0, run.err
    verify = command(capsys, "verify", "--dsn", big, "--table", "big", "--deep", *where)
    assert verify.code == 0, verify.err
    execute(big, "CREATE TABLE saved AS SELECT * FROM big_20240101", "DROP TABLE big_20240101")
    restore = command(capsys, "restore", "--dsn", big, "--table", "big", *where)
    assert restore.code == 0, restore.err
    assert differences(big, "saved", "big_20240101", columns=["id", "created_at", "note", "payload"]) == []
    assert live_rows(big) == query(big, "SELECT count(*) FROM saved")[0][0]


def test_a_small_table_or_parquet_keeps_one_reader(pg_dsn: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    execute(pg_dsn, "CREATE TABLE big (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at)",
            "CREATE TABLE big_20240101 PARTITION OF big FOR VALUES FROM ('2024-01-01') TO ('2024-01-02')",
            "INSERT INTO big VALUES (1, '2024-01-01 10:00')")
    path, facts = archive(capsys, pg_dsn, tmp_path / "a", split=4)
    assert facts["rows"] == 1 and read_object(path).count(b"\n") == 1


def test_a_reader_that_fails_fails_the_object_and_writes_nothing(big: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from pgarchiver_tui.commands.archive import split

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the second reader could not connect")

    monkeypatch.setattr(split, "connect", broken)
    run = run_cli(capsys, *archive_args(big, "big", "2024-01-01", "2024-01-01", split=2, retries=1),
                  *flags(local_dir=tmp_path / "a", cache_dir=tmp_path / "cache"))
    assert run.code != 0
    assert [o["outcome"] for o in run.objects()] == ["failed"]
    assert "the second reader could not connect" in run.objects()[0]["reason"]
    assert archived_files(tmp_path / "a") == {}
    assert not [p for p in (tmp_path / "a").rglob("*") if p.is_file()], "no temporary file left either"


def test_a_split_object_on_s3_verifies_deep(big: str, s3_bucket, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            capsys: pytest.CaptureFixture[str]) -> None:
    where = flags(s3_endpoint=s3_bucket.endpoint, s3_bucket=s3_bucket.name, cache_dir=tmp_path / "cache")
    run = run_cli(capsys, *archive_args(big, "big", "2024-01-01", "2024-01-01", split=3), *where)
    assert run.code == 0, run.err
    assert run.objects()[0]["rows"] == live_rows(big)
    verify = command(capsys, "verify", "--dsn", big, "--table", "big", "--deep", *where)
    assert verify.code == 0, verify.err
    assert [o["outcome"] for o in verify.objects()] == ["verified"]
