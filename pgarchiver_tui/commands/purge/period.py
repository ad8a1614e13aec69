"""One period purged: proven, removed and recorded — or left exactly as it was, with the reason.

`purge_period(work, storage, plan, options)` is one attempt at one period on the run skeleton (runner/run.py:
the purge handler in run.py calls it with the table claimed). It knows nothing of how periods are scheduled or
shown: it takes the worker's autocommit connection, does everything inside one REPEATABLE READ transaction, and
returns the period's JobResult. In order:

1. The handler has claimed the table (a session advisory lock, `table_claim`): two purges of one table take
   turns, period by period.
2. Look beside the period's objects for purge records. An intent left by a run that died is resolved by asking
   the server whether its transaction committed (`txid_status`): then the record is completed; if not, the
   period is purged again from the start.
3. In one transaction: lock the relations to drop (SHARE: reads go on, writes wait), prove the archive against
   the live rows (proof.py), stage the rows of date windows, write the intent record beside every object, delete
   the windows' rows in paced batches, drop or detach the relations, commit.
4. Record the purge as done beside the objects; the handler records it in the cache (`cache_entries`).

With --detach-only, a single native partition whose parent has no default partition is detached with
`DETACH PARTITION … CONCURRENTLY` (which cannot run in a transaction): proven first, detached, then its rows are
fingerprinted again under a SHARE lock and must still be what was proven.

Outcomes: purged; skipped (purged before, by this or an interrupted run, or nothing left to purge); refused (not
proven, or not to be touched now: left untouched); failed; cancelled; dry-run (proven, nothing changed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors, sql

from pgarchiver_tui.cache import PurgeEntry, now_iso
from pgarchiver_tui.commands.purge.plan import PeriodPlan, Target
from pgarchiver_tui.commands.purge.proof import (
    Pacing,
    Proven,
    Refused,
    delete_staged,
    live_fingerprint,
    live_rows,
    prove,
    stage_rows,
)
from pgarchiver_tui.commands.purge.record import (
    PURGED,
    PURGING,
    Proof,
    PurgeRecord,
    RemovedTarget,
    describe_removed,
    read_record,
    record_key,
    restore_records,
    write_records,
)
from pgarchiver_tui.core.errors import ArchiverError, Cancelled, IntegrityError
from pgarchiver_tui.core.events import JobResult, Outcome, Stage
from pgarchiver_tui.core.model import Job, Slice, SourceKind
from pgarchiver_tui.core.periods import Duration, Period
from pgarchiver_tui.core.units import rows_text
from pgarchiver_tui.db.connection import first_line, scalar, translate
from pgarchiver_tui.runner.run import Attempt
from pgarchiver_tui.runner.throttle import RateLimiter
from pgarchiver_tui.storage import Storage

DEFAULT_BATCH_ROWS = 10_000
DEFAULT_LOCK_TIMEOUT_MS = 5_000  # when --lock-timeout is not given: a DROP queued behind a long query blocks
# every later query on the table, so purge never waits long for a lock


@dataclass(frozen=True)
class PurgeOptions:
    date_column: str | None = None
    detach_only: bool = False
    dry_run: bool = False
    batch_rows: int = DEFAULT_BATCH_ROWS
    max_rate_mb: float = 0.0  # MB/s of deleted rows; 0: unlimited
    pause_seconds: float = 0.0  # between two delete batches (and, in a run, between two periods)
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS  # the connection's; said in refusals
    database: str = ""  # host:port/dbname, for the records


def table_claim(schema: str, table: str) -> str:
    """The name of the advisory lock a purge of the table holds while it works on one of its periods."""
    return f"pgarchiver-purge:{schema}.{table}"


def period_job(plan: PeriodPlan, date_column: str | None = None) -> Job:
    """The period as events and the report name it: by its label, its relations as the job's slices."""
    period = plan.period or Period(datetime.min, datetime.min)
    duration = plan.objects[0].duration if plan.objects else Duration.DAILY
    slices = tuple(Slice(t.source, t.window) for t in plan.targets)
    return Job(plan.schema, plan.table, period, duration, plan.label, slices, date_column)


