"""Headless rendering of verify and restore runs: the run's notices, a line per object, a summary."""

from __future__ import annotations

import threading
from typing import Any

from pgarchiver_tui.events import Notice, RunStarted
from pgarchiver_tui.report import HeadlessReporter


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
