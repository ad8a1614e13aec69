"""The storage contract (storage/base.py), run unchanged against every backend.

Each store keeps it with its own mechanism; what a store does differently is said in its findings, and the
findings each store gives are exactly those it really has (`Backend.quirks`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator

import pytest

from pgarchiver_tui.core.errors import Cancelled, WriteConflict
from pgarchiver_tui.storage import Storage
from pgarchiver_tui.storage.base import PROBE_DIR
from tests.stores.conftest import Backend, MiB

pytestmark = pytest.mark.usefixtures("small_parts")


def chunks_of(data: bytes, size: int = 300_000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def data_keys(storage: Storage, prefix: str = "") -> list[str]:
    """What the destination shows at final keys, leaving out the stores' own probes."""
    return sorted(info.key for info in storage.list(prefix) if not info.key.startswith(PROBE_DIR))


def test_write_read_list_delete_and_no_clobber(backend: Backend) -> None:
    storage = backend.storage()
    small, big = b"one small object\n", os.urandom(12 * MiB)  # big: several parts, blocks or chunks anywhere

    first = storage.write("t/a/small.bin", [small], threading.Event(), if_absent=True)
    second = storage.write("t/b/big.bin", chunks_of(big), threading.Event(), if_absent=True)

    assert (first.size, second.size) == (len(small), len(big))
    assert sum(second.part_sizes) == len(big)
    assert b"".join(storage.read("t/b/big.bin")) == big
    assert storage.get_bytes("t/a/small.bin") == small
    assert storage.get_bytes("t/a/missing.bin") is None
    listed = {info.key: info for info in storage.list("t/")}
    assert sorted(listed) == ["t/a/small.bin", "t/b/big.bin"]
    assert [info.key for info in storage.list("t/b/")] == ["t/b/big.bin"]
    for stored in (first, second):
        info = storage.head(stored.key)
        assert info is not None and info.size == stored.size == listed[stored.key].size
        if info.etag is not None:  # the store's digest, as recorded in the object's facts
            assert info.etag == stored.etag == listed[stored.key].etag == storage.checksum(stored.key)
    # the prefix of the URL goes before every key
    if backend.prefix:
        assert "arch/ive/t/b/big.bin" in data_keys(backend.storage(bare=True), "arch/")

    if "no-clobber" in backend.quirks:
        storage.write("t/a/small.bin", [b"clobbered\n"], threading.Event(), if_absent=True)
        assert storage.get_bytes("t/a/small.bin") == b"clobbered\n"  # what the finding warns of
    else:
        with pytest.raises(WriteConflict):
            storage.write("t/a/small.bin", [b"clobbered\n"], threading.Event(), if_absent=True)
        assert storage.get_bytes("t/a/small.bin") == small

    storage.delete("t/b/big.bin")
    storage.delete("t/b/never-there.bin")
    assert storage.head("t/b/big.bin") is None
    assert data_keys(storage, "t/") == ["t/a/small.bin"]
    assert {f.feature for f in storage.findings.items} == backend.quirks & {"no-clobber", "multipart-etag"}
    assert list(storage.list(PROBE_DIR)) == []  # the no-clobber probe took its object away again


def test_an_interrupted_write_leaves_nothing_at_its_key(backend: Backend) -> None:
    storage = backend.storage()
    data = os.urandom(7 * MiB)
    cancel = threading.Event()

    def stream() -> Iterator[bytes]:
        yield from chunks_of(data[: 6 * MiB])  # beyond the first part: an upload is open at the store
        cancel.set()
        yield data[6 * MiB:]

    with pytest.raises(Cancelled):
        storage.write("t/cut.bin", stream(), cancel, if_absent=True)

    assert storage.head("t/cut.bin") is None
    assert data_keys(storage) == []
    assert storage.unfinished("t/") == []  # aborted, or (where it cannot be) said in a finding
    learned = {f.feature for f in storage.findings.items}
    if "list-unfinished" in backend.quirks:
        assert "list-unfinished" in learned
    if backend.name == "s3rver":  # it refuses every abort: the upload is named, with how to clean it up
        [refused] = [f for f in storage.findings.items if f.feature == "abort"]
        assert refused.leftover is not None and refused.leftover.key == "t/cut.bin"
        assert refused.leftover.upload_id in refused.message and "abort-multipart-upload" in refused.message
    else:
        assert "abort" not in learned


def test_a_write_that_died_is_found_and_cleaned_where_the_store_lists_it(backend: Backend) -> None:
    storage = backend.storage()
    dead = _dead_upload(backend, storage, "t/dead.bin")
    found = storage.unfinished("t/")
    if dead is None:  # the store keeps no list of open uploads: a finding says so
        assert found == [] and "list-unfinished" in {f.feature for f in storage.findings.items}
        return
    assert [u.key for u in found] == ["t/dead.bin"]
    storage.abort(found[0])
    assert storage.unfinished("t/") == []
    assert storage.head("t/dead.bin") is None


def _dead_upload(backend: Backend, storage: Storage, key: str) -> str | None:
    """Start an upload the way the store's writer does and leave it, as a killed run would."""
    if backend.scheme == "file":
        from pgarchiver_tui.storage.local import TEMP_PREFIX

        path = storage.root / key  # type: ignore[attr-defined]
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{TEMP_PREFIX}1-1-{path.name}")
        temp.write_bytes(b"half")
        return str(temp)
    if backend.scheme == "s3":
        client = storage.client  # type: ignore[attr-defined]
        name = storage.prefix + key  # type: ignore[attr-defined]
        upload = client.create_multipart_upload(Bucket=backend.container, Key=name)["UploadId"]
        client.upload_part(Bucket=backend.container, Key=name, UploadId=upload, PartNumber=1, Body=b"x" * 100)
        return None if "list-unfinished" in backend.quirks else upload
    if backend.scheme == "az":
        import base64

        blob = storage._blob(key)  # type: ignore[attr-defined]
        blob.stage_block(base64.b64encode(b"dead-000001").decode(), b"half")
        return "uncommitted blocks"
    return None  # GCS: a resumable session nobody can list


def test_sha256_of_what_is_read_is_what_was_written(backend: Backend) -> None:
    storage = backend.storage()
    data = os.urandom(3 * MiB + 17)
    storage.write("t/whole.bin", chunks_of(data, 65536), threading.Event())
    digest = hashlib.sha256()
    for chunk in storage.read("t/whole.bin"):
        assert len(chunk) <= 8 * MiB  # streamed in bounded pieces, never the whole object at once
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
