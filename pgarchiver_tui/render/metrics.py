"""Prometheus metrics of a run: a textfile for node_exporter, or served on a port during long runs."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pgarchiver_tui.core.events import Event, JobResult, Outcome, RunFinished, RunStarted

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class RunMetrics:
    """Counts events into Prometheus series; an event listener like the reporters."""

    def __init__(self, table: str, wall=time.time) -> None:
        self.table = table
        self.wall = wall
        self._lock = threading.Lock()
        self.objects = {outcome: 0 for outcome in Outcome}
        self.rows = self.bytes_read = self.bytes_stored = 0
        self.started = wall()
        self.seconds = 0.0
        self.finished: RunFinished | None = None

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
            elif isinstance(event, RunFinished):
                self.finished = event
                self.seconds = event.seconds

    def render(self) -> str:
        with self._lock:
            table = f'table="{_escape(self.table)}"'
            lines = [
                "# HELP pgarchiver_objects Objects handled by the last run, by outcome.",
                "# TYPE pgarchiver_objects gauge",
                *(f'pgarchiver_objects{{{table},outcome="{o.value}"}} {n}' for o, n in self.objects.items()),
                "# HELP pgarchiver_rows_archived Rows archived by the last run.",
                "# TYPE pgarchiver_rows_archived gauge",
                f"pgarchiver_rows_archived{{{table}}} {self.rows}",
                "# HELP pgarchiver_bytes_read Uncompressed bytes archived by the last run.",
                "# TYPE pgarchiver_bytes_read gauge",
                f"pgarchiver_bytes_read{{{table}}} {self.bytes_read}",
                "# HELP pgarchiver_bytes_stored Bytes stored by the last run.",
                "# TYPE pgarchiver_bytes_stored gauge",
                f"pgarchiver_bytes_stored{{{table}}} {self.bytes_stored}",
                "# HELP pgarchiver_run_duration_seconds Duration of the last run.",
                "# TYPE pgarchiver_run_duration_seconds gauge",
                f"pgarchiver_run_duration_seconds{{{table}}} {self.seconds if self.finished else self.wall() - self.started:.3f}",
                "# HELP pgarchiver_last_run_timestamp_seconds When the last run started.",
                "# TYPE pgarchiver_last_run_timestamp_seconds gauge",
                f"pgarchiver_last_run_timestamp_seconds{{{table}}} {self.started:.0f}",
            ]
            done = self.finished
            if done is not None and done.accounting is not None:  # alert on it: these rows cannot be dropped
                lines += [
                    "# HELP pgarchiver_rows_not_archived Rows of the last run's range it did not archive (counted).",
                    "# TYPE pgarchiver_rows_not_archived gauge",
                    f"pgarchiver_rows_not_archived{{{table}}} {done.accounting.not_archived}",
                ]
            if done is not None and not done.failures and not done.cancelled:
                lines += [
                    "# HELP pgarchiver_last_success_timestamp_seconds When a run last finished without failures.",
                    "# TYPE pgarchiver_last_success_timestamp_seconds gauge",
                    f"pgarchiver_last_success_timestamp_seconds{{{table}}} {self.wall():.0f}",
                ]
            return "\n".join(lines) + "\n"


def write_textfile(path: str | os.PathLike[str], text: str) -> None:
    """Atomically: node_exporter must never read half a file."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temp.write_text(text)
    os.chmod(temp, 0o644)
    os.replace(temp, target)


def serve(metrics: RunMetrics, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve /metrics on loopback by default (never all interfaces unless asked) from a daemon thread."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # only when asked: slow to import

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = metrics.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
