"""The command starts with the cyclic garbage collector off (startup.py) and has it back on, with what start-up
made frozen out of its way, by the time the first object is archived."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.archive_support import archive_args

ROOT = Path(__file__).resolve().parents[1]
SPY = """
import gc, sys
sys.path.insert(0, {root!r})
from pgarchiver_tui.commands.archive import run as archive_run

attempt = archive_run.ArchiveHandler.attempt
def watched(self, work, job):
    print(json.dumps({{"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}}), file=sys.stderr)
    return attempt(self, work, job)
archive_run.ArchiveHandler.attempt = watched
import json
seen_before = gc.isenabled()
sys.argv = ["pgarchiver-tui", *{args!r}]
from pgarchiver_tui.console import console
code = console()
print(json.dumps({{"before": seen_before, "code": code}}), file=sys.stderr)
"""


def test_the_collector_is_off_in_start_up_and_on_for_the_rows(seeded_events: str, tmp_path: Path) -> None:
    args = ["--no-ui", *archive_args(seeded_events, "events", "2024-01-01", "2024-01-01",
                                     local_dir=tmp_path / "a", cache_dir=tmp_path / "c")]
    done = subprocess.run([sys.executable, "-c", SPY.format(root=str(ROOT), args=args)], capture_output=True,
                          text=True, timeout=120)
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert lines, done.stderr
    at_work, finished = lines[0], lines[-1]
    assert finished == {"before": True, "code": 0}, done.stderr
    assert at_work["enabled"] is True
    assert at_work["frozen"] > 10_000  # psycopg's and the tool's modules: out of every later collection


def test_start_up_itself_runs_without_the_collector() -> None:
    probe = ("import gc, sys; sys.path.insert(0, sys.argv[1]); from pgarchiver_tui import startup; "
             "startup.begin(); import pgarchiver_tui.cli; print(gc.isenabled(), gc.get_freeze_count()); "
             "startup.over(); startup.over(); print(gc.isenabled(), gc.get_freeze_count() > 10_000)")
    out = subprocess.run([sys.executable, "-c", probe, str(ROOT)], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["False 0", "True True"]
