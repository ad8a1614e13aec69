"""What a purge removed, when, and on which proof: a small JSON object beside each archived object it relied on.

Written twice: as an intent (status "purging", with the database transaction's id) before the transaction that
removes the rows commits, and as "purged" once it has. A run killed between the two leaves the intent; the next
run asks the server whether that transaction committed (`txid_status`) and finishes or redoes the period. Another
host sees the same records, since they live with the archive and not in a local cache.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass, field

from pgarchiver_tui import __version__
from pgarchiver_tui.core.errors import StorageError
from pgarchiver_tui.core.sidecars import PURGE_RECORD_SUFFIX, sidecar_key
from pgarchiver_tui.core.units import rows_text
from pgarchiver_tui.storage import Storage

PURGING, PURGED = "purging", "purged"


@dataclass
class RemovedTarget:
    """One relation dropped or detached, or one window of rows deleted."""

    schema: str
    name: str
    action: str  # drop | detach | delete
    window: list[str] | None = None  # [start, end) of the deleted rows' date column; None: the whole relation
    rows: int = 0

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}"

    def describe(self, dry_run: bool = False) -> str:
        verb = {"drop": "dropped", "detach": "detached", "delete": "deleted"}[self.action]
        if dry_run:
            verb = f"would {self.action}"
        if self.window is None:
            return f"{verb} {self.relation} ({rows_text(self.rows)})"
        start, end = (moment.removesuffix("T00:00:00").replace("T", " ") for moment in self.window)
        return f"{verb} {rows_text(self.rows)} of {self.relation} in [{start}, {end})"


@dataclass
class ProvenObject:
    key: str
    sha256: str
    bytes_out: int
    rows: int  # read back, decoded and loaded: every record parsed


@dataclass
class Proof:
    """Archive and live rows compared in one snapshot: counts and order-independent row fingerprints."""

    objects: list[ProvenObject]
    archived_rows: int
    archived_fingerprint: str  # the sum of the rows' 64-bit hashes, as `verify --deep` computes it
    live_rows: int
    live_fingerprint: str


@dataclass
class PurgeRecord:
    status: str  # purging | purged
    schema: str
    table: str
    period_start: str
    period_end: str
    keys: list[str]  # every object the period's proof read
    targets: list[RemovedTarget]
    proof: Proof
    method: str = "transaction"  # transaction | concurrently (DETACH PARTITION … CONCURRENTLY)
    xid: int | None = None  # the removing transaction, while it may not have committed yet
    database: str = ""  # host:port/dbname, never a password
    host: str = field(default_factory=socket.gethostname)
    started_at: str = ""
    purged_at: str = ""
    tool_version: str = __version__

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.targets)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()


def record_key(key: str) -> str:
    return sidecar_key(key, PURGE_RECORD_SUFFIX)


def record_from_json(data: bytes) -> PurgeRecord:
    raw = json.loads(data)
    proof = raw.pop("proof")
    objects = [ProvenObject(**o) for o in proof.pop("objects")]
    return PurgeRecord(**{**raw, "targets": [RemovedTarget(**t) for t in raw["targets"]],
                          "proof": Proof(objects=objects, **proof)})


def read_record(storage: Storage, key: str) -> PurgeRecord | None:
    """The record beside object `key`; None when there is none. A record that cannot be parsed is an error:
    it may be the only trace of a purge."""
    data = storage.get_bytes(record_key(key))
    if data is None:
        return None
    try:
        return record_from_json(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise StorageError(f"purge record {record_key(key)} is not valid: {exc}; look at it, then remove it "
                           "if it describes nothing") from None


def write_records(storage: Storage, record: PurgeRecord) -> None:
    """Beside every object the proof read: whichever of them a later run looks at tells the whole story."""
    data = record.to_json()
    for key in record.keys:
        storage.put_bytes(record_key(key), data)


def restore_records(storage: Storage, previous: dict[str, bytes | None]) -> None:
    """Put back what lay beside each object before an intent that never committed."""
    for key, data in previous.items():
        if data is None:
            storage.delete(record_key(key))
        else:
            storage.put_bytes(record_key(key), data)


def purged(storage: Storage, key: str) -> bool:
    """Whether a purge removed the live rows that object `key` holds (a record that cannot be read says no:
    the live comparison then shows what is wrong)."""
    try:
        record = read_record(storage, key)
    except StorageError:
        return False
    return record is not None and record.status == PURGED


def describe_removed(targets: list[RemovedTarget], dry_run: bool = False) -> str:
    """What went (or would go), in one line; windows that held no row are left out of it (not of the record)."""
    shown = [t for t in targets if t.action != "delete" or t.rows] or targets
    return "; ".join(t.describe(dry_run) for t in shown)
