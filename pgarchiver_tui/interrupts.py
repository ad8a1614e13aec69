"""SIGINT and SIGTERM for a headless command, from its first moment to its last: exit 130 within seconds.

Python leaves SIGINT ignored when the process started with it ignored (a background job of a shell, some
service managers) and SIGTERM kills without a word: both are installed here explicitly.

- Before a run exists (connecting, discovering while a lock is awaited, checking the store) the first signal
  raises `Interrupted` in the main thread; psycopg answers a KeyboardInterrupt by cancelling the running
  query, and nothing has been written yet.
- During a run it calls the run's `cancel()`: running queries are cancelled, uploads aborted, temp files
  removed by the workers, and the run ends with its partial summary.
- Either way a watchdog ends the process `grace` seconds later if the clean-up is stuck (a store that stopped
  answering, a connection attempt still waiting for its timeout), and a second signal ends it at once. What
  such an exit leaves (an unfinished upload, a temp file) is cleared by the next run's claim of the key.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_INTERRUPTED = 130
GRACE_SECONDS = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: a closed terminal, a dropped SSH link


class Interrupted(KeyboardInterrupt):  # a KeyboardInterrupt: psycopg cancels the query it interrupts
    """A stop signal arrived while no run was there to cancel."""


def say(line: str) -> None:
    """Write one line to stderr from a signal handler: os.write, since a buffered stream may be mid-write."""
    try:
        os.write(2, (line + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


class StopSignals:
    def __init__(self, prog: str, grace: float = GRACE_SECONDS) -> None:
        self.prog = prog
        self.grace = grace
        self.received: str | None = None  # the name of the first stop signal
        self._cancel: Callable[[], None] | None = None
        self._previous: dict[int, object] = {}
        self._done = threading.Event()

    def install(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def uninstall(self) -> None:
        """Back to the handlers found at install (the TUI takes its keys itself); disarms the watchdog."""
        self._done.set()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    @contextmanager
    def cancelling(self, cancel: Callable[[], None]) -> Iterator[None]:
        """While a run goes: a stop signal cancels it instead of unwinding the main thread."""
        self._cancel = cancel
        if self.received:
            cancel()
        try:
            yield
        finally:
            # the run is over: a late signal lets its report and metrics be written, then the exit is 130
            self._cancel = _nothing

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            say(f"{self.prog}: {name} again: leaving at once")
            _leave()
        self.received = name
        threading.Thread(target=self._watchdog, name="stop-watchdog", daemon=True).start()
        if self._cancel is None:
            raise Interrupted(name)  # the command says it in one line as it unwinds
        say(f"{self.prog}: {name}: stopping: cancelling running queries and uploads (again to quit at once)")
        self._cancel()

    def _watchdog(self) -> None:
        if not self._done.wait(self.grace):
            say(f"{self.prog}: still stopping after {self.grace:g}s; leaving now (the next run clears what is "
                "left unfinished)")
            _leave()


def _leave() -> None:
    """Exit now, but never leave a child PostgreSQL (the demo's) running behind."""
    from pgarchiver_tui.db.throwaway import stop_all

    stop_all()
    os._exit(EXIT_INTERRUPTED)


def _nothing() -> None:
    return None
