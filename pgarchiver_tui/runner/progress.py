"""The one progress meter: throttled JobProgress events for the object one worker is on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from pgarchiver_tui.core.events import Emit, JobProgress, JobStarted, Stage
from pgarchiver_tui.core.model import Job

PROGRESS_INTERVAL = 0.2  # seconds between progress events of one worker


class Meter:
    """Counts what flows through one attempt at one object; emits JobStarted when made, then JobProgress at
    most every PROGRESS_INTERVAL, and at once on a change of stage."""

    def __init__(self, emit: Emit, worker: int, job: Job, clock: Callable[[], float] = time.monotonic) -> None:
        self.emit, self.worker, self.job, self.clock = emit, worker, job, clock
        self.started = clock()
        self.current = Stage.CONNECTING
        self.rows = self.bytes_in = self.bytes_out = 0
        self._last = 0.0
        emit(JobStarted(worker, job))

    @property
    def seconds(self) -> float:
        return self.clock() - self.started

    def stage(self, stage: Stage) -> None:
        self.current = stage
        self._emit()

    def read(self, rows: int, size: int) -> None:
        """More rows and uncompressed bytes went by."""
        self.rows += rows
        self.bytes_in += size
        self._maybe_emit()

    def written(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Count the stored bytes of a stream as they pass."""
        for chunk in chunks:
            self.bytes_out += len(chunk)
            yield chunk

    def update(self, rows: int, bytes_in: int, bytes_out: int) -> None:
        """Where a reader is now, in totals."""
        self.rows, self.bytes_in, self.bytes_out = rows, bytes_in, bytes_out
        self._maybe_emit()

    def _maybe_emit(self) -> None:
        if self.clock() - self._last >= PROGRESS_INTERVAL:
            self._emit()

    def _emit(self) -> None:
        self._last = self.clock()
        self.emit(JobProgress(self.worker, self.job, self.current, self.rows, self.bytes_in, self.bytes_out,
                              self.seconds))
