"""Engine events cross from worker threads to the UI thread here, to be drawn in batches."""

from __future__ import annotations

import threading

from pgarchiver_tui.core.events import Event


class EventBuffer:
    """`put` from any thread (it is the engine's emit callback); the UI thread `drain`s on a timer, so a
    burst of progress events costs one redraw instead of one each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []

    def put(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def drain(self) -> list[Event]:
        with self._lock:
            events, self._events = self._events, []
        return events
