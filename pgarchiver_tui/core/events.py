"""Typed run events: the only thing the headless reporter, the metrics and the TUI listen to.

Every command that works object by object (archive, verify, restore, purge) runs on the skeleton in
`runner/run.py` and emits the same union, from its worker threads, through one `Emit` callback:

    RunStarted → (Notice | JobStarted → JobProgress* → JobResult)* → RunReport

A listener must be thread-safe or hand events over to its own thread (the TUI buffers them for its timer).
`RunReport` is the run's one report: summary, JSON and exit code, whatever the command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pgarchiver_tui.core.accounting import TableAccount
from pgarchiver_tui.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from pgarchiver_tui.core.model import Job


class Stage(str, Enum):
    CONNECTING = "connecting"
    READING = "reading"  # rows stream through format, compression and upload (or back, for verify/restore)
    UPLOADING = "uploading"  # the source is exhausted; the last part and the completion are on their way
    CHECKING = "checking"  # comparing what was stored or loaded with what was expected (purge: the proof)
    REMOVING = "removing"  # purge: rows deleted, relations dropped or detached
    RECORDING = "recording"


class Outcome(str, Enum):
    """How one object ended, for every command."""

    ARCHIVED = "archived"
    VERIFIED = "verified"
    RESTORED = "restored"
    PURGED = "purged"
    SKIPPED = "skipped"
    REFUSED = "refused"  # purge: not proven, or not to be touched now; left untouched (exit 1 like a failure)
    FAILED = "failed"
    CANCELLED = "cancelled"
    DRY_RUN = "dry-run"

    @property
    def done(self) -> bool:
        """The command's work was done on the object (or would have been, in a dry run)."""
        return self in (Outcome.ARCHIVED, Outcome.VERIFIED, Outcome.RESTORED, Outcome.PURGED, Outcome.DRY_RUN)

    @property
    def summary_key(self) -> str:
        """Its name as a key of the JSON summary and in metrics."""
        return self.value.replace("-", "_")


# what each command calls an object done: the first count of its summary line
DONE_OUTCOME = {"archive": Outcome.ARCHIVED, "verify": Outcome.VERIFIED, "restore": Outcome.RESTORED,
                "purge": Outcome.PURGED}


@dataclass(frozen=True)
class RunStarted:
    jobs: int
    workers: int
    estimated_rows: int
    destination: str
    dry_run: bool
    command: str = "archive"


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
    """One object's end, whatever the command; the fields a command does not use keep their defaults."""

    job: Job
    outcome: Outcome
    worker: int | None = None
    reason: str = ""  # why skipped, the error, or what was done
    category: str = ""  # the error's category when failed
    rows: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    attempts: int = 1
    retryable: bool = False  # the failure was of a transient kind
    kind: str = "object"  # verify also reports an "orphan" and an "unfinished" upload
    target: str = ""  # restore: where the rows went
    live_rows: int | None = None  # verify: what the live table holds for the period
    problems: tuple[str, ...] = ()  # verify: each thing found wrong
    notes: tuple[str, ...] = ()
    # what the command says of the object beyond these fields, JSON-ready, in the report beside them (purge: the
    # objects that proved it, what was removed, when, and the proof)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.job.key

    @property
    def ok(self) -> bool:
        return self.outcome not in (Outcome.FAILED, Outcome.REFUSED, Outcome.CANCELLED)

    @property
    def mb_per_s(self) -> float:
        return self.bytes_in / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        job = self.job
        dated = job.period.start.year > 1  # orphans and unfinished uploads have no period
        common = {"key": job.key, "table": f"{job.schema}.{job.table}", "kind": self.kind,
                  "period_start": job.period.start.isoformat() if dated else None,
                  "period_end": job.period.end.isoformat() if dated else None,
                  "sources": [p.source.qualified for p in job.slices], "outcome": self.outcome.value, "ok": self.ok,
                  "reason": self.reason, "category": self.category, "rows": self.rows, "bytes_in": self.bytes_in,
                  "bytes_out": self.bytes_out, "seconds": round(self.seconds, 3), "attempts": self.attempts,
                  "retryable": self.retryable, "target": self.target, "live_rows": self.live_rows,
                  "problems": list(self.problems), "notes": list(self.notes)}
        return common | {k: v for k, v in self.detail.items() if k not in common}  # a detail hides no common field


@dataclass(frozen=True)
class RunReport:
    """The end of a run and its report: every planned object exactly once, in plan order."""

    results: list[JobResult] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False
    command: str = "archive"
    destination: str = ""
    nothing_is_failure: bool = False  # verify, restore: doing nothing proves or restores nothing
    accounting: TableAccount | None = None  # where every row of the range went (a whole plan's run)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    def kind_count(self, kind: str) -> int:
        return sum(1 for r in self.results if r.kind == kind)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.results if r.outcome.done)

    @property
    def bytes_in(self) -> int:
        return sum(r.bytes_in for r in self.results if r.outcome.done)

    @property
    def bytes_out(self) -> int:
        return sum(r.bytes_out for r in self.results if r.outcome.done)

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    @property
    def refusals(self) -> list[JobResult]:
        return [r for r in self.results if r.outcome is Outcome.REFUSED]

    @property
    def exit_code(self) -> int:
        if self.cancelled:
            return EXIT_INTERRUPTED
        if self.failures or self.refusals or (self.nothing_is_failure and not self.results):
            return EXIT_FAILED
        return EXIT_OK

    @property
    def done_outcome(self) -> Outcome:
        return DONE_OUTCOME.get(self.command, Outcome.ARCHIVED)

    def counts_text(self) -> str:
        """`3 archived, 1 skipped, 0 failed, 0 cancelled` (dry runs, orphans, unfinished uploads when any)."""
        parts = [f"{self.count(o)} {o.value}" for o in
                 (self.done_outcome, Outcome.SKIPPED, Outcome.FAILED, Outcome.CANCELLED)]
        if self.count(Outcome.REFUSED):
            parts.insert(2, f"{self.count(Outcome.REFUSED)} refused")
        if self.count(Outcome.DRY_RUN):
            parts.append(f"{self.count(Outcome.DRY_RUN)} dry run")
        for kind, label in (("orphan", "orphans"), ("unfinished", "unfinished uploads")):
            if self.kind_count(kind):
                parts.append(f"{self.kind_count(kind)} {label}")
        return ", ".join(parts)

    def summary(self) -> dict[str, Any]:
        return {"objects": self.kind_count("object"), **{o.summary_key: self.count(o) for o in Outcome},
                "orphans": self.kind_count("orphan"), "unfinished": self.kind_count("unfinished"),
                "rows": self.rows, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
                "seconds": round(self.seconds, 3),
                **({"rows_in_range": self.accounting.rows_in_range, "rows_not_archived": self.accounting.not_archived}
                   if self.accounting else {})}

    def to_dict(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"command": self.command, "exit_code": self.exit_code, "interrupted": self.cancelled,
                "destination": self.destination, "summary": self.summary(), "notices": self.notices,
                "objects": [r.to_dict() for r in self.results],
                **({"accounting": self.accounting.to_json()} if self.accounting else {}), **(extra or {})}

    def to_json(self, extra: dict[str, Any] | None = None) -> str:
        return json.dumps(self.to_dict(extra), indent=2)


RunFinished = RunReport  # the name the archive run's end had before every command shared it

Event = RunStarted | Notice | JobStarted | JobProgress | JobResult | RunReport
Emit = Callable[[Event], None]
