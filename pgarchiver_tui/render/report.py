"""Headless rendering of engine events: log lines on stderr, a summary, a JSON report, an exit code."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from pgarchiver_tui.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from pgarchiver_tui.core.events import (
    Event,
    JobProgress,
    JobResult,
    JobStarted,
    Notice,
    Outcome,
    RunFinished,
    RunStarted,
)
from pgarchiver_tui.core.units import human_bytes

PROGRESS_EVERY = 5.0  # seconds between progress lines
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: each could split or rewrite a line
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """`text` with control characters escaped (\\n, \\t, \\x01, \\u2028): a name holding a newline cannot
    split a log line or forge the next one. JSON logs escape them already."""
    return _CONTROLS.sub(lambda m: _NAMED.get(m[0]) or (f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100
                                                         else f"\\u{ord(m[0]):04x}"), text)


def exit_code(finished: RunFinished) -> int:
    if finished.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if finished.failures else EXIT_OK


@dataclass
class _Live:
    rows: int = 0
    bytes_in: int = 0


class HeadlessReporter:
    """Turns events into log lines. Thread-safe: the engine calls it from its workers."""

    def __init__(self, stream: TextIO | None = None, log_format: str = "text",
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.stream = stream or sys.stderr  # looked up now: sys.stderr may be replaced after import
        self.json = log_format == "json"
        self.clock = clock
        self.wall = wall
        self._lock = threading.Lock()
        self._live: dict[int, _Live] = {}
        self._done_rows = self._done_bytes = 0
        self._jobs = self._finished = 0
        self._started = self._last_progress = clock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._handle(event)

    def log(self, level: str, event: str, message: str, **fields: Any) -> None:
        stamp = self.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.json:
            line = json.dumps({"time": stamp, "level": level, "event": event, "message": message, **fields},
                              default=str)
        else:
            line = f"{stamp} {level.upper():<7} {one_line(message)}"
        print(line, file=self.stream, flush=True)

    def _handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._jobs = event.jobs
            self._started = self._last_progress = self.clock()
            mode = " (dry run: nothing is written)" if event.dry_run else ""
            self.log("info", "run_started", f"{event.jobs} objects to consider, {event.workers} worker(s), "
                     f"destination {event.destination}{mode}", jobs=event.jobs, workers=event.workers,
                     destination=event.destination, dry_run=event.dry_run)
        elif isinstance(event, Notice):
            self.log(event.level, "notice", event.message)
        elif isinstance(event, JobStarted):
            self._live[event.worker] = _Live()
            sources = ", ".join(p.source.qualified for p in event.job.slices)
            self.log("info", "started", f"[w{event.worker}] {event.job.label} ← {sources}", key=event.job.key,
                     worker=event.worker)
        elif isinstance(event, JobProgress):
            self._live[event.worker] = _Live(event.rows, event.bytes_in)
            if self.clock() - self._last_progress >= PROGRESS_EVERY:
                self._progress_line()
        elif isinstance(event, JobResult):
            self._result(event)
        elif isinstance(event, RunFinished):
            self._summary(event)

    def _progress_line(self) -> None:
        self._last_progress = self.clock()
        rows = self._done_rows + sum(v.rows for v in self._live.values())
        size = self._done_bytes + sum(v.bytes_in for v in self._live.values())
        elapsed = max(self.clock() - self._started, 1e-9)
        self.log("info", "progress", f"progress: {self._finished}/{self._jobs} objects, {rows:,} rows, "
                 f"{human_bytes(size)} read, {size / 1e6 / elapsed:.1f} MB/s", done=self._finished,
                 jobs=self._jobs, rows=rows, bytes_in=size)

    def _result(self, result: JobResult) -> None:
        self._finished += 1
        if result.worker is not None:
            self._live.pop(result.worker, None)
        self._done_rows += result.rows
        self._done_bytes += result.bytes_in
        fields = {"key": result.job.key, "outcome": result.outcome.value, "rows": result.rows,
                  "bytes_in": result.bytes_in, "bytes_out": result.bytes_out,
                  "seconds": round(result.seconds, 3)}
        if result.outcome in (Outcome.ARCHIVED, Outcome.DRY_RUN):
            ratio = result.bytes_in / result.bytes_out if result.bytes_out else 0.0
            verb = "archived" if result.outcome is Outcome.ARCHIVED else "dry run"
            self.log("info", result.outcome.value,
                     f"{verb} {result.job.key}: {result.rows:,} rows, {human_bytes(result.bytes_in)} → "
                     f"{human_bytes(result.bytes_out)} (ratio {ratio:.1f}), {result.seconds:.1f}s, "
                     f"{result.mb_per_s:.1f} MB/s", **fields)
        elif result.outcome is Outcome.SKIPPED:
            self.log("info", "skipped", f"skipped {result.job.key}: {result.reason}", reason=result.reason,
                     **fields)
        elif result.outcome is Outcome.CANCELLED:
            self.log("warning", "cancelled", f"cancelled {result.job.key}: {result.reason}", **fields)
        else:
            tries = f" (after {result.attempts} attempts)" if result.attempts > 1 else ""
            self.log("error", "failed", f"failed {result.job.key} [{result.category}]{tries}: {result.reason}",
                     reason=result.reason, category=result.category, attempts=result.attempts, **fields)

    def _summary(self, finished: RunFinished) -> None:
        seconds = max(finished.seconds, 1e-9)
        head = "interrupted" if finished.cancelled else "finished"
        short = finished.accounting is not None and bool(finished.accounting.warnings)
        level = "error" if finished.failures else "warning" if short else "info"
        self.log(level, "summary",
                 f"{head}: {finished.count(Outcome.ARCHIVED)} archived, {finished.count(Outcome.SKIPPED)} skipped, "
                 f"{finished.count(Outcome.FAILED)} failed, {finished.count(Outcome.CANCELLED)} cancelled"
                 + (f", {finished.count(Outcome.DRY_RUN)} dry run" if finished.count(Outcome.DRY_RUN) else "")
                 + f"; {finished.rows:,} rows, {human_bytes(finished.bytes_in)} → {human_bytes(finished.bytes_out)}"
                 f" in {finished.seconds:.1f}s ({finished.bytes_in / 1e6 / seconds:.1f} MB/s)"
                 + (f"; {finished.accounting.summary()}" if finished.accounting else ""),
                 **summary_fields(finished))
        for failure in finished.failures:
            self.log("error", "failure", f"  {failure.job.key} [{failure.category}]: {failure.reason}",
                     key=failure.job.key, category=failure.category, reason=failure.reason)
        for shortfall in finished.accounting.warnings if finished.accounting else []:
            self.log("warning", "not_archived", shortfall.message, reason=shortfall.reason,
                     relation=shortfall.relation, rows=shortfall.rows)


def summary_fields(finished: RunFinished) -> dict[str, Any]:
    fields: dict[str, Any] = {"archived": finished.count(Outcome.ARCHIVED), "skipped": finished.count(Outcome.SKIPPED),
                              "failed": finished.count(Outcome.FAILED),
                              "cancelled": finished.count(Outcome.CANCELLED), "dry_run": finished.count(Outcome.DRY_RUN),
                              "rows": finished.rows, "bytes_in": finished.bytes_in, "bytes_out": finished.bytes_out,
                              "seconds": round(finished.seconds, 3)}
    if finished.accounting:
        fields |= {"rows_in_range": finished.accounting.rows_in_range,
                   "rows_not_archived": finished.accounting.not_archived}
    return fields


def json_report(finished: RunFinished, extra: dict[str, Any] | None = None) -> str:
    return json.dumps({
        "exit_code": exit_code(finished),
        "interrupted": finished.cancelled,
        "summary": summary_fields(finished),
        "notices": finished.notices,
        "objects": [
            {"key": r.job.key, "table": f"{r.job.schema}.{r.job.table}", "period_start": r.job.period.start.isoformat(),
             "period_end": r.job.period.end.isoformat(), "sources": [p.source.qualified for p in r.job.slices],
             "outcome": r.outcome.value, "reason": r.reason, "category": r.category, "rows": r.rows,
             "bytes_in": r.bytes_in, "bytes_out": r.bytes_out, "seconds": round(r.seconds, 3),
             "attempts": r.attempts, "retryable": r.retryable}
            for r in finished.results
        ],
        **({"accounting": finished.accounting.to_json()} if finished.accounting else {}),
        **(extra or {}),
    }, indent=2)
