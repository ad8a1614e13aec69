"""A rate limit shared by every worker of a run (--max-rate), for busy hours on production."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator

from pgarchiver_tui.core.errors import Cancelled


class RateLimiter:
    """Token bucket over bytes: waits (cancellably) so that the run stays under `bytes_per_second`."""

    def __init__(self, bytes_per_second: float, cancel: threading.Event,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = bytes_per_second
        self.cancel = cancel
        self.clock = clock
        self._lock = threading.Lock()
        self._next_free = clock()

    def take(self, size: int) -> None:
        with self._lock:
            now = self.clock()
            start = max(now, self._next_free)
            self._next_free = start + size / self.rate
            wait = start - now
        if wait > 0 and self.cancel.wait(wait):
            raise Cancelled("cancelled while throttled")

    def limit(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.take(len(chunk))
            yield chunk
