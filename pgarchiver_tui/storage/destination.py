"""Open the destination the settings name, and check that it is there before any work starts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pgarchiver_tui.core.errors import ConfigError, PrivilegeError
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.storage.base import Storage
from pgarchiver_tui.storage.local import LocalStorage

if TYPE_CHECKING:  # boto3 takes 0.2 s to import: a run to a directory never pays it
    from pgarchiver_tui.storage.s3 import S3Storage


def open_destination(settings: Settings, check: bool = True) -> Storage:
    if settings.local_dir:
        root = Path(settings.local_dir).expanduser()
        if check:
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"--local-dir {root} cannot be created: {exc.strerror}") from None
            if not os.access(root, os.W_OK | os.X_OK):
                raise PrivilegeError(f"--local-dir {root} is not writable; fix its permissions or choose another")
        return LocalStorage(root)
    from pgarchiver_tui.storage.s3 import S3Settings, S3Storage

    s3 = S3Settings(bucket=settings.s3_bucket or "", endpoint=settings.s3_endpoint, region=settings.s3_region,
                    access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                    profile=settings.s3_profile, sse=settings.s3_sse, sse_kms_key_id=settings.s3_sse_kms_key_id)
    storage = S3Storage(s3)
    if check:
        check_bucket(storage)
    return storage


def check_bucket(storage: S3Storage) -> None:
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    from pgarchiver_tui.storage.s3 import make_client

    where = storage.settings.endpoint or "AWS"
    try:
        # two requests (one retry), not the REQUEST_ATTEMPTS with backoff of the uploads: a mistyped endpoint is
        # said in seconds
        make_client(storage.settings, attempts=2).head_bucket(Bucket=storage.bucket)
    except EndpointConnectionError:
        raise ConfigError(f"cannot reach the S3 endpoint {where}; check --s3-endpoint") from None
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise ConfigError(f"bucket {storage.bucket!r} does not exist at {where}; create it or fix "
                              "--s3-bucket") from None
        if code in ("403", "AccessDenied"):
            raise PrivilegeError(f"access to bucket {storage.bucket!r} denied; check the credentials "
                                 "(--s3-access-key, AWS_PROFILE) and the bucket policy") from None
        raise ConfigError(f"bucket {storage.bucket!r}: {code}") from None
    except BotoCoreError as exc:
        raise ConfigError(f"S3 at {where}: {exc}; check --s3-endpoint and the credentials") from None
