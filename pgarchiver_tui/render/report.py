"""Headless rendering of any run's events (archive, verify, restore, purge): log lines on stderr and a summary.

The JSON report and the exit code are the RunReport's own (core/events.py).
"""

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

from pgarchiver_tui.core.events import (
    Event,
    JobProgress,
    JobResult,
    JobStarted,
    Notice,
    Outcome,
    RunReport,
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
        self._command = "archive"
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
            self._jobs, self._command = event.jobs, event.command
            self._started = self._last_progress = self.clock()
            purge = event.command == "purge"
            mode = (" (dry run: proves, changes nothing)" if purge else " (dry run: nothing is written)") \
                if event.dry_run else ""
            self.log("info", "run_started", f"{event.jobs} {'periods' if purge else 'objects'} to consider, "
                     f"{event.workers} worker(s), destination {event.destination}{mode}", jobs=event.jobs,
                     workers=event.workers, destination=event.destination, dry_run=event.dry_run)
        elif isinstance(event, Notice):
            self.log(event.level, "notice", event.message)
        elif isinstance(event, JobStarted):
            self._live[event.worker] = _Live()
            sources = ", ".join(p.source.qualified for p in event.job.slices) or event.job.key
            self.log("info", "started", f"[w{event.worker}] {event.job.label} ← {sources}", key=event.job.key,
                     worker=event.worker)
        elif isinstance(event, JobProgress):
            self._live[event.worker] = _Live(event.rows, event.bytes_in)
            if self.clock() - self._last_progress >= PROGRESS_EVERY:
                self._progress_line()
        elif isinstance(event, JobResult):
            self._result(event)
        elif isinstance(event, RunReport):
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
        fields = result.to_dict()
        key, outcome = result.key, result.outcome
        if result.problems:  # verify found something wrong
            self.log("error", "problem", f"PROBLEM {key}: {'; '.join(result.problems)}", **fields)
        elif outcome is Outcome.FAILED:
            tries = f" (after {result.attempts} attempts)" if result.attempts > 1 else ""
            self.log("error", "failed", f"failed {key} [{result.category}]{tries}: {result.reason}", **fields)
        elif outcome is Outcome.REFUSED:  # purge: left untouched, and why
            self.log("error", "refused", f"REFUSED {key}: {result.reason}", **fields)
        elif outcome is Outcome.CANCELLED:
            self.log("warning", "cancelled", f"cancelled {key}: {result.reason}", **fields)
        elif outcome is Outcome.SKIPPED:
            self.log("info", "skipped", f"skipped {key}: {result.reason}", **fields)
        elif outcome is Outcome.VERIFIED:
            live = f", live table {result.live_rows:,}" if result.live_rows is not None else ""
            notes = f" ({'; '.join(result.notes)})" if result.notes else ""
            self.log("info", "verified", f"ok {key}: {result.rows:,} rows{live}, {human_bytes(result.bytes_out)}, "
                     f"checksums match{notes}", **fields)
        elif self._command == "purge":  # purged, or a purge's dry run: the reason says what went, on which proof
            self.log("info", outcome.value, f"{'dry run' if outcome is Outcome.DRY_RUN else 'purged'} {key}: "
                     f"{result.reason}", **fields)
        elif self._command == "archive":
            ratio = result.bytes_in / result.bytes_out if result.bytes_out else 0.0
            verb = "archived" if outcome is Outcome.ARCHIVED else "dry run"
            self.log("info", outcome.value,
                     f"{verb} {key}: {result.rows:,} rows, {human_bytes(result.bytes_in)} → "
                     f"{human_bytes(result.bytes_out)} (ratio {ratio:.1f}), {result.seconds:.1f}s, "
                     f"{result.mb_per_s:.1f} MB/s", **fields)
        else:  # restored, or a restore's dry run: the reason says where the rows went
            rows = f": {result.rows:,} rows" if outcome is Outcome.RESTORED else ""
            notes = f" ({'; '.join(result.notes)})" if result.notes else ""
            self.log("info", outcome.value, f"{outcome.value} {key}{rows} {result.reason}{notes}".rstrip(),
                     **fields)

    def _summary(self, report: RunReport) -> None:
        seconds = max(report.seconds, 1e-9)
        head = "interrupted" if report.cancelled else "verified" if report.command == "verify" else "finished"
        moved = f"{human_bytes(report.bytes_in)} → {human_bytes(report.bytes_out)} " \
            if report.command == "archive" else ""
        short = report.accounting is not None and bool(report.accounting.warnings)
        level = "error" if report.exit_code else "warning" if short else "info"
        self.log(level, "summary",
                 f"{head}: {report.counts_text()}; {report.rows:,} rows, {moved}in {report.seconds:.1f}s"
                 + (f" ({report.bytes_in / 1e6 / seconds:.1f} MB/s)" if report.bytes_in else "")
                 + (f"; {report.accounting.summary()}" if report.accounting else ""), **report.summary())
        for failure in report.failures + report.refusals:
            self.log("error", "failure", f"  {failure.key} [{failure.category}]: {failure.reason}",
                     key=failure.key, category=failure.category, reason=failure.reason)
        for shortfall in report.accounting.warnings if report.accounting else []:
            self.log("warning", "not_archived", shortfall.message, reason=shortfall.reason,
                     relation=shortfall.relation, rows=shortfall.rows)
