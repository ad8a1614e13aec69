"""S3-compatible object storage: streaming multipart upload in bounded memory."""

from __future__ import annotations

import builtins
import hashlib
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pgarchiver_tui.core.errors import Cancelled, ConfigError, PrivilegeError, StorageError, WriteConflict
from pgarchiver_tui.pipeline.digest import multipart_etag
from pgarchiver_tui.storage.base import ObjectInfo, StoredObject, Unfinished

MiB = 1 << 20
FIRST_PART_BYTES = 8 * MiB
MAX_PARTS = 10_000
READ_BYTES = 1 << 20
TRANSIENT_CODES = ("SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
                   "RequestTimeTooSkewed")


def part_size(part_number: int, first: int | None = None) -> int:
    """Size of part `part_number` (1-based) of a stream of unknown length.

    Parts double every thousand, so 10,000 parts reach about 8 TiB while small objects keep small parts.
    """
    first = FIRST_PART_BYTES if first is None else first  # read at call time: tests lower it
    return min(first << ((part_number - 1) // 1000), 5 * 1024 * MiB)


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


REQUEST_ATTEMPTS = 4  # requests boto makes for one call before it gives up (the first one included)


def make_client(settings: S3Settings, attempts: int = REQUEST_ATTEMPTS):
    """A client whose calls each make up to `attempts` requests (standard retry mode: backoff, throttling)."""
    # Since boto3 1.36 every upload carries checksum headers that several S3-compatible stores reject.
    config = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # total_max_attempts counts the first request; botocore's `max_attempts` would count only the retries
        retries={"mode": "standard", "total_max_attempts": attempts},
        max_pool_connections=32,
        connect_timeout=10,
    )
    session = boto3.session.Session(profile_name=settings.profile)
    return session.client(
        "s3", endpoint_url=settings.endpoint, region_name=settings.region,
        aws_access_key_id=settings.access_key, aws_secret_access_key=settings.secret_key, config=config,
    )


def describe(exc: Exception, what: str) -> Exception:
    """Turn a boto error into one of ours, with one line that names the problem."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "") or code
        if code in ("NoSuchBucket",):
            return ConfigError(f"{what}: bucket does not exist; create it or fix --s3-bucket")
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
            return PrivilegeError(f"{what}: access denied ({code}); check the S3 credentials and policy")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        transient = status >= 500 or code in TRANSIENT_CODES
        return StorageError(f"{what}: {code} {message}".strip(), retryable=transient)
    return StorageError(f"{what}: {exc}", retryable=isinstance(exc, BotoCoreError))


class S3Storage:
    def __init__(self, settings: S3Settings, client=None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.client = client or make_client(settings)
        self.url = f"s3://{settings.bucket}/" + (f"?endpoint={settings.endpoint}" if settings.endpoint else "")
        self.etag_is_md5 = settings.sse != "aws:kms"
        self.conditional_writes = True  # until the store says it does not know If-None-Match
        self._encryption = {k: v for k, v in (("ServerSideEncryption", settings.sse),
                                              ("SSEKMSKeyId", settings.sse_kms_key_id)) if v}

    def write(self, key: str, chunks: Iterable[bytes], cancel: threading.Event,
              if_absent: bool = False) -> StoredObject:
        buffer: list[bytes] = []
        filled = 0
        part_number = 1
        upload_id: str | None = None
        parts: list[dict] = []
        md5s: list[bytes] = []
        sizes: list[int] = []
        pending: Future | None = None
        # one part uploads while the next fills: memory is two parts, the network overlaps the reading
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-part") as uploader:
            try:
                for chunk in chunks:
                    if cancel.is_set():
                        raise Cancelled("cancelled while uploading")
                    # cut chunks at part boundaries so each part is joined once, never sliced and moved
                    while filled + len(chunk) > part_size(part_number):  # the last part is never empty
                        room = part_size(part_number) - filled
                        buffer.append(chunk[:room])
                        chunk = chunk[room:]
                        data, buffer, filled = b"".join(buffer), [], 0
                        if upload_id is None:
                            upload_id = self.client.create_multipart_upload(
                                Bucket=self.bucket, Key=key, **self._encryption)["UploadId"]
                        if pending is not None:
                            parts.append(pending.result())
                        md5s.append(hashlib.md5(data).digest())
                        sizes.append(len(data))
                        pending = uploader.submit(self._upload_part, key, upload_id, part_number, data)
                        part_number += 1
                    buffer.append(chunk)
                    filled += len(chunk)
                if cancel.is_set():
                    raise Cancelled("cancelled while uploading")
                data = b"".join(buffer)
                if upload_id is None:
                    self._conditional(if_absent, self.client.put_object, Bucket=self.bucket, Key=key, Body=data,
                                      **self._encryption)
                    return StoredObject(key, len(data), hashlib.md5(data).hexdigest(), [len(data)])
                if pending is not None:
                    parts.append(pending.result())
                    pending = None
                md5s.append(hashlib.md5(data).digest())
                sizes.append(len(data))
                parts.append(self._upload_part(key, upload_id, part_number, data))
                self._conditional(if_absent, self.client.complete_multipart_upload, Bucket=self.bucket, Key=key,
                                  UploadId=upload_id, MultipartUpload={"Parts": parts})
                return StoredObject(key, sum(sizes), multipart_etag(md5s), sizes)
            except BaseException as exc:
                if pending is not None:
                    pending.cancel()
                    try:
                        pending.result()
                    except BaseException:  # noqa: S110 - the first failure is the one to report
                        pass
                if upload_id is not None:
                    self._abort_quietly(key, upload_id)
                if isinstance(exc, (ClientError, BotoCoreError)):
                    raise describe(exc, f"uploading {key}") from None
                raise

    def _conditional(self, if_absent: bool, call, **kwargs) -> None:
        """Call with If-None-Match: * when asked and the store knows it; a 412 means someone wrote first."""
        if not (if_absent and self.conditional_writes):
            call(**kwargs)
            return
        try:
            call(IfNoneMatch="*", **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise WriteConflict(f"{kwargs['Key']} was written by another run meanwhile") from None
            if code not in ("NotImplemented", "501", "InvalidArgument"):
                raise
            self.conditional_writes = False  # an older S3-compatible store: claims by advisory lock only
            call(**kwargs)

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict:
        response = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                           Body=data)
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError):
            pass  # still listed by `unfinished`: verify reports it, and the next run's claim of the key aborts it

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **self._encryption)
        except (ClientError, BotoCoreError) as exc:
            raise describe(exc, f"writing {key}") from None

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise describe(exc, f"reading {key}") from None

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise describe(exc, f"checking {key}") from None
        return ObjectInfo(key, response["ContentLength"], response["ETag"].strip('"'), response.get("LastModified"))

    def checksum(self, key: str) -> str:
        info = self.head(key)
        if info is None:
            raise StorageError(f"object {key} is missing")
        return info.etag or ""

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"], item["Size"], item["ETag"].strip('"'), item.get("LastModified"))
        except (ClientError, BotoCoreError) as exc:
            raise describe(exc, f"listing s3://{self.bucket}/{prefix}") from None

    def read(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise describe(exc, f"reading {key}") from None
        try:
            while chunk := body.read(READ_BYTES):
                yield chunk
        finally:
            body.close()

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise describe(exc, f"deleting {key}") from None

    def unfinished(self, prefix: str) -> builtins.list[Unfinished]:
        found = []
        try:
            for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket,
                                                                                    Prefix=prefix):
                for item in page.get("Uploads", []):
                    found.append(Unfinished(item["Key"], item["UploadId"], item.get("Initiated")))
        except (ClientError, BotoCoreError) as exc:
            raise describe(exc, f"listing unfinished uploads in s3://{self.bucket}/{prefix}") from None
        return found

    def abort(self, item: Unfinished) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=item.key, UploadId=item.upload_id)
