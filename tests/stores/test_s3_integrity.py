"""What proves the bytes of an S3 write, on real servers on loopback: each body carries a Content-MD5 the store
can check (moto and s3rver do not check it, so a proxy in front of moto checks it as AWS does), no body is
SHA-256'd for the signature besides, and the first multipart object on a store whose ETag form is not yet known
is read back and compared part by part before the form is learned."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from typing import Any

import pytest
from faults.proxy import CORRUPT, Rule, running_proxy

from pgarchiver_tui.core.errors import IntegrityError, StorageError
from pgarchiver_tui.storage import s3
from tests.stores.conftest import Backend, MiB

BODIES = ("PutObject", "UploadPart")


@pytest.fixture(autouse=True)
def five_mib_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3, "FIRST_PART_BYTES", 5 * MiB)


def three_parts(seed: str) -> bytes:
    """11 MiB that no other object of the test shares: two 5 MiB parts and a short last one."""
    return hashlib.sha256(seed.encode()).digest() * (11 * MiB // 32) + os.urandom(7)


def write(storage: Any, key: str, data: bytes) -> Any:
    return storage.write(key, [data[i:i + MiB] for i in range(0, len(data), MiB)], threading.Event())


def md5_header(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def test_every_part_and_object_carries_a_content_md5_the_store_checks(moto: Backend) -> None:
    data = three_parts("checked")
    with running_proxy(moto.endpoint) as proxy:
        proxy.checks_content_md5 = True
        storage = moto.through(proxy.url).storage()
        stored = write(storage, "multi", data)
        write(storage, "single", b"one small object\n")
        storage.put_bytes("bytes", b"put in one call\n")
        clean = [(op, h.get("content-md5")) for op, h in proxy.headers_seen if op in BODIES]
        refused_before = proxy.count("UploadPart", ok=False) + proxy.count("PutObject", ok=False)
        damaged = proxy.add(Rule("UploadPart", CORRUPT, after=1))  # the second part of the next object
        with pytest.raises(StorageError) as refused:
            write(storage, "damaged", data)
        bad_digests = proxy.count("UploadPart", "arch/ive/damaged", ok=False)
        aborted = proxy.count("AbortMultipartUpload", "arch/ive/damaged", ok=True)

    assert refused_before == 0, proxy.seen  # every body came with the MD5 of the bytes it carried
    assert [op for op, _ in clean] == ["UploadPart"] * 3 + ["PutObject"] * 2 and all(md5 for _, md5 in clean)
    assert b"".join(moto.storage().read("multi")) == data and stored.size == len(data)
    assert damaged.faulted == 1 and bad_digests == 1 and aborted == 1
    assert "BadDigest" in str(refused.value) and refused.value.retryable  # sent again, the body may arrive whole
    assert moto.storage().head("damaged") is None


def test_no_request_body_is_sha256_signed_and_each_carries_its_md5(moto: Backend) -> None:
    storage = moto.storage()
    sent: list[tuple[str, dict[str, str], bytes]] = []

    def seen(request: Any, event_name: str, **_: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else request.body.getvalue() if request.body else b""
        headers = {n.lower(): v.decode() if isinstance(v, bytes) else v for n, v in request.headers.items()}
        sent.append((event_name.rsplit(".", 1)[1], headers, body))

    storage.client.meta.events.register("before-send.s3.*", seen)
    data = three_parts("unsigned")
    write(storage, "multi", data)
    write(storage, "single", b"one small object\n")
    storage.put_bytes("bytes", b"put in one call\n")

    bodies = [(op, headers, body) for op, headers, body in sent if op in BODIES]
    assert [op for op, _, _ in bodies] == ["UploadPart"] * 3 + ["PutObject"] * 2
    assert b"".join(body for op, _, body in bodies if op == "UploadPart") == data
    for op, headers, body in bodies:
        assert headers.get("content-md5") == md5_header(body), op
        assert "content-md5" in headers["authorization"].split("SignedHeaders=")[1].split(",")[0], op
    assert {headers.get("x-amz-content-sha256") for _, headers, _ in sent} == {"UNSIGNED-PAYLOAD"}, sent
    assert b"".join(storage.read("multi")) == data  # the store took the unsigned bodies


def test_the_first_multipart_object_on_a_whole_md5_store_is_read_back_part_by_part(s3rver: Backend) -> None:
    first, second, third = three_parts("first"), three_parts("second"), three_parts("third")
    with running_proxy(s3rver.endpoint) as proxy:
        storage = s3rver.through(proxy.url).storage()
        proxy.add(Rule("UploadPart", CORRUPT, after=1))  # s3rver keeps the damaged second part as it came
        with pytest.raises(IntegrityError) as damaged_first:
            write(storage, "first", first)
        learned_before = storage.findings.lacks("multipart-etag")
        stored = write(storage, "second", second)
        proxy.add(Rule("UploadPart", CORRUPT, after=1))
        with pytest.raises(IntegrityError) as damaged_third:
            write(storage, "third", third)
        read_back = {key.rsplit("/", 1)[1]: proxy.count("GetObject", key, ok=True)
                     for key in ("arch/ive/first", "arch/ive/second", "arch/ive/third")}

    assert "part 2 of 3 reads back with MD5" in str(damaged_first.value), damaged_first.value
    assert not learned_before  # a damaged object teaches nothing of the store
    assert stored.etag == hashlib.md5(second).hexdigest() and stored.size == len(second)
    assert storage.findings.lacks("multipart-etag")  # learned from the second, the first sound one
    assert "the store reports ETag" in str(damaged_third.value)  # checked by the MD5 computed in flight
    assert read_back == {"first": 1, "second": 1, "third": 0}
