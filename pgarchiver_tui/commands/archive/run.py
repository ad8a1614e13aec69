"""Archiving jobs: the archive command's handler on the run skeleton (runner/run.py).

The skeleton plans, claims, retries and reports; this module says how one job is archived and which jobs a
listing of the destination shows to be archived already. It knows nothing of how events are shown.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from pgarchiver_tui import __version__
from pgarchiver_tui.cache import Cache, Record, now_iso
from pgarchiver_tui.commands.archive import split
from pgarchiver_tui.commands.archive.identity import collision
from pgarchiver_tui.commands.holdings import object_claim
from pgarchiver_tui.core.accounting import TableAccount
from pgarchiver_tui.core.errors import CacheError, ConfigError, IntegrityError, WriteConflict
from pgarchiver_tui.core.events import Emit, JobResult, Outcome, Stage
from pgarchiver_tui.core.model import Column, Job, ObjectFacts, Slice, facts_from_json
from pgarchiver_tui.core.sidecars import legacy_sidecar_key, sidecar_key, sidecar_keys
from pgarchiver_tui.db.connection import scalar, translate
from pgarchiver_tui.db.discovery import columns_of
from pgarchiver_tui.pipeline import codecs, digest, formats
from pgarchiver_tui.pipeline.source import CopyCount, copy_out
from pgarchiver_tui.runner.retry import RetryPolicy
from pgarchiver_tui.runner.run import Attempt, Claim, JobHandler, ObjectRun, RunOptions
from pgarchiver_tui.runner.throttle import RateLimiter
from pgarchiver_tui.storage import Finding, ObjectInfo, Storage

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
    zstd_threads: int | None = None  # None: one thread beside the reading up to level 12 (codecs.zstd_threads)
    split: int = 1  # readers of one partition, on one exported snapshot (commands/archive/split.py)
    workers: int = 1
    dry_run: bool = False
    force: bool = False
    statement_timeout_ms: int = 0
    lock_timeout_ms: int = 0
    retry: RetryPolicy = RetryPolicy()
    max_rate_mb: float = 0.0  # MB/s read from the database by the whole run; 0: unlimited
    pause_seconds: float = 0.0  # between two objects of one worker
    date_column: str | None = None  # the column that dates the rows: --date-column or the range partition key

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


class ArchiveHandler(JobHandler[Job]):
    """Archiving one job: COPY → format → compress → hash → store → check → sidecar facts → cache."""

    command = "archive"

    def __init__(self, options: ArchiveOptions, storage: Storage, cache: Cache | None,
                 account: Callable[[list[JobResult]], TableAccount] | None = None) -> None:
        self.options, self.storage, self.cache = options, storage, cache
        self._account = account  # where every row went, from the results: the run's row accounting
        self._existing: set[str] = set()  # keys the destination held when the run started
        self._limiter: RateLimiter | None = None

    def job(self, item: Job) -> Job:
        return item

    def session(self, run: ObjectRun[Job]) -> contextlib.AbstractContextManager[object]:
        """While the run lasts, what the store does differently from the contract is said once, in the log
        and the run's notices, and a refused abort is remembered for verify and health."""
        def learned(finding: Finding) -> None:
            run.note(finding.message, "info")
            if finding.leftover is not None and self.cache is not None:
                self.cache.remember_leftover(finding.leftover.key, finding.leftover.upload_id, finding.message)
        return self.storage.findings.listening(learned)

    def account(self, results: list[JobResult]) -> TableAccount | None:
        return self._account(results) if self._account else None

    # -- before the workers: skip what is archived already ---------------------------------------------------
    def prepare(self, run: ObjectRun[Job]) -> Iterator[JobResult]:
        """Skip what is archived already, from one listing per prefix instead of a HEAD per object."""
        if self.options.max_rate_mb:
            self._limiter = RateLimiter(self.options.max_rate_mb * 1e6, run.cancelled)
        if self.options.force or self.options.dry_run:
            return
        jobs = run.items
        listing = self._listing([job.key for job in jobs])
        self._existing = set(listing)
        rebuilt = 0
        for job in jobs:
            info = listing.get(job.key)
            if info is None:
                continue
            has_facts = any(name in listing for name in sidecar_keys(job.key))
            record = self.cache.get(job.key) if self.cache else None
            if record and collision(job, record.schema, record.table_name, "recorded in the cache"):
                facts = self._read_facts(job.key) if has_facts else None
                owner = (facts.schema, facts.table) if facts else (record.schema, record.table_name)
                evidence = "its sidecar facts say so" if facts else "recorded in the cache"
                if clash := collision(job, *owner, evidence):
                    yield JobResult(job, Outcome.FAILED, category="configuration", reason=clash)
                    continue
                record = None  # a stale record of another table: the object's own facts say it is ours
            if record and record.status == "archived" and _matches(info, record.bytes_out, record.etag) \
                    and has_facts:
                yield JobResult(job, Outcome.SKIPPED, reason=SKIP_RECORDED, rows=record.rows)
                continue
            facts = self._read_facts(job.key) if has_facts else None
            if facts is None or not _matches(info, facts.bytes_out, facts.etag):
                continue  # an object without its facts is an interrupted write: redo it
            if clash := collision(job, facts.schema, facts.table, "its sidecar facts say so"):
                yield JobResult(job, Outcome.FAILED, category="configuration", reason=clash)
                continue
            if self.cache:
                self._record(_record_from_facts(facts))
                rebuilt += 1
            yield JobResult(job, Outcome.SKIPPED, reason=SKIP_FOUND, rows=facts.rows)
        if rebuilt:  # a lost or reset cache, or a run killed before it recorded: say so, it is no failure
            run.note(f"the cache had no record of {rebuilt} object(s) the destination holds; recorded them from "
                     "their sidecar facts")

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

    def _record(self, record: Record) -> None:
        assert self.cache is not None
        try:
            self.cache.record_archived(record)
        except (sqlite3.Error, CacheError) as exc:
            raise CacheError(f"stored in the destination, but the cache cannot record it ({exc}); the next run "
                             "finds it there and records it") from None

    # -- a worker ------------------------------------------------------------------------------------------
    def claim(self, item: Job) -> Claim | None:
        if self.options.dry_run:
            return None
        return Claim(object_claim(self.storage.url, item.key),
                     busy=f"{item.key} is being archived by another run right now")

    def failed(self, item: Job, result: JobResult) -> None:
        if self.cache and not self.options.dry_run and result.category != "cache":
            self.cache.record_failure(_failed_record(item, self.options, now_iso()), result.reason)

    def attempt(self, work: Attempt, job: Job) -> JobResult:
        """One try at one job, in one read-only snapshot transaction."""
        started_at = now_iso()
        conn = work.connection()
        result: JobResult | None = None
        try:
            with conn.transaction():
                result = self._stream(conn, work, job, started_at)
        except psycopg.Error as exc:
            work.drop_connection()
            if result is not None:
                # only the commit of the read-only transaction failed: the object is stored, checked and
                # recorded, so redoing it would only find it there and misreport it as another run's
                return result
            raise translate(exc, work.cancelled.is_set()) from None
        return result

    def _stream(self, conn: psycopg.Connection, work: Attempt, job: Job, started_at: str) -> JobResult:
        options, progress = self.options, work.meter
        fmt = formats.get_format(options.format)
        codec = codecs.get_codec(options.outer_compression)
        cursor = conn.cursor()
        if not options.dry_run:
            self._check_claimed(job)
        if job.skip_if_empty and not any(_has_rows(cursor, job, part) for part in job.slices):
            return JobResult(job, Outcome.SKIPPED, reason=SKIP_EMPTY)
        columns = _common_columns(conn, job)
        counted = {"server_rows": 0, "header_lines": 0}

        def rows() -> Generator[bytes, None, None]:
            for n, part in enumerate(job.slices):
                statement = fmt.copy_out(_selection(job, part), columns, first=n == 0)
                copied = CopyCount()
                chunks = copy_out(cursor, statement, work.cancelled, progress.read, copied)
                yield from self._limiter.limit(chunks) if self._limiter else chunks
                counted["server_rows"] += copied.rows
                counted["header_lines"] += fmt.header_lines(first=n == 0)
            progress.stage(Stage.UPLOADING)

        raw = digest.Tally()
        stored_tally = digest.Tally()
        ranges = self._ranges(conn, job, fmt)
        reading = split.Reading(raw=raw)
        source: Generator[bytes, None, None]
        if ranges is not None:  # several readers on one snapshot, each compressing its own frames
            session = {"statement_timeout_ms": options.statement_timeout_ms,
                       "lock_timeout_ms": options.lock_timeout_ms}
            source = split.split_stream(conn, options.conninfo, session, _selection(job, job.slices[0]), ranges,
                                        fmt, columns, codec, options.effective_level, work.cancelled,
                                        progress.read, reading)
            chunks: Iterator[bytes] = source
        else:
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
                stored = self.storage.write(job.key, chunks, work.cancelled,
                                            if_absent=job.key not in self._existing and not options.force)
        finally:
            # a write that failed mid-stream leaves the COPY running: end it now, or the rollback waits forever
            source.close()
        if ranges is not None:
            counted["server_rows"], counted["header_lines"] = reading.server_rows, reading.header_lines
            progress.stage(Stage.UPLOADING)
        rows_read = progress.rows - counted["header_lines"]
        if rows_read != counted["server_rows"]:
            raise IntegrityError(f"read {rows_read} rows but the server sent {counted['server_rows']}")
        seconds = progress.seconds
        if options.dry_run:
            return JobResult(job, Outcome.DRY_RUN, reason=f"would write {job.key}", rows=rows_read,
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
            tool_version=__version__, created_at=now_iso(), date_column=job.date_column or options.date_column or "",
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
        seconds = progress.seconds
        if self.cache:
            record = _record_from_facts(facts)
            record.started_at, record.finished_at, record.seconds = started_at, now_iso(), seconds
            self._record(record)
        return JobResult(job, Outcome.ARCHIVED, rows=rows_read, bytes_in=raw.bytes, bytes_out=stored.size,
                         seconds=seconds)

    def _ranges(self, conn: psycopg.Connection, job: Job, fmt: formats.Format) -> list[tuple[int, int | None]] | None:
        """Block ranges for `--split`: one job of one source in a format the server writes (Parquet keeps one
        reader); None for a single reader."""
        if self.options.split < 2 or len(job.slices) != 1 or fmt.inner_compression:
            return None
        ranges = split.block_ranges(conn, _selection(job, job.slices[0]).relation, self.options.split)
        return ranges if len(ranges) > 1 else None

    def _check_claimed(self, job: Job) -> None:
        """Holding the claim (runner/run.py): clear a dead run's unfinished write of the key, and stop when another
        run finished the object since this run listed the destination (WriteConflict)."""
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


ArchiveRun = ObjectRun[Job]


def archive_run(jobs: list[Job], options: ArchiveOptions, storage: Storage, cache: Cache | None, emit: Emit,
                notes: Iterable[str] = (), clock: Callable[[], float] = time.monotonic,
                account: Callable[[list[JobResult]], TableAccount] | None = None) -> ArchiveRun:
    """An archive run over `jobs` on the run skeleton; `run()` blocks, `cancel()` from anywhere."""
    run_options = RunOptions(options.conninfo, options.workers, snapshot=True,
                             statement_timeout_ms=options.statement_timeout_ms,
                             lock_timeout_ms=options.lock_timeout_ms, retry=options.retry,
                             pause_seconds=options.pause_seconds, dry_run=options.dry_run, destination=storage.url)
    return ObjectRun(ArchiveHandler(options, storage, cache, account), jobs, run_options, emit, notes, clock)


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


def _failed_record(job: Job, options: ArchiveOptions, started_at: str) -> Record:
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
