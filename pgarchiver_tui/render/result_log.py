"""Headless rendering of verify and restore runs: the run's notices, a line per object, a summary."""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any

from pgarchiver_tui.commands.restore import RestoreReport, RestoreResult
from pgarchiver_tui.commands.verify import ObjectCheck, VerifyReport
from pgarchiver_tui.core.events import Notice, RunStarted
from pgarchiver_tui.core.units import human_bytes
from pgarchiver_tui.render.report import HeadlessReporter


class ResultLog:
    """Called with the run's events from its workers; writes through the archive's reporter (text or JSON)."""

    result_type: type = object  # one object's outcome
    report_type: type = object  # the whole run's

    def __init__(self, reporter: HeadlessReporter) -> None:
        self.reporter = reporter
        self._lock = threading.Lock()

    def __call__(self, event: object) -> None:
        with self._lock:
            if isinstance(event, (RunStarted, Notice)):
                self.reporter(event)
            elif isinstance(event, self.result_type):
                self.line(event)
            elif isinstance(event, self.report_type):
                self.summary(event)

    def line(self, result: Any) -> None:
        raise NotImplementedError

    def summary(self, report: Any) -> None:
        raise NotImplementedError


class VerifyLog(ResultLog):
    result_type, report_type = ObjectCheck, VerifyReport

    def line(self, check: ObjectCheck) -> None:
        fields = {"key": check.key, "kind": check.kind, "ok": check.ok, "rows": check.rows,
                  "live_rows": check.live_rows, "problems": check.problems, "notes": check.notes}
        if check.cancelled:
            self.reporter.log("warning", "cancelled", f"cancelled {check.key}", **fields)
        elif check.ok:
            live = f", live table {check.live_rows:,}" if check.live_rows is not None else ""
            notes = f" ({'; '.join(check.notes)})" if check.notes else ""
            self.reporter.log("info", "verified", f"ok {check.key}: {check.rows or 0:,} rows{live}, "
                              f"{human_bytes(check.bytes_out)}, checksums match{notes}", **fields)
        else:
            self.reporter.log("error", "problem", f"PROBLEM {check.key}: {'; '.join(check.problems)}", **fields)

    def summary(self, report: VerifyReport) -> None:
        counts = report.summary()
        head = "interrupted" if report.cancelled else "verified"
        self.reporter.log("error" if report.exit_code else "info", "summary",
                          f"{head}: {counts['objects']} objects, {counts['ok']} ok, {counts['problems']} with "
                          f"problems, {counts['orphans']} orphans, {counts['unfinished']} unfinished uploads; "
                          f"{counts['rows']:,} rows in {report.seconds:.1f}s", **counts)


class RestoreLog(ResultLog):
    result_type, report_type = RestoreResult, RestoreReport

    def line(self, result: RestoreResult) -> None:
        level = {"failed": "error", "cancelled": "warning"}.get(result.outcome, "info")
        detail = f" [{result.category}]" if result.category else ""
        rows = f": {result.rows:,} rows" if result.outcome == "restored" else ""
        self.reporter.log(level, result.outcome, f"{result.outcome} {result.key}{detail}{rows} {result.reason}"
                          .rstrip(), **{**asdict(result), "seconds": round(result.seconds, 3)})

    def summary(self, report: RestoreReport) -> None:
        counts = report.summary()
        head = "interrupted" if report.cancelled else "finished"
        self.reporter.log("error" if report.exit_code else "info", "summary",
                          f"{head}: {counts['restored']} restored, {counts['skipped']} skipped, "
                          f"{counts['failed']} failed, {counts['cancelled']} cancelled, {counts['dry-run']} "
                          f"dry run; {counts['rows']:,} rows in {report.seconds:.1f}s", **counts)
