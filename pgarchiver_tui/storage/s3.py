"""S3 and the stores that speak its protocol: streaming multipart upload in bounded memory.

S3-compatible stores differ from AWS in known places; each difference is learned once per run and said in
one finding, never by failing every object: a feature call answered NotImplemented (the listing of
unfinished uploads), a multipart ETag that is not AWS's MD5-of-part-MD5s (the whole object's MD5, or a tag
that is no digest at all), If-None-Match ignored, an abort refused.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from pgarchiver_tui.core.errors import (
    ConfigError,
    IntegrityError,
    PrivilegeError,
    StorageError,
    WriteConflict,
)
from pgarchiver_tui.pipeline.digest import multipart_etag
from pgarchiver_tui.storage import parts
from pgarchiver_tui.storage.base import Findings, ObjectInfo, StoredObject, Unfinished, key_prefix
from pgarchiver_tui.storage.probe import NoClobber

MiB = parts.MiB
FIRST_PART_BYTES = parts.FIRST_PART_BYTES  # read at call time: tests lower it
MIN_PART_BYTES = 5 * MiB  # S3's smallest part but the last
MAX_PARTS = 10_000
READ_BYTES = 1 << 20
TRANSIENT_CODES = ("SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
                   "RequestTimeTooSkewed", "BadDigest")  # BadDigest: a body damaged on its way, sent again
NOT_IMPLEMENTED = ("NotImplemented", "501")
REFUSED = ("MethodNotAllowed", "405", "NotImplemented", "501")


def part_size(part_number: int, first: int | None = None) -> int:
    """Size of part `part_number` (1-based) of a stream of unknown length (see parts.part_size)."""
    return parts.part_size(part_number, FIRST_PART_BYTES if first is None else first)


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    endpoint: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    profile: str | None = None
    sse: str | None = None  # AES256 | aws:kms
    sse_kms_key_id: str | None = None
    connect_timeout: float = 10.0  # seconds per attempt; botocore's default read timeout is 60 s, times 3
    read_timeout: float = 20.0  # attempts: a store that accepts and never answers would take minutes
    prefix: str = ""  # put before every key: s3://bucket/prefix/


REQUEST_ATTEMPTS = 4  # requests boto makes for one call before it gives up (the first one included)


def make_client(settings: S3Settings, attempts: int = REQUEST_ATTEMPTS, session: Any = None):
    """A client whose calls each make up to `attempts` requests (standard retry mode: backoff, throttling).

    A second client made from the same `session` costs a few milliseconds of CPU instead of about 80: the
    session keeps the service model and endpoint rules it loaded for the first. The client is botocore's own:
    boto3's session would add only the managed-transfer methods (upload_file…), whose import (s3transfer) and
    injection cost a run about 50 ms of CPU; the credential chain, profiles and AWS_* variables are botocore's.
    """
    # Since boto3 1.36 every upload carries checksum headers that several S3-compatible stores reject.
    # Every body we send carries Content-MD5 instead (content_md5): the store checks it and answers BadDigest.
    # payload_signing_enabled=False: S3SigV4Auth._should_sha256_sign_payload takes this explicit setting over
    # its own rule, which would SHA-256 every body a second time whenever the endpoint is http:// or no
    # checksum header is sent (x-amz-content-sha256 becomes UNSIGNED-PAYLOAD). The signature still covers the
    # Content-MD5 header, so the body stays bound to the request; on https with Content-MD5 botocore would
    # drop payload signing by itself. Bodies without Content-MD5 (CompleteMultipartUpload's list of parts)
    # are then unsigned too: the completed object is checked against the part MD5s and sizes sent.
    config = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"payload_signing_enabled": False},
        # total_max_attempts counts the first request; botocore's `max_attempts` would count only the retries
        retries={"mode": "standard", "total_max_attempts": attempts},
        max_pool_connections=32,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )
    session = session or botocore.session.Session(profile=settings.profile)
    return session.create_client(
        "s3", endpoint_url=settings.endpoint, region_name=settings.region,
        aws_access_key_id=settings.access_key, aws_secret_access_key=settings.secret_key, config=config,
    )


def content_md5(md5: bytes) -> str:
    """The Content-MD5 header of a body whose MD5 digest is `md5`."""
    return base64.b64encode(md5).decode("ascii")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def describe(exc: Exception, what: str) -> Exception:
    """Turn a boto error into one of ours, with one line that names the problem."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "") or code
        if code in ("NoSuchBucket",):
            return ConfigError(f"{what}: bucket does not exist; create it or fix the destination")
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
            return PrivilegeError(f"{what}: access denied ({code}); check the S3 credentials and policy")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        transient = status >= 500 and code not in NOT_IMPLEMENTED or code in TRANSIENT_CODES
        return StorageError(f"{what}: {code} {message}".strip(), retryable=transient)
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return StorageError(f"{what}: the store did not answer in time ({exc})", retryable=True)
    return StorageError(f"{what}: {exc}", retryable=isinstance(exc, BotoCoreError))


