"""Prometheus metrics of a run, through prometheus_client (the `metrics` extra): a textfile for node_exporter's
textfile collector, or served on a port during long runs."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pgarchiver_tui.core.events import Event, JobResult, Outcome, RunReport, RunStarted

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer


class RunMetrics:
    """Counts events into Prometheus series; an event listener like the reporters, and a prometheus_client
    collector read at every scrape."""

    def __init__(self, table: str, wall: Callable[[], float] = time.time) -> None:
        self.table = table
        self.wall = wall
        self._lock = threading.Lock()
        self.objects = {outcome: 0 for outcome in Outcome}
        self.rows = self.bytes_read = self.bytes_stored = 0
        self.started = wall()
        self.seconds = 0.0
        self.finished: RunReport | None = None

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, RunStarted):
                self.started = self.wall()
            elif isinstance(event, JobResult):
                self.objects[event.outcome] += 1
                if event.outcome is Outcome.ARCHIVED:
                    self.rows += event.rows
                    self.bytes_read += event.bytes_in
                    self.bytes_stored += event.bytes_out
            elif isinstance(event, RunReport):
                self.finished = event
                self.seconds = event.seconds

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, text, labels=["table"])
            family.add_metric([self.table], value)
            return family

        with self._lock:
            objects = GaugeMetricFamily("pgarchiver_objects", "Objects handled by the last run, by outcome.",
                                        labels=["table", "outcome"])
            for outcome, count in self.objects.items():
                objects.add_metric([self.table, outcome.value], count)
            yield objects
            yield gauge("pgarchiver_rows_archived", "Rows archived by the last run.", self.rows)
            yield gauge("pgarchiver_bytes_read", "Uncompressed bytes archived by the last run.", self.bytes_read)
            yield gauge("pgarchiver_bytes_stored", "Bytes stored by the last run.", self.bytes_stored)
            yield gauge("pgarchiver_run_duration_seconds", "Duration of the last run.",
                        round(self.seconds if self.finished else self.wall() - self.started, 3))
            yield gauge("pgarchiver_last_run_timestamp_seconds", "When the last run started.", round(self.started))
            done = self.finished
            if done is not None and done.accounting is not None:  # alert on it: these rows cannot be dropped
                yield gauge("pgarchiver_rows_not_archived",
                            "Rows of the last run's range it did not archive (counted).", done.accounting.not_archived)
            if done is not None and not done.failures and not done.cancelled:
                yield gauge("pgarchiver_last_success_timestamp_seconds",
                            "When a run last finished without failures.", round(self.wall()))

    def registry(self) -> Any:
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)  # type: ignore[arg-type]
        return registry

    def render(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry()).decode()


def write_textfile(path: str | os.PathLike[str], metrics: RunMetrics) -> None:
    """Atomically (a temporary file renamed over it): node_exporter must never read half a file."""
    from prometheus_client import write_to_textfile

    write_to_textfile(os.fspath(path), metrics.registry())


def serve(metrics: RunMetrics, port: int, host: str = "127.0.0.1") -> WSGIServer:
    """Serve the metrics on loopback by default (never all interfaces unless asked) from a daemon thread;
    `shutdown()` the server it returns when the run is over."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=metrics.registry())
    return server
