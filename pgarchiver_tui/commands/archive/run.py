"""Plan → worker pool → results: archives jobs, emitting events; knows nothing of how they are shown."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from pgarchiver_tui import __version__
from pgarchiver_tui.cache import Cache, Record, now_iso
from pgarchiver_tui.commands.archive.identity import collision
from pgarchiver_tui.core.accounting import TableAccount
from pgarchiver_tui.core.errors import ArchiverError, Cancelled, ConfigError, IntegrityError, WriteConflict
from pgarchiver_tui.core.events import (
    Event,
    JobProgress,
    JobResult,
    JobStarted,
    Notice,
    Outcome,
    RunFinished,
    RunStarted,
    Stage,
)
from pgarchiver_tui.core.model import Column, Job, ObjectFacts, Slice, facts_from_json
from pgarchiver_tui.core.sidecars import legacy_sidecar_key, sidecar_key, sidecar_keys
from pgarchiver_tui.db.connection import first_line, scalar, translate
from pgarchiver_tui.db.discovery import columns_of
from pgarchiver_tui.pipeline import codecs, digest, formats
from pgarchiver_tui.pipeline.source import copy_out
from pgarchiver_tui.runner.retry import RetryPolicy
from pgarchiver_tui.runner.throttle import RateLimiter
from pgarchiver_tui.runner.workers import ConnectedWorkers
from pgarchiver_tui.storage import Finding, ObjectInfo, Storage

PROGRESS_INTERVAL = 0.2  # seconds between progress events of one worker
# why an object is skipped; the row accounting reads the rows these results carry
SKIP_RECORDED = "already archived (cache and destination agree)"
SKIP_FOUND = "found in the destination with matching facts; recorded in the cache"
SKIP_EMPTY = "no rows in this window"


@dataclass(frozen=True)
class ArchiveOptions:
    conninfo: str
    format: str = "jsonl"
    compression: str = "zstd"
    level: int | None = None
    zstd_threads: int = 0
    workers: int = 1
    dry_run: bool = False
    force: bool = False
    statement_timeout_ms: int = 0
    lock_timeout_ms: int = 0
    retry: RetryPolicy = RetryPolicy()
    max_rate_mb: float = 0.0  # MB/s read from the database by the whole run; 0: unlimited
    pause_seconds: float = 0.0  # between two objects of one worker

    @property
    def extension(self) -> str:
        fmt = formats.get_format(self.format)
        codec = codecs.get_codec(self.outer_compression)
        return f"{fmt.extension}.{codec.extension}" if codec.extension else fmt.extension

    @property
    def outer_compression(self) -> str:
        return "none" if formats.get_format(self.format).inner_compression else self.compression

    @property
    def effective_level(self) -> int:
        return self.level if self.level is not None else codecs.get_codec(self.compression).default_level


class ArchiveRun:
    """One run over a plan. `run()` blocks; `cancel()` may be called from any thread or a signal handler."""

    def __init__(self, jobs: list[Job], options: ArchiveOptions, storage: Storage, cache: Cache | None,
                 emit: Callable[[Event], None], notes: Iterable[str] = (),
                 clock: Callable[[], float] = time.monotonic,
                 account: Callable[[list[JobResult]], TableAccount] | None = None) -> None:
        self.jobs = jobs
        self.account = account  # where every row went, from the results: the run's row accounting
        self.options = options
        self.storage = storage
        self.cache = cache
        self.emit = emit
        self.notes = list(notes)
        self.clock = clock
        self._workers: ConnectedWorkers[Job] = ConnectedWorkers(
            options.conninfo, options.workers, options.statement_timeout_ms, options.lock_timeout_ms,
            snapshot=True)
        self.cancelled = self._workers.cancelled
        self._lock = threading.Lock()
        self._results: list[JobResult] = []
        self._existing: set[str] = set()  # keys the destination held when the run started
        self._limiter = RateLimiter(options.max_rate_mb * 1e6, self.cancelled) if options.max_rate_mb else None

    # -- control -------------------------------------------------------------------------------------------
    def cancel(self) -> None:
        self._workers.cancel()

    # -- the run -------------------------------------------------------------------------------------------
    def run(self) -> RunFinished:
        started = self.clock()
        self.emit(RunStarted(len(self.jobs), self.options.workers, sum(j.estimated_rows for j in self.jobs),
                             self.storage.url, self.options.dry_run))
        for note in self.notes:
            self.emit(Notice(note))
        with self.storage.findings.listening(self._learned):
            return self._archive(started)

    def _learned(self, finding: Finding) -> None:
        """What the store does differently from the contract: said once, in the log and the run's notices."""
        self.notes.append(finding.message)
        self.emit(Notice(finding.message))
        if finding.leftover is not None and self.cache is not None:
            self.cache.remember_leftover(finding.leftover.key, finding.leftover.upload_id, finding.message)

    def _archive(self, started: float) -> RunFinished:
        todo: list[Job] = []
        try:
            for job, reason, rows in self._decide(self.jobs):
                if reason is None:
                    todo.append(job)
                else:
                    self._finish(JobResult(job, Outcome.SKIPPED, reason=reason, rows=rows))
        except ArchiverError as exc:  # the destination cannot even be listed: nothing can be archived
            decided = {r.job.key for r in self._results}
            for job in self.jobs:
                if job.key not in decided:
                    self._finish(JobResult(job, Outcome.FAILED, reason=str(exc), category=exc.category,
                                           retryable=exc.retryable))
            return self._finished(started)
        for job in self._workers.each(todo, self._work, "archive"):  # never started: the run was cancelled
            self._finish(JobResult(job, Outcome.CANCELLED, reason="not started: run cancelled"))
        return self._finished(started)

    def _finished(self, started: float) -> RunFinished:
        order = {job.key: n for n, job in enumerate(self.jobs)}
        results = sorted(self._results, key=lambda r: order.get(r.job.key, 0))
        accounting = self.account(results) if self.account else None
        finished = RunFinished(results, self.notes, self.clock() - started, self.cancelled.is_set(), accounting)
        self.emit(finished)
        return finished

    def _finish(self, result: JobResult) -> None:
        with self._lock:
            self._results.append(result)
        self.emit(result)

    def _decide(self, jobs: list[Job]) -> Iterator[tuple[Job, str | None, int]]:
        """Skip what is archived already, from one listing per prefix instead of a HEAD per object.

        Yields each job with the reason to skip it (None: archive it) and the rows a skipped object holds.
        """
        if self.options.force or self.options.dry_run:
            for job in jobs:
                yield job, None, 0
            return
        listing = self._listing([job.key for job in jobs])
        self._existing = set(listing)
        rebuilt = 0
        for job in jobs:
            info = listing.get(job.key)
            if info is None:
                yield job, None, 0
                continue
            has_facts = any(name in listing for name in sidecar_keys(job.key))
            record = self.cache.get(job.key) if self.cache else None
            if record and collision(job, record.schema, record.table_name, "recorded in the cache"):
                facts = self._read_facts(job.key) if has_facts else None
                owner = (facts.schema, facts.table) if facts else (record.schema, record.table_name)
                evidence = "its sidecar facts say so" if facts else "recorded in the cache"
                if clash := collision(job, *owner, evidence):
                    self._finish(JobResult(job, Outcome.FAILED, category="configuration", reason=clash))
                    continue
                record = None  # a stale record of another table: the object's own facts say it is ours
            if record and record.status == "archived" and _matches(info, record.bytes_out, record.etag) \
                    and has_facts:
                yield job, SKIP_RECORDED, record.rows
                continue
            facts = self._read_facts(job.key) if has_facts else None
            if facts is None or not _matches(info, facts.bytes_out, facts.etag):
                yield job, None, 0  # an object without its facts is an interrupted write: redo it
                continue
            if clash := collision(job, facts.schema, facts.table, "its sidecar facts say so"):
                self._finish(JobResult(job, Outcome.FAILED, category="configuration", reason=clash))
                continue
            if self.cache:
                self.cache.record_archived(_record_from_facts(facts))
                rebuilt += 1
            yield job, SKIP_FOUND, facts.rows
        if rebuilt:  # a lost or reset cache, or a run killed before it recorded: say so, it is no failure
            note = (f"the cache had no record of {rebuilt} object(s) the destination holds; recorded them from "
                    "their sidecar facts")
            self.notes.append(note)
            self.emit(Notice(note))

    def _listing(self, keys: list[str]) -> dict[str, ObjectInfo]:
        prefixes = {key.rsplit("/", 1)[0] + "/" if "/" in key else "" for key in keys}
        if len(prefixes) > 16:  # many folders: one listing of what they share is fewer calls
            common = _common_prefix(keys)
            prefixes = {common.rsplit("/", 1)[0] + "/" if "/" in common else ""}
        wanted = set(keys) | {name for k in keys for name in sidecar_keys(k)}
        return {info.key: info for prefix in prefixes for info in self.storage.list(prefix) if info.key in wanted}

    def _read_facts(self, key: str) -> ObjectFacts | None:
        """The object's facts, under their name or the name earlier versions gave them."""
        for name in sidecar_keys(key):
            data = self.storage.get_bytes(name)
            if data:
                try:
                    return facts_from_json(data)
                except (ValueError, TypeError):
                    return None
        return None

    # -- a worker ------------------------------------------------------------------------------------------
    def _work(self, worker: int, job: Job) -> None:
        self._finish(self._archive_one(worker, job))
        if self.options.pause_seconds:
            self.cancelled.wait(self.options.pause_seconds)

    def _archive_one(self, worker: int, job: Job) -> JobResult:
        """Archive one job, retrying transient failures; a job is atomic, so a retry starts clean."""
        started = self.clock()
        delays = self.options.retry.delays()
        attempt = 1
        while True:
            result = self._attempt(worker, job)
            retryable = result.outcome is Outcome.FAILED and result.retryable
            delay = next(delays, None) if retryable else None
            if delay is None or self.cancelled.is_set() or \
                    self.clock() - started + delay > self.options.retry.budget_seconds:
                return replace(result, attempts=attempt, seconds=self.clock() - started)
            attempt += 1
            self.emit(Notice(f"{job.key}: {result.reason} [{result.category}]; retrying in {delay:.1f}s "
                             f"(attempt {attempt} of {self.options.retry.attempts})"))
            if self.cancelled.wait(delay):
                return replace(result, outcome=Outcome.CANCELLED, attempts=attempt - 1,
                               reason=f"cancelled while waiting to retry after: {result.reason}")

    def _attempt(self, worker: int, job: Job) -> JobResult:
        started_at = now_iso()
        started = self.clock()
        progress = _Progress(self, worker, job, started)
        self.emit(JobStarted(worker, job))
        progress.stage(Stage.CONNECTING)
        try:
            conn = self._workers.connection(worker)
            result: JobResult | None = None
            try:
                with conn.transaction():
                    result = self._stream(conn, worker, job, progress, started_at)
            except psycopg.Error as exc:
                self._workers.drop_connection(worker)
                if result is not None:
                    # only the commit of the read-only transaction failed: the object is stored, checked and
                    # recorded, so redoing it would only find it there and misreport it as another run's
                    return result
                raise translate(exc, self.cancelled.is_set()) from None
            except BaseException:
                self._workers.drop_connection(worker)
                raise
            return result
        except WriteConflict as exc:
            return JobResult(job, Outcome.SKIPPED, worker, reason=str(exc), seconds=self.clock() - started)
        except ArchiverError as exc:
            outcome = Outcome.CANCELLED if isinstance(exc, Cancelled) else Outcome.FAILED
            error = str(exc) or exc.category
            if outcome is Outcome.FAILED and self.cache and not self.options.dry_run:
                self.cache.record_failure(_record(job, self.options, started_at), error)
            return JobResult(job, outcome, worker, reason=error, category=exc.category,
                             retryable=exc.retryable, seconds=self.clock() - started)
        except Exception as exc:  # noqa: BLE001 - one job's surprise must not end the run
            error = f"{type(exc).__name__}: {first_line(exc)}"
            if self.cache and not self.options.dry_run:
                self.cache.record_failure(_record(job, self.options, started_at), error)
            return JobResult(job, Outcome.FAILED, worker, reason=error, category="error",
                             seconds=self.clock() - started)

    def _stream(self, conn: psycopg.Connection, worker: int, job: Job, progress: _Progress,
                started_at: str) -> JobResult:
        options = self.options
        fmt = formats.get_format(options.format)
        codec = codecs.get_codec(options.outer_compression)
        cursor = conn.cursor()
        if not options.dry_run:
            self._claim(cursor, job)
        if job.skip_if_empty and not any(_has_rows(cursor, job, part) for part in job.slices):
            return JobResult(job, Outcome.SKIPPED, worker, reason=SKIP_EMPTY)
        columns = _common_columns(conn, job)
        counted = {"server_rows": 0, "header_lines": 0}

        def rows() -> Generator[bytes, None, None]:
            for n, part in enumerate(job.slices):
                statement = fmt.copy_out(_selection(job, part), columns, first=n == 0)
                chunks = copy_out(cursor, statement, self.cancelled, progress.read)
                yield from self._limiter.limit(chunks) if self._limiter else chunks
                counted["server_rows"] += max(cursor.rowcount, 0)
                counted["header_lines"] += fmt.header_lines(first=n == 0)
            progress.stage(Stage.UPLOADING)

        raw = digest.Tally()
        stored_tally = digest.Tally()
        source = rows()
        chunks = digest.count(fmt.encode(source, columns, options.compression, options.effective_level), raw)
        chunks = codecs.compress(chunks, codec, options.effective_level, options.zstd_threads)
        chunks = progress.written(digest.hash_sha256(chunks, stored_tally))
        progress.stage(Stage.READING)
        try:
            if options.dry_run:
                for _ in chunks:
                    pass
            else:
                # no-clobber when the key was free at the start: a concurrent run's object is never overwritten
                stored = self.storage.write(job.key, chunks, self.cancelled,
                                            if_absent=job.key not in self._existing and not options.force)
        finally:
            # a write that failed mid-stream leaves the COPY running: end it now, or the rollback waits forever
            source.close()
        rows_read = progress.rows - counted["header_lines"]
        if rows_read != counted["server_rows"]:
            raise IntegrityError(f"read {rows_read} rows but the server sent {counted['server_rows']}")
        seconds = self.clock() - progress.started
        if options.dry_run:
            return JobResult(job, Outcome.DRY_RUN, worker, reason=f"would write {job.key}", rows=rows_read,
                             bytes_in=raw.bytes, bytes_out=stored_tally.bytes, seconds=seconds)
        progress.stage(Stage.CHECKING)
        self._check(job.key, stored.size, stored.etag, stored_tally)
        progress.stage(Stage.RECORDING)
        facts = ObjectFacts(
            key=job.key, schema=job.schema, table=job.table,
            sources=[part.source.qualified for part in job.slices],
            period_start=job.period.start.isoformat(), period_end=job.period.end.isoformat(),
            duration=job.duration.value, format=options.format, compression=options.outer_compression,
            columns=columns, rows=rows_read, bytes_in=raw.bytes, bytes_out=stored.size,
            sha256=stored_tally.sha256, etag=stored.etag, part_sizes=stored.part_sizes,
            tool_version=__version__, created_at=now_iso(),
        )
        try:
            self.storage.put_bytes(sidecar_key(job.key), json.dumps(asdict(facts), indent=1).encode())
            if job.key in self._existing or options.force:  # facts under the old name would describe the old object
                self.storage.delete(legacy_sidecar_key(job.key))
        except BaseException:
            # an object without its facts would look like an interrupted write forever: take it back
            with contextlib.suppress(Exception):
                self.storage.delete(job.key)
            raise
        seconds = self.clock() - progress.started
        if self.cache:
            record = _record_from_facts(facts)
            record.started_at, record.finished_at, record.seconds = started_at, now_iso(), seconds
            self.cache.record_archived(record)
        return JobResult(job, Outcome.ARCHIVED, worker, rows=rows_read, bytes_in=raw.bytes,
                         bytes_out=stored.size, seconds=seconds)

    def _claim(self, cursor: psycopg.Cursor, job: Job) -> None:
        """Claim the object for this transaction with an advisory lock: runs on other hosts see it too.

        Raises WriteConflict when another run holds it, or finished it since this run listed the destination.
        """
        # the bucket or directory and the key, not the endpoint's spelling: every route to one object claims it
        claim = f"pgarchiver-tui:{self.storage.url.split('?')[0]}:{job.key}"
        if not scalar(cursor, "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (claim,)):
            raise WriteConflict(f"{job.key} is being archived by another run right now")
        # holding the claim, any unfinished write of this key is a dead run's (killed mid-upload): clear it
        for item in self.storage.unfinished(job.key):
            if item.key == job.key:
                self.storage.abort(item)
        if self.options.force:  # overwriting is asked for, but only ever this table's own object
            facts = self._read_facts(job.key) if self.storage.head(job.key) is not None else None
            if facts is not None and (clash := collision(job, facts.schema, facts.table, "its sidecar facts say so")):
                raise ConfigError(clash)
            return
        if job.key in self._existing:
            return
        info = self.storage.head(job.key)
        facts = self._read_facts(job.key) if info is not None else None
        if facts is not None and (clash := collision(job, facts.schema, facts.table, "its sidecar facts say so")):
            raise ConfigError(clash)  # another table's run wrote it meanwhile: a collision, not a skip
        if info is not None and facts is not None and _matches(info, facts.bytes_out, facts.etag):
            raise WriteConflict(f"{job.key} was archived by another run meanwhile")

    def _check(self, key: str, size: int, etag: str, sent: digest.Tally) -> None:
        """Compare what the store now holds at `key` with what was sent."""
        if size != sent.bytes:
            raise IntegrityError(f"{key}: the store took {size} bytes but {sent.bytes} were sent")
        info = self.storage.head(key)
        if info is None:
            raise IntegrityError(f"{key} is missing right after it was written")
        if info.size != size:
            raise IntegrityError(f"{key}: the store reports {info.size} bytes, {size} were written")
        if not self.storage.etag_is_md5 or not etag:
            return  # SSE-KMS, or a store whose tag is no digest of the bytes: size and the recorded SHA-256 remain
        stored_etag = info.etag if info.etag is not None else self.storage.checksum(key)
        if stored_etag != etag:
            raise IntegrityError(f"{key}: the store reports ETag {stored_etag}, expected {etag}")


class _Progress:
    """Counts what flows and emits throttled JobProgress events for one worker's job."""

    def __init__(self, run: ArchiveRun, worker: int, job: Job, started: float) -> None:
        self.run, self.worker, self.job, self.started = run, worker, job, started
        self.rows = self.bytes_in = self.bytes_out = 0
        self.current = Stage.CONNECTING
        self._last = 0.0

    def read(self, rows: int, size: int) -> None:
        self.rows += rows
        self.bytes_in += size
        self._maybe_emit()

    def written(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes_out += len(chunk)
            yield chunk

    def stage(self, stage: Stage) -> None:
        self.current = stage
        self._emit()

    def _maybe_emit(self) -> None:
        if self.run.clock() - self._last >= PROGRESS_INTERVAL:
            self._emit()

    def _emit(self) -> None:
        self._last = now = self.run.clock()
        self.run.emit(JobProgress(self.worker, self.job, self.current, self.rows, self.bytes_in, self.bytes_out,
                                  now - self.started))


def _selection(job: Job, part: Slice) -> formats.Selection:
    return formats.Selection.of(part, job.date_column)


def _has_rows(cursor: psycopg.Cursor, job: Job, part: Slice) -> bool:
    query = sql.SQL("SELECT EXISTS ({})").format(_selection(job, part).select(sql.SQL("1")))
    return bool(scalar(cursor, query))


def _common_columns(conn: psycopg.Connection, job: Job) -> list[Column]:
    distinct = {(p.source.schema, p.source.name) for p in job.slices}
    found = {name: columns_of(conn, *name) for name in sorted(distinct)}
    first = next(iter(found.values()))
    for (schema, name), columns in found.items():
        if columns != first:
            raise IntegrityError(f"{schema}.{name} has different columns from the other sources of "
                                 f"{job.label}; one object must have one set of columns")
    return first


def _matches(info: ObjectInfo, size: int, etag: str) -> bool:
    """The object listed is the one described; an empty recorded ETag: the store's tag is no digest."""
    return info.size == size and (info.etag is None or not etag or info.etag == etag)


def _common_prefix(keys: list[str]) -> str:
    first, last = min(keys), max(keys)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _record(job: Job, options: ArchiveOptions, started_at: str) -> Record:
    return Record(
        key=job.key, schema=job.schema, table_name=job.table, period_start=job.period.start.isoformat(),
        period_end=job.period.end.isoformat(), duration=job.duration.value, status="failed",
        sources=",".join(p.source.qualified for p in job.slices), format=options.format,
        compression=options.outer_compression, started_at=started_at,
    )


def _record_from_facts(facts: ObjectFacts) -> Record:
    return Record(
        key=facts.key, schema=facts.schema, table_name=facts.table, period_start=facts.period_start,
        period_end=facts.period_end, duration=facts.duration, status="archived", sources=",".join(facts.sources),
        format=facts.format, compression=facts.compression, rows=facts.rows, bytes_in=facts.bytes_in,
        bytes_out=facts.bytes_out, etag=facts.etag, sha256=facts.sha256, finished_at=facts.created_at,
    )


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
