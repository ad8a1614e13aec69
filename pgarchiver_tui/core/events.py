"""Typed progress events: the only thing the headless reporter and the TUI listen to.

The engine emits them from its worker threads through one callback; a renderer must be thread-safe or hand
them over to its own thread (the TUI posts them as messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pgarchiver_tui.core.accounting import TableAccount
from pgarchiver_tui.core.model import Job


class Stage(str, Enum):
    CONNECTING = "connecting"
    READING = "reading"  # rows stream through format, compression and upload at once
    UPLOADING = "uploading"  # the source is exhausted; the last part and the completion are on their way
    CHECKING = "checking"  # comparing what the store holds with what was sent
    RECORDING = "recording"


class Outcome(str, Enum):
    ARCHIVED = "archived"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DRY_RUN = "dry-run"


@dataclass(frozen=True)
class RunStarted:
    jobs: int
    workers: int
    estimated_rows: int
    destination: str
    dry_run: bool


@dataclass(frozen=True)
class Notice:
    message: str
    level: str = "warning"  # info | warning


@dataclass(frozen=True)
class JobStarted:
    worker: int
    job: Job


@dataclass(frozen=True)
class JobProgress:
    worker: int
    job: Job
    stage: Stage
    rows: int
    bytes_in: int  # uncompressed, as formatted
    bytes_out: int  # as stored
    seconds: float


@dataclass(frozen=True)
class JobResult:
    job: Job
    outcome: Outcome
    worker: int | None = None
    reason: str = ""  # why skipped, or the error
    category: str = ""  # the error's category when failed
    rows: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    attempts: int = 1
    retryable: bool = False  # the failure was of a transient kind

    @property
    def mb_per_s(self) -> float:
        return self.bytes_in / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class RunFinished:
    results: list[JobResult] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False
    accounting: TableAccount | None = None  # where every row of the range went (a whole plan's run)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.results if r.outcome in (Outcome.ARCHIVED, Outcome.DRY_RUN))

    @property
    def bytes_in(self) -> int:
        return sum(r.bytes_in for r in self.results if r.outcome in (Outcome.ARCHIVED, Outcome.DRY_RUN))

    @property
    def bytes_out(self) -> int:
        return sum(r.bytes_out for r in self.results if r.outcome in (Outcome.ARCHIVED, Outcome.DRY_RUN))

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]


Event = RunStarted | Notice | JobStarted | JobProgress | JobResult | RunFinished
