"""Headless rendering of a purge: what it is about to do, a line per period (and per delete batch), a summary."""

from __future__ import annotations

import threading
from dataclasses import asdict

from pgarchiver_tui.commands.purge.period import (
    ALREADY,
    CANCELLED,
    DRY_RUN,
    FAILED,
    NOTHING,
    PURGED_OUTCOME,
    REFUSED,
    PurgeResult,
    PurgeStep,
)
from pgarchiver_tui.commands.purge.run import PurgeReport, PurgeStarted
from pgarchiver_tui.core.events import Notice
from pgarchiver_tui.render.report import HeadlessReporter

_LEVELS = {REFUSED: "error", FAILED: "error", CANCELLED: "warning"}
_HEADS = {PURGED_OUTCOME: "purged", ALREADY: "already purged", NOTHING: "nothing to purge", REFUSED: "REFUSED",
          FAILED: "FAILED", CANCELLED: "cancelled", DRY_RUN: "dry run"}


class PurgeLog:
    """Called with the run's events; writes through the archive's reporter (text or JSON lines)."""

    def __init__(self, reporter: HeadlessReporter) -> None:
        self.reporter = reporter
        self._lock = threading.Lock()

    def __call__(self, event: object) -> None:
        with self._lock:
            if isinstance(event, PurgeStarted):
                mode = " (dry run: proves, changes nothing)" if event.dry_run else ""
                how = ", detaching instead of dropping" if event.detach_only else ""
                self.reporter.log("info", "purge_started", f"{event.periods} period(s) to consider, proven against "
                                  f"{event.destination}{how}{mode}", **asdict(event))
            elif isinstance(event, Notice):
                self.reporter(event)
            elif isinstance(event, PurgeStep) and not event.routine:
                self.reporter.log("info", "step", f"  {event.label}: {event.message}", period=event.label)
            elif isinstance(event, PurgeResult):
                self.line(event)
            elif isinstance(event, PurgeReport):
                self.summary(event)

    def line(self, result: PurgeResult) -> None:
        level = _LEVELS.get(result.outcome, "info")
        fields = {**asdict(result), "rows": result.rows, "seconds": round(result.seconds, 3)}
        where = "" if not result.period or result.period in result.label else f" {result.period}"
        self.reporter.log(level, result.outcome, f"{_HEADS[result.outcome]} {result.label}{where}: {result.reason}",
                          **fields)

    def summary(self, report: PurgeReport) -> None:
        counts = report.summary()
        head = "interrupted" if report.cancelled else "dry run" if report.dry_run else "finished"
        rows = f"{counts['rows']:,} rows {'would be ' if report.dry_run else ''}removed"
        self.reporter.log("error" if report.exit_code else "info", "summary",
                          f"{head}: {counts['periods']} period(s): {counts[PURGED_OUTCOME]} purged, "
                          f"{counts[ALREADY]} already purged, {counts[NOTHING]} with nothing to purge, "
                          f"{counts[REFUSED]} refused, {counts[FAILED]} failed, {counts[CANCELLED]} cancelled"
                          f"{f', {counts[DRY_RUN]} proven (dry run)' if report.dry_run else ''}; {rows} in "
                          f"{report.seconds:.1f}s", **counts)