def period_result(plan: PeriodPlan, date_column: str | None, outcome: Outcome, reason: str = "", category: str = "",
                  *, removed: list[RemovedTarget] | None = None, proof: Proof | None = None,
                  method: str = "transaction", purged_at: str = "") -> JobResult:
    """A period's result; its detail says which objects proved it, what was (or would be) removed, how, when, and
    on which proof."""
    removed = removed or []
    detail: dict[str, Any] = {"keys": plan.keys, "removed": [asdict(t) for t in removed],
                              "proof": asdict(proof) if proof is not None else None, "method": method,
                              "purged_at": purged_at or None}
    return JobResult(period_job(plan, date_column), outcome, reason=reason, category=category,
                     rows=sum(t.rows for t in removed), detail=detail)


def cache_entries(plan: PeriodPlan, record: PurgeRecord) -> list[PurgeEntry]:
    """What the cache keeps of a completed purge: one entry per object the proof read."""
    actions = describe_removed(record.targets)
    by_key = {o.key: o for o in record.proof.objects}
    entries = []
    for key in record.keys:
        obj = next((o for o in plan.objects if o.key == key), None)
        start, end = (obj.facts.period_start, obj.facts.period_end) if obj is not None and obj.facts \
            else (record.period_start, record.period_end)
        entries.append(PurgeEntry(key, record.schema, record.table, start, end, actions, record.rows,
                                  by_key[key].sha256 if key in by_key else "", record.proof.archived_fingerprint,
                                  record.purged_at, record_key(key)))
    return entries


def purge_period(work: Attempt, storage: Storage, plan: PeriodPlan, options: PurgeOptions,
                 completed: Callable[[PurgeRecord], None] | None = None) -> JobResult:
    """Prove and purge one period on the worker's connection, which must be in autocommit mode (transactions are
    this function's). `completed(record)`: a record this attempt completed as "purged", for the cache."""
    return _Period(work, storage, plan, options, completed).run()


