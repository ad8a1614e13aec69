"""Run progress: by bytes, rows when bytes are unknown; honest after skips and cancels; ETA from the recent rate."""

from __future__ import annotations

from pgarchiver_tui.tui.progress import Expected, RunProgress, eta_text
from tests.tui.support import FixedClock


def progress(*expected: Expected) -> tuple[RunProgress, FixedClock]:
    clock = FixedClock()
    run = RunProgress(clock, window=10.0)
    run.begin(expected)
    return run, clock


def test_one_big_object_moves_the_bar_before_it_is_done() -> None:
    run, clock = progress(Expected("big", rows=1_000_000, size=300_000_000), Expected("small", 1_000, 300_000))
    assert run.unit == "bytes"
    clock.advance(5)
    run.progressed("big", rows=360_000, size=108_000_000)
    assert 0.35 < run.fraction < 0.37  # a third of the big one: a third of the run, not 0 of 2 objects
    clock.advance(5)
    run.progressed("big", rows=1_000_000)
    assert run.fraction < 1.0  # rows reached the estimate, but only its result says it is done
    run.finished("big", "done")
    run.finished("small", "done")
    assert run.fraction == 1.0


def test_skipped_objects_leave_the_run_instead_of_counting_as_done() -> None:
    run, _ = progress(*(Expected(str(n), 100, 1_000) for n in range(4)))
    run.finished("0", "skipped")
    run.finished("1", "skipped")
    assert run.fraction == 0.0  # half skipped is not half done
    run.finished("2", "done")
    assert run.fraction == 0.5
    assert run.count("skipped") == 2 and run.remaining == 1


def test_a_cancel_shows_what_was_done_not_100_percent() -> None:
    run, _ = progress(*(Expected(str(n), 100, 1_000) for n in range(4)))
    run.finished("0", "done")
    run.progressed("1", rows=50)
    run.finished("1", "cancelled")  # cut short: what it had read is not archived
    for n in "23":
        run.finished(n, "cancelled")
    assert run.fraction == 0.25 and run.remaining == 0 and run.eta_seconds() is None


def test_rows_weigh_when_sizes_are_unknown_and_objects_when_both_are() -> None:
    run, _ = progress(Expected("a", rows=300), Expected("b", rows=100))
    assert run.unit == "rows"
    run.finished("a", "done")
    assert run.fraction == 0.75
    run, _ = progress(Expected("a"), Expected("b"))
    assert run.unit == "objects"
    run.finished("a", "done")
    assert run.fraction == 0.5


def test_eta_follows_the_recent_rate() -> None:
    run, clock = progress(Expected("a", rows=1000, size=1000), Expected("b", rows=1000, size=1000))
    assert run.eta_seconds() is None  # nothing measured yet
    for _ in range(10):  # fast: 100 rows a second
        clock.advance(1)
        run.progressed("a", rows=run.items["a"].done * 1000 + 100)
    fast = run.eta_seconds()
    assert fast is not None and 9 < fast < 12
    run.finished("a", "done")
    for step in range(1, 21):  # then slow: 10 rows a second, for longer than the window
        clock.advance(1)
        run.progressed("b", rows=10 * step)
    slow = run.eta_seconds()
    assert slow is not None and 75 < slow < 85  # 800 rows left at 10/s, not the whole run's average
    assert eta_text(slow).startswith("ETA 1:")
    assert eta_text(None) == "ETA --:--" and eta_text(3725) == "ETA 1:02:05"


def test_a_stalled_run_has_no_eta() -> None:
    run, clock = progress(Expected("a", rows=1000, size=1000))
    clock.advance(1)
    run.progressed("a", rows=100)
    clock.advance(1)
    run.progressed("a", rows=200)
    assert run.eta_seconds() is not None
    for _ in range(15):  # no progress for longer than the window
        clock.advance(1)
        run.sample()
    assert run.eta_seconds() is None
