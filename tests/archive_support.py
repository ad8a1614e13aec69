"""Helpers shared by the archive-engine tests: SQL setup, headless runs, reading back what was written."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgarchiver_tui.cli import main
from pgarchiver_tui.core.sidecars import SIDECAR_DIR, SIDECAR_SUFFIX, data_key_of
from pgarchiver_tui.pipeline import codecs


def execute(dsn: str, *statements: str) -> None:
    """Run statements in autocommit (DDL and data for a test)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def query(dsn: str, statement: str, params: Iterable[Any] = ()) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return conn.execute(statement, tuple(params)).fetchall()  # type: ignore[arg-type]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.out)

    def objects(self, outcome: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.report["objects"] if outcome is None or o["outcome"] == outcome]


def command(capsys: pytest.CaptureFixture[str], name: str, *args: str) -> Run:
    """`pgarchiver-tui NAME --no-ui --json ARGS` in this process; what it printed, split by stream."""
    capsys.readouterr()
    code = main([name, "--no-ui", "--json", *args])
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """`pgarchiver-tui --no-ui --json ARGS`: the archive command."""
    return command(capsys, "archive", *args)


def flags(**options: Any) -> list[str]:
    """Flags spelled with underscores; True for a bare flag, None or False to leave one out."""
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not None and value is not False:
            args += [flag, str(value)]
    return args


def archive_args(dsn: str, table: str, start: str, end: str, **options: Any) -> list[str]:
    return ["--dsn", dsn, "--table", table, "--start-date", start, "--end-date", end, *flags(**options)]


def archived(capsys: pytest.CaptureFixture[str], dsn: str, table: str, start: str, end: str, *where: str,
             **options: Any) -> Run:
    """Archive with the command line and insist that it worked: the first step of every read-back test."""
    run = run_cli(capsys, *archive_args(dsn, table, start, end, **options), *where)
    assert run.code == 0, run.err
    return run


def archive_events(capsys: pytest.CaptureFixture[str], dsn: str, where: list[str], **options: Any) -> Run:
    """The seeded `events` table's first three days (2024-01-01 … 03), archived to `where`."""
    return archived(capsys, dsn, "events", "2024-01-01", "2024-01-03", *where, **options)


def read_object(path: Path) -> bytes:
    """The uncompressed bytes of an archived file, decoded by the codec its extension names."""
    by_extension = {c.extension: c for c in codecs.CODECS.values() if c.extension}
    codec = by_extension.get(path.suffix.lstrip("."), codecs.CODECS["none"])
    return b"".join(codecs.decompress([path.read_bytes()], codec))


def archived_files(root: Path) -> dict[str, Path]:
    """Every archived object under `root` (sidecars left out), by key."""
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and data_key_of(p.relative_to(root).as_posix()) is None}


def sidecar_path(path: Path) -> Path:
    """Where the facts of the archived file at `path` are."""
    return path.parent / SIDECAR_DIR / (path.name + SIDECAR_SUFFIX)


def jsonl_rows(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in archived_files(root).values()
            for line in read_object(path).decode().splitlines()]


def sidecar(path: Path) -> dict[str, Any]:
    return json.loads(sidecar_path(path).read_text())
