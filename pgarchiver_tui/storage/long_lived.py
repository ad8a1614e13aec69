"""Objects that live as long as the process, kept out of the cyclic garbage collector's way.

A client library's modules and the service models its first client loads (botocore: tens of thousands of
objects) survive every collection; collecting while they are made, and walking them in every full collection
after, cost a run to S3 about 50 ms of CPU, nothing of it reclaimed.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_frozen = threading.Event()  # once per process: a later freeze would also keep whatever garbage is around then


@contextmanager
def made_once() -> Iterator[None]:
    """The first time in the process: no collection while the body runs, and everything alive after it
    moved to the permanent generation (gc.freeze), which collections no longer walk. Later: just the body."""
    if _frozen.is_set():
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        _frozen.set()
        gc.freeze()
