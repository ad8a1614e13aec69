"""Start-up without the cyclic garbage collector, then its objects frozen out of its way.

Start-up makes tens of thousands of objects that live as long as the process (psycopg's modules and type
adapters, ours, argparse's) and next to no garbage. The collector, run every few hundred allocations, walked
them again and again: about a quarter of the tool's start-up CPU (0.08 of 0.33 s on a headless run). So the
command (console.py) starts with the collector off; when start-up is over, before the first row is read or the
TUI draws, what is alive is moved to the permanent generation (gc.freeze) and the collector runs as usual.
"""

from __future__ import annotations

import gc
import threading

_begun = threading.Event()
_over = threading.Event()


def begin() -> None:
    """The first thing the command does, before its imports."""
    _begun.set()
    gc.disable()


def over() -> None:
    """Start-up is over: freeze what it made and collect as usual from now on.

    Only the first call after begin() counts, and nothing happens without begin() (the CLI's main called from
    another program or a test leaves its collector alone). The few hundred objects that start-up left as
    cyclic garbage are frozen with the rest: a full collection to free them would cost 20 ms, more than
    they weigh."""
    if not _begun.is_set() or _over.is_set():
        return
    _over.set()
    gc.freeze()
    gc.enable()
