"""allocator.keep_freed_blocks: the chunks of a COPY, each allocated and freed in turn, reuse memory instead of
fresh pages. Counted as page faults, which do not depend on the machine's load as times do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READ = """
import resource, sys, threading
sys.path.insert(0, {root!r})
if {tuned}:
    from pgarchiver_tui.allocator import keep_freed_blocks
    assert keep_freed_blocks()
import psycopg
from psycopg import sql
from pgarchiver_tui.pipeline.source import copy_out
statement = sql.SQL("COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 300000) g) TO STDOUT")
with psycopg.connect({dsn!r}) as conn:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    size = sum(map(len, copy_out(conn.cursor(), statement, threading.Event(), lambda rows, size: None)))
    print(size, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(dsn: str, tuned: bool) -> tuple[int, int]:
    script = READ.format(root=str(ROOT), tuned=tuned, dsn=dsn)
    size, faults = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                  check=True).stdout.split()
    return int(size), int(faults)


def test_the_chunks_of_a_copy_reuse_freed_memory(pg_dsn: str) -> None:
    size, untuned = page_faults(pg_dsn, tuned=False)
    _, tuned = page_faults(pg_dsn, tuned=True)
    pages = size // 4096
    assert untuned > pages // 2, "glibc's defaults: each chunk comes back as fresh pages"
    assert tuned < pages // 10, f"{tuned} page faults for {pages} pages of data read"
