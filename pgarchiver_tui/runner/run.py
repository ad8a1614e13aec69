"""One run skeleton for every command that works object by object (archive, verify, restore, purge).

    items (the command's plan)
      → handler.prepare: what is decided without a worker (skips from one listing, orphans found)
      → the worker pool: each worker with its own database connection (runner/workers.py)
      → per item: pause (--pause) → claim (an advisory lock) → handler.attempt → retries of transient
        failures with backoff and jitter (runner/retry.py) → exactly one JobResult
      → RunReport: summary, JSON and exit code (core/events.py)

A command is a small `JobHandler`; the skeleton does the rest:

    class SomeHandler(JobHandler[Thing]):
        command = "some"
        def job(self, item) -> Job                       # how events and the report name the item
        def attempt(self, work: Attempt, item) -> JobResult
            # one try: work.meter for progress, work.connection() for the database, work.cancelled,
            # work.tell() for a line worth showing (a delete batch);
            # raise an ArchiverError (its category and `retryable` decide the rest) or return the result
        # optional:
        def prepare(self, run) -> Iterable[JobResult]   # results decided up front; run.note() for notices
        def claim(self, item) -> Claim | None           # held around every attempt, on the worker's connection
        def failed(self, item, result) -> None          # bookkeeping of a failure (the cache)
        def finished(self, result) -> None              # bookkeeping of any result (verify's cache outcome)
        def session(self, run) -> ContextManager         # held while the run lasts (a store's findings)
        def account(self, results) -> TableAccount|None  # where every row went (archive's row accounting)

    run = ObjectRun(handler, items, RunOptions(...), emit)   # emit: any listener of core.events.Event
    report = run.run()                                     # blocks; run.cancel() from any thread or signal

What the skeleton promises: events are the typed union of core/events.py; every item gets exactly one
result, in plan order — an exception anywhere (a full cache disk, an overflow in a pause, a worker that dies)
becomes that item's failure with a category and a reason, and an item a cancel left unstarted is "cancelled";
the exit code follows from the results.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import psycopg

from pgarchiver_tui.core.accounting import TableAccount
from pgarchiver_tui.core.errors import ArchiverError, Cancelled, WriteConflict
from pgarchiver_tui.core.events import Emit, JobResult, Notice, Outcome, RunReport, RunStarted, Stage
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.db.connection import first_line, translate
from pgarchiver_tui.runner.progress import Meter
from pgarchiver_tui.runner.retry import RetryPolicy
from pgarchiver_tui.runner.workers import ConnectedWorkers

Item = TypeVar("Item")


@dataclass(frozen=True)
class RunOptions:
    conninfo: str | None = None  # None: no database (and no claims)
    workers: int = 1
    snapshot: bool = False  # each worker transaction a read-only REPEATABLE READ snapshot (archive)
    statement_timeout_ms: int = 0
    lock_timeout_ms: int = 0
    retry: RetryPolicy = RetryPolicy()
    pause_seconds: float = 0.0  # between two items of one worker
    dry_run: bool = False
    destination: str = ""  # for RunStarted and the report


@dataclass(frozen=True)
class Claim:
    """An advisory lock on the worker's connection, held around each attempt at an item: every run on any host
    that names the same thing waits (`wait`) or skips the item with `busy` as its reason."""

    name: str
    wait: bool = False
    busy: str = "being worked on by another run right now"
    # wait however long it takes, whatever the connection's lock_timeout: a claim of our own, not a lock on anyone's
    # data, held by the other run for one item at a time (two purges of a table take turns)
    patient: bool = False


class Attempt:
    """What one attempt at one item gets from the skeleton."""

    def __init__(self, run: ObjectRun, worker: int, meter: Meter) -> None:  # type: ignore[type-arg]
        self._run, self.worker, self.meter = run, worker, meter
        self.cancelled = run.cancelled

    def connection(self) -> psycopg.Connection:
        """The worker's own connection: opened on first use, and again after a failure dropped it."""
        return self._run.pool.connection(self.worker)

    def drop_connection(self) -> None:
        self._run.pool.drop_connection(self.worker)

    def notice(self, message: str, level: str = "warning") -> None:
        self._run.note(message, level)

    def tell(self, message: str) -> None:
        """A line for whoever shows the run (a delete batch done, say): an info Notice, not kept in the report."""
        self._run.emit(Notice(message, "info"))


class JobHandler(Generic[Item]):
    """A command's part of a run; see the module docstring."""

    command = "archive"
    nothing_is_failure = False  # a run with no result fails (verify: verifying nothing proves nothing)

    def job(self, item: Item) -> Job:
        raise NotImplementedError

    def estimated_rows(self, items: list[Item]) -> int:
        return sum(self.job(item).estimated_rows for item in items)

    def prepare(self, run: ObjectRun[Item]) -> Iterable[JobResult]:
        return ()

    def claim(self, item: Item) -> Claim | None:
        return None

    def attempt(self, work: Attempt, item: Item) -> JobResult:
        raise NotImplementedError

    def failed(self, item: Item, result: JobResult) -> None:
        """A failure to remember (the archive records it in the cache)."""

    def finished(self, result: JobResult) -> None:
        """Any result to remember (verify records its outcome in the cache)."""

    def session(self, run: ObjectRun[Item]) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()

    def account(self, results: list[JobResult]) -> TableAccount | None:
        return None


