"""The live state of a running command, published for other processes (the web viewer) as a JSON file.

A run's events (the same typed events the headless reporter and the TUI render) are folded into one small
document: the command, its destination, per-worker stage, rows and bytes, overall counts and the latest
results. It is written to `<cache dir>/runs/<pid>-<command>.json` by writing a temporary file and
`os.replace`-ing it over the old one, so a reader never sees half a document; at most a few times a second
(a flusher thread writes when something changed, and every few seconds anyway as a heartbeat), and removed
when the run ends. A process killed outright leaves its file behind: readers ignore files whose PID is gone
or whose heartbeat stopped (`is_current`).

Results of verify and restore are not imported here (they live in command modules that import this one's
neighbours): any event with a `key` and an `outcome` (or, for verify, `ok`) counts as one object's result,
and the run's last event (`RunFinished`, or a report with an `exit_code`) ends it.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pgarchiver_tui.cache import cache_base, cache_path
from pgarchiver_tui.core.events import JobProgress, JobResult, JobStarted, Notice, RunFinished, RunStarted

FORMAT_VERSION = 1
FLUSH_SECONDS = 0.25  # at most four writes a second
HEARTBEAT_SECONDS = 5.0  # rewritten this often even when idle, so a reader can tell a live run from a hung one
STALE_SECONDS = 60.0  # a file not rewritten for this long belongs to no running command
RECENT_RESULTS = 12
RECENT_NOTICES = 5


def runs_dir(cache_dir: str | None = None) -> Path:
    return cache_base(cache_dir) / "runs"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def is_current(state: dict[str, Any], now: float | None = None) -> bool:
    """Whether a run file read from disk describes a command that is still running on this host."""
    now = time.time() if now is None else now
    if state.get("host") == socket.gethostname() and not pid_alive(int(state.get("pid", 0))):
        return False
    return now - float(state.get("heartbeat", 0)) < STALE_SECONDS


def _outcome_of(event: object) -> str | None:
    """One object's outcome, for archive, verify and restore results alike; None for any other event."""
    if isinstance(event, JobResult):
        return event.outcome.value
    if not isinstance(getattr(event, "key", None), str):
        return None
    if isinstance(getattr(event, "ok", None), bool):  # verify's ObjectCheck
        return "cancelled" if getattr(event, "cancelled", False) else ("ok" if event.ok else "problem")  # type: ignore[attr-defined]
    outcome = getattr(event, "outcome", None)
    return str(getattr(outcome, "value", outcome)) if outcome is not None else None


def _ends_run(event: object) -> bool:
    return isinstance(event, RunFinished) or hasattr(event, "exit_code")