@dataclass(frozen=True)
class Sent:
    """One uploaded part: what CompleteMultipartUpload names it by, and the MD5 and size of its bytes."""

    done: dict
    md5: bytes
    size: int


def read_back_md5s(chunks: Iterable[bytes], sizes: list[int], whole: bool) -> tuple[list[bytes], int, str | None]:
    """The MD5s of a stream read back, cut at the sizes its parts were sent in (bytes past them count in the
    last), its length, and with `whole` the MD5 of all of it."""
    md5s: list[bytes] = []
    total = 0
    everything = hashlib.md5() if whole else None
    part, room = hashlib.md5(), sizes[0]
    for chunk in chunks:
        total += len(chunk)
        if everything is not None:
            everything.update(chunk)
        view = memoryview(chunk)
        while len(view) > room and len(md5s) < len(sizes) - 1:  # the chunk ends a part
            part.update(view[:room])
            md5s.append(part.digest())
            view, part, room = view[room:], hashlib.md5(), sizes[len(md5s)]
        part.update(view)
        room -= len(view)
    md5s.append(part.digest())
    return md5s, total, everything.hexdigest() if everything is not None else None


class S3Storage:
    conditional_header = "If-None-Match"

    def __init__(self, settings: S3Settings, client=None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = key_prefix(settings.prefix)
        # the session the client was made from, for another client to the same store (check_bucket's)
        self.session = None if client else botocore.session.Session(profile=settings.profile)
        self.client = client or make_client(settings, session=self.session)
        self.url = f"s3://{settings.bucket}/{self.prefix}" + (f"?endpoint={settings.endpoint}"
                                                              if settings.endpoint else "")
        self.etag_is_md5 = settings.sse != "aws:kms"
        self.first_part_bytes: int | None = None  # None: FIRST_PART_BYTES; the health probe uses the smallest
        self.min_part_bytes = MIN_PART_BYTES
        self.findings = Findings()
        self.conditional_writes = True  # until the store says it does not know If-None-Match
        self.no_clobber = NoClobber(self)
        self._multipart_etags = ""  # learned: "aws" | "whole-md5" | "opaque"
        self._learning = threading.Lock()
        self._encryption = {k: v for k, v in (("ServerSideEncryption", settings.sse),
                                              ("SSEKMSKeyId", settings.sse_kms_key_id)) if v}

    def _name(self, key: str) -> str:
        return self.prefix + key

    def _part_size(self, number: int) -> int:
        return part_size(number, self.first_part_bytes)

    # -- writing -------------------------------------------------------------------------------------------
    def write(self, key: str, chunks: Iterable[bytes], cancel: threading.Event,
              if_absent: bool = False) -> StoredObject:
        if if_absent:
            self.no_clobber.ensure()
        name = self._name(key)
        # The whole object's MD5 is computed in flight only where the store is known to give it as the ETag of a
        # multipart object; until the store's form is known, the first such object is read back (_confirmed).
        whole = hashlib.md5() if self.etag_is_md5 and self._multipart_etags == "whole-md5" else None
        upload_id: str | None = None
        with parts.OnePending("s3-part") as uploader:
            try:
                for number, (data, last) in enumerate(parts.cut(chunks, self._part_size, cancel), 1):
                    if last and upload_id is None:
                        md5 = hashlib.md5(data).digest()
                        self._conditional(if_absent, self.client.put_object, Bucket=self.bucket, Key=name,
                                          Body=data, ContentMD5=content_md5(md5), **self._encryption)
                        return StoredObject(key, len(data), md5.hex(), [len(data)])
                    if upload_id is None:
                        upload_id = self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=name, **self._encryption)["UploadId"]
                    uploader.submit(self._upload_part, name, upload_id, number, data, whole)
                sent: list[Sent] = uploader.wait()
                response = self._conditional(if_absent, self.client.complete_multipart_upload, Bucket=self.bucket,
                                             Key=name, UploadId=upload_id,
                                             MultipartUpload={"Parts": [part.done for part in sent]})
                etag = str(response.get("ETag", "")).strip('"')
                return self._confirmed(key, etag, [part.md5 for part in sent], [part.size for part in sent],
                                       whole.hexdigest() if whole else None)
            except BaseException as exc:
                uploader.discard()
                if upload_id is not None:
                    self._abort(Unfinished(key, upload_id, None))
                if isinstance(exc, (ClientError, BotoCoreError)):
                    raise describe(exc, f"uploading {key}") from None
                raise

    def _conditional(self, if_absent: bool, call: Callable[..., Any], **kwargs: Any) -> Any:
        """Call with If-None-Match: * when asked and the store knows it; a 412 means someone wrote first."""
        if not (if_absent and self.conditional_writes):
            return call(**kwargs)
        try:
            return call(IfNoneMatch="*", **kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise WriteConflict(f"{kwargs['Key'][len(self.prefix):]} was written by another run meanwhile") \
                    from None
            if code not in (*NOT_IMPLEMENTED, "InvalidArgument"):
                raise
            self.conditional_writes = False
            self.findings.learn("no-clobber", f"{self.url}: the store does not implement conditional writes "
                                f"({self.conditional_header}: *, answered {code}); no-clobber rests on the "
                                "advisory-lock claims in PostgreSQL alone: runs that do not share the database "
                                "can overwrite each other's objects")
            return call(**kwargs)

    def _upload_part(self, name: str, upload_id: str, number: int, data: bytes, whole: Any) -> Sent:
        """Upload one part with its Content-MD5. Run in the upload thread (OnePending), so the MD5s, which
        release the GIL, overlap with the worker reading and compressing the next part; parts come here one at
        a time and in order, so `whole` (the whole object's MD5, or None) is fed in order too."""
        md5 = hashlib.md5(data).digest()
        if whole is not None:
            whole.update(data)
        response = self.client.upload_part(Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number,
                                           Body=data, ContentMD5=content_md5(md5))
        return Sent({"PartNumber": number, "ETag": response["ETag"]}, md5, len(data))

    def _confirmed(self, key: str, etag: str, md5s: list[bytes], sizes: list[int], whole: str | None) -> StoredObject:
        """Check a completed multipart object by the store's ETag, in whichever form this store gives it."""
        size = sum(sizes)
        expected = multipart_etag(md5s)
        if not self.etag_is_md5:
            return StoredObject(key, size, expected, sizes)  # SSE-KMS: size and the SHA-256 prove it
        if etag == expected:
            self._learn_etags("aws")
            return StoredObject(key, size, expected, sizes)
        if whole is not None and etag == whole:
            return StoredObject(key, size, whole, [size])  # the ETag is an MD5 over one "part": the whole object
        if whole is not None or self._multipart_etags == "aws":
            raise IntegrityError(f"{key}: the store reports ETag {etag}, expected {expected}")
        # The store's form is not known yet (or its tags are no digest): read the object back and compare each
        # part's MD5 with the one sent; the ETag then tells the form, learned for the objects after this one.
        read_md5s, read, read_whole = read_back_md5s(self.read(key), sizes,
                                                     whole=self._multipart_etags != "opaque")
        if read != size:
            raise IntegrityError(f"{key}: read back {read} bytes, {size} were sent")
        if read_md5s != md5s:
            bad = next(n for n, (got, sent) in enumerate(zip(read_md5s, md5s, strict=True), 1) if got != sent)
            raise IntegrityError(f"{key}: part {bad} of {len(md5s)} reads back with MD5 {read_md5s[bad - 1].hex()}, "
                                 f"sent with MD5 {md5s[bad - 1].hex()}")
        if read_whole is not None and etag == read_whole:
            self._learn_etags("whole-md5")
            return StoredObject(key, size, read_whole, [size])
        if self._multipart_etags in ("aws", "whole-md5"):  # learned from another object meanwhile
            raise IntegrityError(f"{key}: the store reports ETag {etag}, expected {expected} or the object's MD5 "
                                 f"{read_whole}")
        self._learn_etags("opaque")
        return StoredObject(key, size, "", sizes)

    def _learn_etags(self, form: str) -> None:
        with self._learning:
            if self._multipart_etags == form:
                return
            self._multipart_etags = form
        if form == "whole-md5":
            self.findings.learn("multipart-etag", f"{self.url}: the store gives a multipart object the whole "
                                "object's MD5 as its ETag, not AWS's MD5 of the part MD5s; each multipart object "
                                "is checked against the MD5 of the bytes sent")
        elif form == "opaque":
            self.findings.learn("multipart-etag", f"{self.url}: the store's ETag of a multipart object is no "
                                "digest of its bytes; each multipart object is checked by reading it back (size "
                                "and MD5 of the bytes sent), and later by its recorded SHA-256")

    # -- leftovers -----------------------------------------------------------------------------------------
    def _abort(self, item: Unfinished) -> None:
        """Abort an upload; a refusal is said once per upload with how to clean it up, other errors are quiet."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._name(item.key), UploadId=item.upload_id)
        except ClientError as exc:
            code = error_code(exc)
            if code not in REFUSED:
                return  # still listed by `unfinished`: verify reports it, and the next claim of the key aborts it
            endpoint = f" --endpoint-url {self.settings.endpoint}" if self.settings.endpoint else ""
            self.findings.learn("abort", (
                f"{self.url}: the store refused to abort upload {item.upload_id} of {item.key} ({code}); its "
                f"parts stay in the bucket (and are billed where storage is) until removed: `aws s3api "
                f"abort-multipart-upload{endpoint} --bucket {self.bucket} --key {self._name(item.key)} "
                f"--upload-id {item.upload_id}`, or by the store's own means"), leftover=item)
        except BotoCoreError:
            pass

    def unfinished(self, prefix: str) -> builtins.list[Unfinished]:
        if self.findings.lacks("list-unfinished"):
            return []
        found = []
        try:
            for page in self.client.get_paginator("list_multipart_uploads").paginate(
                    Bucket=self.bucket, Prefix=self._name(prefix)):
                for item in page.get("Uploads", []):
                    found.append(Unfinished(item["Key"][len(self.prefix):], item["UploadId"], item.get("Initiated")))
        except ClientError as exc:
            if error_code(exc) not in NOT_IMPLEMENTED:
                raise describe(exc, f"listing unfinished uploads in s3://{self.bucket}/{self._name(prefix)}") \
                    from None
            self.findings.learn("list-unfinished", (
                f"{self.url}: the store cannot list unfinished multipart uploads (ListMultipartUploads answered "
                f"{error_code(exc)}); uploads left by a killed run cannot be found or aborted there"))
            return []
        except BotoCoreError as exc:
            raise describe(exc, f"listing unfinished uploads in s3://{self.bucket}/{self._name(prefix)}") from None
        return found

    def abort(self, item: Unfinished) -> None:
        self._abort(item)

    # -- reading and the rest ------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                                   ContentMD5=content_md5(hashlib.md5(data).digest()), **self._encryption)
        except (ClientError, BotoCoreError) as exc:
            raise describe(exc, f"writing {key}") from None

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise describe(exc, f"reading {key}") from None
        except BotoCoreError as exc:
            raise describe(exc, f"reading {key}") from None

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise describe(exc, f"checking {key}") from None
        except BotoCoreError as exc:
            raise describe(exc, f"checking {key}") from None
        return ObjectInfo(key, response["ContentLength"], response["ETag"].strip('"'), response.get("LastModified"))

    def checksum(self, key: str) -> str:
        info = self.head(key)
        if info is None:
            raise StorageError(f"object {key} is missing")
        return info.etag or ""

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                               Prefix=self._name(prefix)):
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"][len(self.prefix):], item["Size"], item["ETag"].strip('"'),
                                     item.get("LastModified"))
        except (ClientError, BotoCoreError) as exc:
            raise describe(exc, f"listing s3://{self.bucket}/{self._name(prefix)}") from None

    def read(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise describe(exc, f"reading {key}") from None
        try:
            while chunk := body.read(READ_BYTES):
                yield chunk
        finally:
            body.close()

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (ClientError, BotoCoreError) as exc:
            raise describe(exc, f"deleting {key}") from None