class _Period:
    def __init__(self, work: Attempt, storage: Storage, plan: PeriodPlan, options: PurgeOptions,
                 completed: Callable[[PurgeRecord], None] | None) -> None:
        self.conn = work.connection()
        if not self.conn.autocommit:
            raise ValueError("purge_period needs a connection in autocommit mode")
        self.work, self.storage, self.plan, self.options = work, storage, plan, options
        self.cancel, self.completed = work.cancelled, completed
        self.method = "transaction"

    # -- outcomes ----------------------------------------------------------------------------------------------
    def result(self, outcome: Outcome, reason: str = "", category: str = "",
               removed: list[RemovedTarget] | None = None, proof: Proof | None = None,
               purged_at: str = "") -> JobResult:
        return period_result(self.plan, self.options.date_column, outcome, reason, category, removed=removed,
                             proof=proof, method=self.method, purged_at=purged_at)

    def refused(self, reason: str, proof: Proof | None = None) -> JobResult:
        return self.result(Outcome.REFUSED, reason, "refused", proof=proof)

    def step(self, message: str, routine: bool = True) -> None:
        """Routine steps are the stages' business; the others (delete batches, a concurrent detach) are told."""
        if not routine:
            self.work.tell(message)

    def run(self) -> JobResult:
        try:
            if self.options.dry_run:
                return self.dry_run()
            return self.purge()
        except Refused as exc:
            return self.refused(f"{exc}; left untouched", exc.proof)
        except Cancelled as exc:
            return self.result(Outcome.CANCELLED, f"{exc}; left untouched", exc.category)
        except psycopg.Error as exc:
            return self.database_error(exc)
        except ArchiverError as exc:
            return self.result(Outcome.FAILED, str(exc), exc.category)

    def database_error(self, exc: psycopg.Error) -> JobResult:
        if isinstance(exc, errors.LockNotAvailable):
            return self.refused(f"a lock was not granted within --lock-timeout ({self.options.lock_timeout_ms} ms): "
                                f"{first_line(exc)}; another session holds it; left untouched, rerun later")
        if isinstance(exc, errors.SerializationFailure):
            return self.refused("rows of the period changed while it was being purged "
                                f"({first_line(exc)}); left untouched, rerun")
        if isinstance(exc, errors.QueryCanceled) and self.cancel.is_set():
            return self.result(Outcome.CANCELLED, "cancelled; left untouched", "cancelled")
        error = translate(exc, cancelled=False)
        return self.result(Outcome.FAILED, f"{error}; left untouched", getattr(error, "category", "database"))

    # -- the purge ---------------------------------------------------------------------------------------------
    def purge(self) -> JobResult:
        plan = self.plan
        record = self.existing_record()
        if record is not None and record.status == PURGING:
            finished = self.resolve(record)
            if finished is not None:
                return finished
            record = None
        settled = self.settled(record)
        if settled is not None:
            return settled
        self.check_detachable()
        if record is not None:  # purged before, yet rows are there: restored since, or newer than the purge
            now = self.rows_in(plan.targets)
            if now != plan.archived_rows:
                return self.already(record, now)
            try:
                return self.prove_and_remove()
            except Refused as exc:
                return self.already(record, now, f"differ from the archived ones ({exc})")
        return self.prove_and_remove()

    def settled(self, record: PurgeRecord | None) -> JobResult | None:
        """The outcome when there is nothing to prove: purged before, nothing left, or refused up front."""
        plan = self.plan
        whole = [t for t in plan.targets if t.whole]
        windows = [t for t in plan.targets if not t.whole]
        present = [t for t in whole if self.attached(t)]
        if record is not None and (not plan.targets or self.removed_already(record)):
            if record.status == PURGING:  # a dry run: a real run finishes it
                return self.result(Outcome.SKIPPED, f"an interrupted purge (started {record.started_at}) removed it; "
                                   "a run without --dry-run completes its record", removed=record.targets)
            return self.already(record, self.rows_in(windows))
        if plan.refusal:
            raise Refused(plan.refusal)
        if not plan.targets or (not present and not windows):
            names = ", ".join(plan.gone or [t.label for t in whole]) or "its relations"
            return self.result(Outcome.SKIPPED, f"nothing to purge: {names} no longer exist(s) as part of "
                                               f"{plan.schema}.{plan.table}, and no purge record says why")
        if len(present) != len(whole) or plan.gone:
            missing = ", ".join([t.label for t in whole if t not in present] + plan.gone)
            raise Refused(f"partly gone: {missing} no longer exist(s) while the rest remains; the archive cannot "
                          "be compared with what is left")
        return None

    def prove_and_remove(self) -> JobResult:
        plan, options, conn = self.plan, self.options, self.conn
        concurrently = self.detach_concurrently()
        self.method = "concurrently" if concurrently else "transaction"
        keys = plan.keys
        previous: dict[str, bytes | None] = {}
        intent_written = committing = False
        try:
            with conn.transaction():
                cursor = conn.cursor()
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # before the snapshot is taken: nothing can write to them between the proof and the drop
                for target in plan.targets:
                    if target.whole:
                        self.step(f"locking {target.label}")
                        cursor.execute(sql.SQL("LOCK TABLE ONLY {} IN SHARE MODE").format(_ident(target)))
                xid = None if concurrently else int(scalar(cursor, "SELECT txid_current()"))
                self.work.meter.stage(Stage.CHECKING)
                proven = prove(cursor, self.storage, plan, options.date_column, self.cancel, self.step)
                staged = stage_rows(cursor, proven, options.date_column)
                removed = self.removal(proven, staged)
                previous = {key: self.storage.get_bytes(record_key(key)) for key in keys}
                intent = self.make_record(PURGING, removed, proven.proof, xid)
                write_records(self.storage, intent)
                intent_written = True
                self.work.meter.stage(Stage.REMOVING)
                if not concurrently:
                    self.remove(cursor, proven, removed)
                if self.cancel.is_set():
                    raise Cancelled("cancelled before the commit")
                committing = True
        except BaseException as exc:
            # the connection lost while the COMMIT was on its way: only the server knows; otherwise the
            # transaction certainly rolled back (COMMIT never sent, or answered with an error)
            unknown = committing and isinstance(exc, psycopg.Error) and conn.broken
            if unknown:
                return self.result(Outcome.FAILED, f"the commit's outcome is unknown ({first_line(exc)}); the purge record "
                                           "beside the objects lets a rerun tell and finish", "database")
            if intent_written:
                with contextlib.suppress(Exception):
                    restore_records(self.storage, previous)
            raise
        if concurrently:
            failed = self.detach_now(proven, previous)
            if failed is not None:
                return failed
        return self.finish(intent)

    def removal(self, proven: Proven, staged: dict[Target, int]) -> list[RemovedTarget]:
        removed = []
        for tally in proven.live:
            target = tally.target
            if target.window is not None:
                window = [target.window.start.isoformat(), target.window.end.isoformat()]
                removed.append(RemovedTarget(target.source.schema, target.source.name, "delete", window,
                                             staged.get(target, 0)))
            else:
                action = "detach" if self.options.detach_only else "drop"
                removed.append(RemovedTarget(target.source.schema, target.source.name, action, None, tally.rows))
        return removed

    def remove(self, cursor: psycopg.Cursor, proven: Proven, removed: list[RemovedTarget]) -> None:
        options = self.options
        limiter = RateLimiter(options.max_rate_mb * 1e6, self.cancel) if options.max_rate_mb else None
        pacing = Pacing(max(1, options.batch_rows), limiter, options.pause_seconds)
        for tally, what in zip(proven.live, removed, strict=True):
            if what.action == "delete":
                deleted = delete_staged(cursor, proven, tally.target, pacing, self.cancel, self.step)
                if deleted != what.rows:
                    raise IntegrityError(f"{deleted:,} rows deleted from {tally.target.label}, {what.rows:,} staged")
        # drops last: their exclusive locks (on the parent too) are held only until the commit that follows
        for tally, what in zip(proven.live, removed, strict=True):
            target = tally.target
            if what.action == "drop":
                self.step(f"dropping {target.label}")
                cursor.execute(sql.SQL("DROP TABLE {}").format(_ident(target)))
            elif what.action == "detach":
                self.step(f"detaching {target.label}")
                parent = self.parent(target)
                assert parent is not None  # check_detachable said so
                if target.source.kind is SourceKind.NATIVE:
                    cursor.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                        sql.Identifier(parent[0], parent[1]), _ident(target)))
                else:
                    cursor.execute(sql.SQL("ALTER TABLE {} NO INHERIT {}").format(
                        _ident(target), sql.Identifier(parent[0], parent[1])))

    def finish(self, record: PurgeRecord, reason: str = "") -> JobResult:
        self.work.meter.stage(Stage.RECORDING)
        record.status, record.xid, record.purged_at = PURGED, None, now_iso()
        write_records(self.storage, record)
        if self.completed is not None:
            self.completed(record)
        outcome = Outcome.PURGED if not reason else Outcome.SKIPPED
        text = reason or describe_removed(record.targets) + \
            f"; proven against {', '.join(record.keys)}"
        return self.result(outcome, text, removed=record.targets, proof=record.proof, purged_at=record.purged_at)

    def make_record(self, status: str, removed: list[RemovedTarget], proof: Proof, xid: int | None) -> PurgeRecord:
        period = self.plan.period
        assert period is not None
        return PurgeRecord(status, self.plan.schema, self.plan.table, period.start.isoformat(),
                           period.end.isoformat(), self.plan.keys, removed, proof, self.method, xid,
                           self.options.database, started_at=now_iso())

    # -- a dry run: the same proof, rolled back ---------------------------------------------------------------
    def dry_run(self) -> JobResult:
        plan = self.plan
        settled = self.settled(self.existing_record())
        if settled is not None:
            return settled
        self.check_detachable()
        with self.conn.transaction(force_rollback=True):
            cursor = self.conn.cursor()
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            self.work.meter.stage(Stage.CHECKING)
            proven = prove(cursor, self.storage, plan, self.options.date_column, self.cancel, self.step)
            removed = self.removal(proven, stage_rows(cursor, proven, self.options.date_column))
        self.method = "concurrently" if self.detach_concurrently() else "transaction"
        return self.result(Outcome.DRY_RUN, describe_removed(removed, dry_run=True) +
                           f"; proven against {', '.join(plan.keys)}", removed=removed, proof=proven.proof)

    # -- records left by earlier runs ---------------------------------------------------------------------------
    def existing_record(self) -> PurgeRecord | None:
        records = [r for r in (read_record(self.storage, key) for key in self.plan.keys) if r is not None]
        return max(records, key=lambda r: r.started_at) if records else None

    def resolve(self, record: PurgeRecord) -> JobResult | None:
        """An intent left by a run that stopped: finish it when its removal happened; None to purge anew."""
        when = f"started {record.started_at} on {record.host}"
        if record.method == "concurrently":
            return self.resolve_detach(record, when)
        status = None
        if record.xid is not None:
            try:
                status = scalar(self.conn, "SELECT txid_status(%s)", (record.xid,))
            except psycopg.Error:
                status = None  # from another cluster, or too far in the past to tell
        if status == "committed":
            self.method = record.method
            return self.finish(record, f"purged by an interrupted run ({when}); its record is completed now")
        if status == "aborted":
            for key in record.keys:  # that run's intent never happened
                self.storage.delete(record_key(key))
            return None
        if status == "in progress":
            raise Refused(f"the purge {when} is still running (transaction {record.xid})")
        if all(t.window is None and not self.exists(t.schema, t.name) for t in record.targets):
            self.method = record.method
            return self.finish(record, f"purged by an interrupted run ({when}); its record is completed now")
        raise Refused(f"a purge {when} was interrupted and the server can no longer tell whether it committed; "
                      f"compare the database with {record_key(record.keys[0])}, then remove that record")

    def resolve_detach(self, record: PurgeRecord, when: str) -> JobResult | None:
        [target] = record.targets
        parent = self.parent_of(target.schema, target.name)
        self.method = "concurrently"
        if parent is not None and parent[2]:  # "detach pending": the interrupted DETACH … CONCURRENTLY
            self.step(f"finishing the detach of {target.relation}", routine=False)
            self.conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {} FINALIZE").format(
                sql.Identifier(parent[0], parent[1]), sql.Identifier(target.schema, target.name)))
            return self.finish(record, f"the detach of {target.relation} ({when}) was finished now")
        if parent is None:
            return self.finish(record, f"{target.relation} was detached by an interrupted run ({when}); its record "
                                       "is completed now")
        for key in record.keys:  # still attached: that detach never happened
            self.storage.delete(record_key(key))
        return None

    # -- detaching --------------------------------------------------------------------------------------------
    def check_detachable(self) -> None:
        if not self.options.detach_only:
            return
        for target in self.plan.targets:
            if not target.whole:
                raise Refused(f"rows of {target.label} cannot be detached (they are a date window of a table): "
                              "purge without --detach-only to delete them")
            if self.parent(target) is None:
                raise Refused(f"{target.label} is attached to nothing: --detach-only would leave it as it is; purge "
                              "without --detach-only to drop it")

    def detach_concurrently(self) -> bool:
        """Where the server allows it: PostgreSQL 14+, one native partition, a parent without a default one."""
        if not self.options.detach_only or len(self.plan.targets) != 1:
            return False
        target = self.plan.targets[0]
        if not target.whole or target.source.kind is not SourceKind.NATIVE or self.conn.info.server_version < 140000:
            return False
        parent = self.parent(target)
        if parent is None:
            return False
        has_default = self.conn.execute(
            "SELECT p.partdefid <> 0 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid JOIN "
            "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s", parent[:2]).fetchone()
        return has_default is not None and not has_default[0]

    def detach_now(self, proven: Proven, previous: dict[str, bytes | None]) -> JobResult | None:
        """DETACH … CONCURRENTLY after the proof's commit, then prove that the rows are still the proven ones."""
        [target] = self.plan.targets
        parent = self.parent(target)
        assert parent is not None
        self.step(f"detaching {target.label} concurrently", routine=False)
        try:
            self.conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {} CONCURRENTLY").format(
                sql.Identifier(parent[0], parent[1]), _ident(target)))
        except psycopg.Error:
            state = self.parent(target)
            if state is not None and not state[2]:  # still attached: nothing happened
                with contextlib.suppress(Exception):
                    restore_records(self.storage, previous)
                raise
            return self.result(Outcome.FAILED, f"{target.label} was left \"detach pending\" (the DETACH … CONCURRENTLY was "
                                       "interrupted); a rerun finishes it", "database")
        with self.conn.transaction():
            cursor = self.conn.cursor()
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(sql.SQL("LOCK TABLE ONLY {} IN SHARE MODE").format(_ident(target)))
            now = live_fingerprint(cursor, [target], proven.columns, self.options.date_column)
        proof = proven.proof
        if now != (proof.live_rows, _int(proof.live_fingerprint)):
            with contextlib.suppress(Exception):
                restore_records(self.storage, previous)
            return self.result(Outcome.FAILED, f"{target.label} was detached, but its rows changed between the proof and the "
                                       f"detach ({now[0]:,} rows now, {proof.live_rows:,} proven): the detached table "
                                       "is not what the archive holds; archive it again before dropping it",
                               "integrity")
        return None

    # -- the catalog ------------------------------------------------------------------------------------------
    def parent(self, target: Target) -> tuple[str, str, bool] | None:
        return self.parent_of(target.source.schema, target.source.name)

    def parent_of(self, schema: str, name: str) -> tuple[str, str, bool] | None:
        """The immediate parent (schema, name, detach pending) of a partition or inheritance child."""
        row = self.conn.execute(
            """SELECT pn.nspname, pc.relname, i.inhdetachpending
                 FROM pg_inherits i
                 JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                WHERE n.nspname = %s AND c.relname = %s""", (schema, name)).fetchone()
        return (row[0], row[1], bool(row[2])) if row else None

    def exists(self, schema: str, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
                                 "n.nspname = %s AND c.relname = %s", (schema, name)).fetchone() is not None

    def attached(self, target: Target) -> bool:
        """The relation is still there and still the table's (a detached partition no longer is)."""
        row = self.conn.execute(
            "SELECT c.relispartition FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
            "n.nspname = %s AND c.relname = %s", (target.source.schema, target.source.name)).fetchone()
        if row is None:
            return False
        return bool(row[0]) or target.source.kind is not SourceKind.NATIVE

    def already(self, record: PurgeRecord, newer: int, why: str = "arrived later and are not archived") -> JobResult:
        note = f"; {rows_text(newer)} now in its window(s) {why}" if newer else ""
        return self.result(Outcome.SKIPPED, f"purged on {record.purged_at} (record beside {self.plan.keys[0]}){note}",
                           removed=record.targets, proof=record.proof, purged_at=record.purged_at)

    def removed_already(self, record: PurgeRecord) -> bool:
        """No relation the record drops or detaches is part of the table now (discovery says what is; the
        catalog, whether it still is at this moment). A record of deleted windows alone says nothing here:
        their rows are counted instead."""
        removed = [(t.schema, t.name) for t in record.targets if t.action != "delete"]
        live = {(t.source.schema, t.source.name): t for t in self.plan.targets if t.whole}
        return bool(removed) and not any(name in live and self.attached(live[name]) for name in removed)

    def rows_in(self, targets: list[Target]) -> int:
        """Rows the targets hold now (a relation whole, or a window's)."""
        total = 0
        for target in targets:
            query = live_rows(target, self.options.date_column, sql.SQL("1"))
            total += int(scalar(self.conn, sql.SQL("SELECT count(*) FROM ({}) AS r").format(query)))
        return total


def _ident(target: Target) -> sql.Identifier:
    return sql.Identifier(target.source.schema, target.source.name)


def _int(text: str) -> int:
    return -int(text[1:], 16) if text.startswith("-") else int(text, 16)

