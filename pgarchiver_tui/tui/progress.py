"""How far a run is, honestly: by bytes (rows when the sizes are unknown), with an ETA from the recent rate.

Each object weighs what it is expected to move: its size on disk (or the size of its stored object, for
verify and restore) when every object's size is known, else its expected rows, else one. An object being
worked on counts for the share of its rows (or bytes) done so far, never quite all of it until its result
arrives. An object skipped leaves the run — there is less to do, not more done — and one cancelled stays
undone, so a cancel never shows 100%. The ETA divides what is left by the rate of the last `window` seconds:
a run that slows down says so within a minute, not after averaging its whole past.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

RUNNING_CAP = 0.99  # a running object is never done until its result says so


@dataclass(frozen=True)
class Expected:
    """What one object is expected to move; 0 means unknown."""

    key: str
    rows: int = 0
    size: int = 0  # bytes: on disk (archive) or as stored (verify, restore)


@dataclass
class _Item:
    weight: float
    rows: int
    size: int
    done: float = 0.0  # 0..1
    state: str = "waiting"  # waiting | running | done | skipped | cancelled


class RunProgress:
    def __init__(self, clock: Callable[[], float], window: float = 30.0) -> None:
        self.clock = clock
        self.window = window
        self.items: dict[str, _Item] = {}
        self.unit = "objects"
        self.samples: deque[tuple[float, float]] = deque()  # (moment, weight done)
        self.started = clock()

    def begin(self, expected: Iterable[Expected]) -> None:
        expected = list(expected)
        if expected and all(e.size > 0 for e in expected):
            self.unit, weigh = "bytes", lambda e: float(e.size)
        elif expected and all(e.rows > 0 for e in expected):
            self.unit, weigh = "rows", lambda e: float(e.rows)
        else:
            self.unit, weigh = "objects", lambda e: 1.0
        self.items = {e.key: _Item(weigh(e), e.rows, e.size) for e in expected}
        self.started = self.clock()
        self.samples = deque([(self.started, 0.0)])

    # -- what happened -------------------------------------------------------------------------------------
    def progressed(self, key: str, rows: int = 0, size: int = 0) -> None:
        """`rows` and `size` done so far of object `key` (size in the same sense as its expected size)."""
        item = self.items.get(key)
        if item is None or item.state in ("done", "skipped", "cancelled"):
            return
        item.state = "running"
        if item.rows > 0:
            share = rows / item.rows
        elif item.size > 0:
            share = size / item.size
        else:
            share = 0.0
        item.done = min(max(share, item.done), RUNNING_CAP)
        self.sample()

    def finished(self, key: str, outcome: str) -> None:
        """`outcome`: done (archived, failed, dry run: nothing left to do for it), skipped or cancelled."""
        item = self.items.get(key)
        if item is None:
            return
        item.state = outcome
        if outcome == "done":
            item.done = 1.0
        elif outcome == "cancelled":
            item.done = 0.0
        self.sample()

    def sample(self) -> None:
        now = self.clock()
        self.samples.append((now, self.done_weight))
        while len(self.samples) > 2 and now - self.samples[1][0] > self.window:
            self.samples.popleft()

    # -- what it comes to ------------------------------------------------------------------------------------
    @property
    def total_weight(self) -> float:
        return sum(i.weight for i in self.items.values() if i.state != "skipped")

    @property
    def done_weight(self) -> float:
        return sum(i.weight * i.done for i in self.items.values() if i.state != "skipped")

    @property
    def fraction(self) -> float:
        total = self.total_weight
        if total <= 0:
            return 1.0 if self.items else 0.0  # everything skipped: nothing was left to do
        return min(self.done_weight / total, 1.0)

    def count(self, *states: str) -> int:
        return sum(1 for i in self.items.values() if i.state in states)

    @property
    def remaining(self) -> int:
        """Objects still to do (a cancelled one no longer will be)."""
        return self.count("waiting", "running")

    def rate(self) -> float | None:
        """Weight per second over the recent window; None until there is enough to tell."""
        if len(self.samples) < 2:
            return None
        (first, before), (last, now) = self.samples[0], self.samples[-1]
        if last - first < 1.0 or now <= before:
            return None
        return (now - before) / (last - first)

    def eta_seconds(self) -> float | None:
        left = self.total_weight - self.done_weight
        if left <= 0:
            return 0.0
        if not self.remaining:
            return None  # cancelled or failed: nothing more will come
        rate = self.rate()
        return None if rate is None else left / rate


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "ETA --:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"ETA {hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"ETA {rest // 60}:{rest % 60:02d}"