class LiveState:
    """An event consumer (call it with every event, from any thread) that publishes the run's state.

    Use it as a context manager around a run, or let the run's own start and end events open and close the
    file (the TUI, whose screens outlive a run, does that).
    """

    def __init__(self, command: str, cache_dir: str | None = None, *, flush_seconds: float = FLUSH_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.command = command
        self.path = runs_dir(cache_dir) / f"{os.getpid()}-{command}-{id(self):x}.json"
        self.cache_dir = cache_dir
        self.flush_seconds = flush_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._reset()

    def _reset(self) -> None:
        self.state: dict[str, Any] = {
            "version": FORMAT_VERSION, "command": self.command, "pid": os.getpid(), "host": socket.gethostname(),
            "started_at": _iso(self.clock()), "heartbeat": time.time(), "destination": "", "destination_id": "",
            "dry_run": False, "jobs": 0, "workers": 0, "estimated_rows": 0, "done": 0, "outcomes": {},
            "rows_done": 0, "bytes_in_done": 0, "bytes_out_done": 0, "tables": [], "active": {},
            "recent": [], "notices": [],
        }
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_RESULTS)
        self._notices: deque[str] = deque(maxlen=RECENT_NOTICES)

    # -- consuming events ----------------------------------------------------------------------------------
    def __call__(self, event: object) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
            return
        if self._flusher is None:
            return  # not inside a run
        with self._lock:
            self._apply(event)
        self._dirty.set()
        if _ends_run(event):
            self.close()

    def tee(self, emit: Callable[[Any], None]) -> Callable[[Any], None]:
        """`emit` followed by this: hand it to a run in place of `emit`."""
        def both(event: Any) -> None:
            emit(event)
            self(event)
        return both

    def _start(self, event: RunStarted) -> None:
        with self._lock:
            self._reset()
            self.state.update(destination=event.destination, destination_id=cache_path(event.destination).stem,
                              dry_run=event.dry_run, jobs=event.jobs, workers=event.workers,
                              estimated_rows=event.estimated_rows)
        if self._flusher is None:
            atexit.register(self.close)  # a run that died with an exception still leaves no file behind
            self._stop.clear()
            self._flusher = threading.Thread(target=self._flush_loop, name="live-state", daemon=True)
            self._flusher.start()
        self.write()  # at once: however short the run, a reader can see that it started

    def _apply(self, event: object) -> None:
        state = self.state
        if isinstance(event, (JobStarted, JobProgress)):
            job = event.job
            table = f"{job.schema}.{job.table}"
            if table not in state["tables"]:
                state["tables"].append(table)
            progress = event if isinstance(event, JobProgress) else None
            state["active"][str(event.worker)] = {
                "worker": event.worker, "key": job.key, "label": job.label, "table": table,
                "estimated_rows": job.estimated_rows,
                "stage": progress.stage.value if progress else "starting",
                "rows": progress.rows if progress else 0,
                "bytes_in": progress.bytes_in if progress else 0,
                "bytes_out": progress.bytes_out if progress else 0,
                "seconds": round(progress.seconds, 2) if progress else 0.0,
            }
        elif isinstance(event, Notice):
            self._notices.append(event.message)
            state["notices"] = list(self._notices)
        elif (outcome := _outcome_of(event)) is not None:
            self._result(event, outcome)

    def _result(self, event: Any, outcome: str) -> None:
        state = self.state
        key = event.job.key if isinstance(event, JobResult) else event.key
        worker = getattr(event, "worker", None)
        if worker is not None:
            state["active"].pop(str(worker), None)
        else:  # verify and restore results do not name their worker
            for number, active in list(state["active"].items()):
                if active["key"] == key:
                    del state["active"][number]
        rows = int(getattr(event, "rows", 0) or 0)
        state["done"] += 1
        state["outcomes"][outcome] = state["outcomes"].get(outcome, 0) + 1
        if outcome in ("archived", "dry-run", "ok", "restored", "purged"):
            state["rows_done"] += rows
            state["bytes_in_done"] += int(getattr(event, "bytes_in", 0) or 0)
            state["bytes_out_done"] += int(getattr(event, "bytes_out", 0) or 0)
        reason = getattr(event, "reason", "") or "; ".join(getattr(event, "problems", []) or [])
        self._recent.appendleft({"key": key, "outcome": outcome, "rows": rows, "reason": reason,
                                 "at": _iso(self.clock())})
        state["recent"] = list(self._recent)

    # -- publishing ----------------------------------------------------------------------------------------
    def _flush_loop(self) -> None:
        last_write = 0.0
        while not self._stop.is_set():
            changed = self._dirty.wait(HEARTBEAT_SECONDS)
            if self._stop.is_set():
                break
            if changed or time.monotonic() - last_write >= HEARTBEAT_SECONDS:
                self._dirty.clear()
                self.write()
                last_write = time.monotonic()
                self._stop.wait(self.flush_seconds)  # the rate limit: events arriving meanwhile are batched

    def write(self) -> None:
        with self._write_lock:  # one writer of the temporary file at a time (the flusher, or a caller)
            with self._lock:
                self.state["heartbeat"] = time.time()  # liveness is wall-clock time, whatever clock stamps show
                document = json.dumps(self.state, separators=(",", ":"))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp = self.path.with_name(f".{self.path.name}.tmp")
            try:
                temp.write_text(document)
                os.replace(temp, self.path)
            except OSError:
                temp.unlink(missing_ok=True)  # a full disk must not stop the run: the viewer just sees less

    def close(self) -> None:
        """End the run: stop writing and remove the file. Safe to call twice, and from the flusher's caller."""
        flusher, self._flusher = self._flusher, None
        atexit.unregister(self.close)
        self._stop.set()
        self._dirty.set()
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> LiveState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