def result_of(job: Job, exc: BaseException, cancelled: bool = False) -> JobResult:
    """An exception as the item's result: a category and a one-line reason, whatever was raised."""
    if isinstance(exc, psycopg.Error):
        exc = translate(exc, cancelled)
    if isinstance(exc, WriteConflict):
        return JobResult(job, Outcome.SKIPPED, reason=str(exc))
    if isinstance(exc, Cancelled):
        return JobResult(job, Outcome.CANCELLED, reason=str(exc) or "cancelled", category=exc.category)
    if isinstance(exc, ArchiverError):
        return JobResult(job, Outcome.FAILED, reason=str(exc) or exc.category, category=exc.category,
                         retryable=exc.retryable)
    return JobResult(job, Outcome.FAILED, reason=f"{type(exc).__name__}: {first_line(exc)}", category="error")


class ObjectRun(Generic[Item]):
    """One run of a command over its items. `run()` blocks; `cancel()` may be called from any thread."""

    def __init__(self, handler: JobHandler[Item], items: list[Item], options: RunOptions, emit: Emit,
                 notes: Iterable[str] = (), clock: Callable[[], float] = time.monotonic) -> None:
        self.handler, self.items, self.options, self.emit, self.clock = handler, list(items), options, emit, clock
        self.notes = list(notes)
        self.pool: ConnectedWorkers[int] = ConnectedWorkers(
            options.conninfo, options.workers, options.statement_timeout_ms, options.lock_timeout_ms,
            snapshot=options.snapshot)
        self.cancelled = self.pool.cancelled
        self.jobs = [handler.job(item) for item in self.items]
        self._lock = threading.Lock()
        self._results: dict[int, JobResult] = {}
        self._unplanned: list[JobResult] = []  # results of nothing planned: orphans, unfinished uploads
        self._worked: set[int] = set()  # workers past their first item (the pause comes between items)

    @property
    def workers(self) -> int:
        return self.pool.workers

    def cancel(self) -> None:
        self.pool.cancel()

    def note(self, message: str, level: str = "warning") -> None:
        self.notes.append(message)
        self.emit(Notice(message, level))

    # -- the run -------------------------------------------------------------------------------------------
    def run(self) -> RunReport:
        with self.handler.session(self):
            return self._run()

    def _run(self) -> RunReport:
        started = self.clock()
        self.emit(RunStarted(len(self.items), self.workers, self.handler.estimated_rows(self.items),
                             self.options.destination, self.options.dry_run, self.handler.command))
        for message in self.notes:
            self.emit(Notice(message))
        todo: list[int] = []
        try:
            planned = {job.key: n for n, job in enumerate(self.jobs)}
            for result in self.handler.prepare(self):
                n = planned.get(result.key) if result.kind == "object" else None
                if n is None:
                    self._unplanned.append(result)
                    self.emit(result)
                else:
                    self._finish(n, result)
            todo = [n for n in range(len(self.items)) if n not in self._results]
        except Exception as exc:  # noqa: BLE001 - nothing can be done: each undecided item says why
            for n, job in enumerate(self.jobs):
                self._finish(n, result_of(job, exc))
        for n in self.pool.each(todo, self._work, self.handler.command, self._worker_failed):
            self._finish(n, JobResult(self.jobs[n], Outcome.CANCELLED, reason="not started: run cancelled"))
        for n, job in enumerate(self.jobs):  # the last guard: nothing planned goes unreported
            if self.cancelled.is_set():
                self._finish(n, JobResult(job, Outcome.CANCELLED, reason="not finished: run cancelled"))
            else:
                self._finish(n, JobResult(job, Outcome.FAILED, category="error",
                                          reason="its worker stopped before finishing it"))
        results = [self._results[n] for n in range(len(self.items))] + self._unplanned
        report = RunReport(results, self.notes, self.clock() - started, self.cancelled.is_set(),
                           self.handler.command, self.options.destination, self.handler.nothing_is_failure,
                           self.handler.account(results))
        self.emit(report)
        return report

    def _finish(self, n: int, result: JobResult) -> None:
        """Record the item's one result; a second one (after a listener failed, say) is ignored."""
        with self._lock:
            if n in self._results:
                return
            self._results[n] = result
        try:
            self.handler.finished(result)
        except Exception as exc:  # noqa: BLE001 - the bookkeeping failed: the item did not fully succeed
            failure = result_of(result.job, exc)
            result = replace(result, outcome=Outcome.FAILED, category=failure.category,
                             reason="; ".join(filter(None, (result.reason, f"then {failure.reason}"))))
            with self._lock:
                self._results[n] = result
        self.emit(result)

    def _worker_failed(self, worker: int, n: int, exc: Exception) -> None:
        with self._lock:
            done = n in self._results
        if done:  # the result stands; what failed after it (a listener, say) is said once
            self.note(f"after {self.jobs[n].key}: {type(exc).__name__}: {first_line(exc)}")
            return
        self.pool.drop_connection(worker)
        self._finish(n, replace(result_of(self.jobs[n], exc, self.cancelled.is_set()), worker=worker))

    # -- one item on a worker ------------------------------------------------------------------------------
    def _work(self, worker: int, n: int) -> None:
        if worker in self._worked and self.options.pause_seconds:
            self.cancelled.wait(self.options.pause_seconds)
        self._worked.add(worker)
        if self.cancelled.is_set():
            self._finish(n, JobResult(self.jobs[n], Outcome.CANCELLED, reason="not started: run cancelled"))
            return
        self._finish(n, self._with_retries(worker, n))

    def _with_retries(self, worker: int, n: int) -> JobResult:
        """Attempts at one item until one does not fail transiently; an item is atomic, so each starts clean."""
        item, job, policy = self.items[n], self.jobs[n], self.options.retry
        started = self.clock()
        delays = policy.delays()
        attempt = 1
        while True:
            result = self._attempt(worker, item, job)
            retry = result.outcome is Outcome.FAILED and result.retryable
            delay = next(delays, None) if retry else None
            if delay is None or self.cancelled.is_set() or self.clock() - started + delay > policy.budget_seconds:
                break
            attempt += 1
            self.note(f"{job.key}: {result.reason} [{result.category}]; retrying in {delay:.1f}s "
                      f"(attempt {attempt} of {policy.attempts})")
            if self.cancelled.wait(delay):
                result = replace(result, outcome=Outcome.CANCELLED, reason=f"cancelled while waiting to retry "
                                 f"after: {result.reason}")
                attempt -= 1
                break
        result = replace(result, worker=worker, attempts=attempt, seconds=self.clock() - started)
        if result.outcome is Outcome.FAILED:
            try:
                self.handler.failed(item, result)
            except Exception as exc:  # noqa: BLE001 - the failure stands; say that it was not recorded either
                result = replace(result, reason=f"{result.reason}; recording the failure failed too: "
                                 f"{result_of(job, exc).reason}")
        return result

    def _attempt(self, worker: int, item: Item, job: Job) -> JobResult:
        meter = Meter(self.emit, worker, job, self.clock)
        meter.stage(Stage.CONNECTING)
        try:
            with self._claimed(worker, self.handler.claim(item)):
                return self.handler.attempt(Attempt(self, worker, meter), item)
        except Exception as exc:  # noqa: BLE001 - one item's surprise is its own failure, never the run's
            if not isinstance(exc, WriteConflict):  # the next attempt starts on a fresh connection
                self.pool.drop_connection(worker)
            return replace(result_of(job, exc, self.cancelled.is_set()), worker=worker)

    @contextlib.contextmanager
    def _claimed(self, worker: int, claim: Claim | None) -> Iterator[None]:
        if claim is None or self.options.conninfo is None:
            yield
            return
        conn = self.pool.connection(worker)
        if claim.patient:
            _wait_patiently(conn, claim.name)
        elif claim.wait:
            _short(conn, "SELECT pg_advisory_lock(hashtextextended(%s, 0))", claim.name)
        elif not _short(conn, "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", claim.name):
            raise WriteConflict(claim.busy)
        try:
            yield
        finally:
            if not conn.closed and not conn.broken:  # a lost session took its locks with it
                try:
                    _short(conn, "SELECT pg_advisory_unlock(hashtextextended(%s, 0))", claim.name)
                except psycopg.Error:
                    self.pool.drop_connection(worker)


def _short(conn: psycopg.Connection, query: str, name: str) -> object:
    """One statement in a transaction of its own, also on a connection that is not in autocommit."""
    row = conn.execute(query, (name,)).fetchone()  # type: ignore[arg-type]
    if not conn.autocommit:
        conn.commit()
    return row[0] if row else None


def _wait_patiently(conn: psycopg.Connection, name: str) -> None:
    """The advisory lock, waited for without the connection's lock_timeout (a cancel still ends the wait)."""
    before = _short(conn, "SELECT current_setting(%s)", "lock_timeout")
    _short(conn, "SELECT set_config('lock_timeout', %s, false)", "0")
    try:
        _short(conn, "SELECT pg_advisory_lock(hashtextextended(%s, 0))", name)
    finally:
        if not conn.closed and not conn.broken:
            if not conn.autocommit:
                conn.rollback()  # a wait cancelled in a transaction leaves it failed
            _short(conn, "SELECT set_config('lock_timeout', %s, false)", str(before))
