"""The destination named by one URL, opened as the store that serves it: the only place a URL becomes a backend.

    s3://BUCKET/PREFIX      S3 or an S3-compatible store (--s3-endpoint or AWS_ENDPOINT_URL_S3; the AWS chain)
    az://CONTAINER/PREFIX   Azure Blob Storage (AZURE_STORAGE_CONNECTION_STRING, or --azure-account-url with
                            the Azure credential chain)
    gs://BUCKET/PREFIX      Google Cloud Storage (application default credentials; STORAGE_EMULATOR_HOST)
    file:///DIR or DIR      a local directory

The prefix goes before every key (before the expanded path template). The older --s3-bucket and --local-dir
name an S3 bucket and a directory without a prefix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from pgarchiver_tui.core.errors import ConfigError, PrivilegeError, Unavailable
from pgarchiver_tui.storage.base import Storage, key_prefix
from pgarchiver_tui.storage.local import LocalStorage

if TYPE_CHECKING:  # botocore takes 0.15 s to import: a run to a directory never pays it
    from pgarchiver_tui.storage.s3 import S3Storage

USAGE = "use s3://BUCKET/PREFIX, az://CONTAINER/PREFIX, gs://BUCKET/PREFIX, file:///DIR or a directory"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", re.IGNORECASE)  # S3's and GCS's, loosely
_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")  # Azure's rule exactly
_NAMES = {"s3": ("bucket", _BUCKET), "gs": ("bucket", _BUCKET), "az": ("container", _CONTAINER)}


@dataclass(frozen=True)
class Destination:
    scheme: str  # s3 | az | gs | file
    container: str  # the bucket or container; for file, the directory
    prefix: str = ""  # put before every key: "" or ending in "/"
    flag: str = "--dest"  # how the user named it, for messages


def parse_destination(url: str, flag: str = "--dest") -> Destination:
    """The URL's parts, or ConfigError naming what is wrong with it and how it should look."""
    text = url.strip()
    if not text:
        raise ConfigError(f"{flag} is empty; {USAGE}")
    if "://" not in text:
        return Destination("file", text, "", flag)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise ConfigError(f"{flag} {text}: a destination has no ?query or #fragment; {USAGE}")
    path = unquote(parts.path)
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not path:
            raise ConfigError(f"{flag} {text}: a file URL names a local directory, as file:///DIR")
        return Destination("file", path, "", flag)
    if scheme not in _NAMES:
        raise ConfigError(f"{flag} {text}: unknown scheme {parts.scheme!r}; {USAGE}")
    what, rule = _NAMES[scheme]
    name = parts.netloc
    if not rule.match(name):
        raise ConfigError(f"{flag} {text}: {name!r} is not a valid {what} name (3 to 63 lowercase letters, "
                          "digits and hyphens)" if scheme == "az" else
                          f"{flag} {text}: {name!r} is not a valid {what} name (3 to 63 letters, digits, dots, "
                          "hyphens)")
    segments = [s for s in path.split("/") if s]
    if any(s in (".", "..") for s in segments) or "//" in path.strip("/"):
        raise ConfigError(f"{flag} {text}: the prefix {path!r} has an empty, '.' or '..' segment")
    return Destination(scheme, name, key_prefix(path), flag)


def destination_of(settings: Any) -> Destination:
    """The destination the settings name: --dest, else --local-dir, else --s3-bucket (Settings.validate
    refuses more than one)."""
    if settings.dest:
        return parse_destination(settings.dest)
    if settings.local_dir:
        return Destination("file", settings.local_dir, "", "--local-dir")
    if settings.s3_bucket:
        return Destination("s3", settings.s3_bucket, "", "--s3-bucket")
    raise ConfigError(f"no destination; give --dest URL ({USAGE.removeprefix('use ')})")


def names_destination(settings: Any) -> bool:
    return bool(settings.dest or settings.local_dir or settings.s3_bucket)


def open_destination(settings: Any, check: bool = True, must_exist: bool = False) -> Storage:
    """The store the settings name. `check`: it is reachable, its bucket there (a directory is created unless
    `must_exist`, for reading an archive back)."""
    where = destination_of(settings)
    if where.scheme == "file":
        return _open_directory(where, check, must_exist)
    if where.scheme == "s3":
        return _open_s3(where, settings, check)
    if where.scheme == "az":
        from pgarchiver_tui.storage.azure import open_azure

        return open_azure(where.container, where.prefix, settings.azure_account_url, check)
    from pgarchiver_tui.storage.gcs import open_gcs

    return open_gcs(where.container, where.prefix, check)


def _open_directory(where: Destination, check: bool, must_exist: bool) -> LocalStorage:
    root = Path(where.container).expanduser()
    if must_exist and not root.is_dir():
        raise ConfigError(f"{where.flag} {root} does not exist; give the directory the archive was written to")
    if check and not must_exist:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{where.flag} {root} cannot be created: {exc.strerror}") from None
        if not os.access(root, os.W_OK | os.X_OK):
            raise PrivilegeError(f"{where.flag} {root} is not writable; fix its permissions or choose another")
    return LocalStorage(root)


def _open_s3(where: Destination, settings: Any, check: bool) -> S3Storage:
    from pgarchiver_tui.storage.long_lived import made_once

    with made_once():  # botocore's modules and its client's service model, kept for the process
        from pgarchiver_tui.storage.s3 import S3Settings, S3Storage

        # botocore reads AWS_ENDPOINT_URL_S3 itself; named here too, it tells this destination apart from AWS's
        # bucket
        endpoint = (settings.s3_endpoint or os.environ.get("AWS_ENDPOINT_URL_S3")
                    or os.environ.get("AWS_ENDPOINT_URL"))
        s3 = S3Settings(bucket=where.container, endpoint=endpoint or None, region=settings.s3_region,
                        access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                        profile=settings.s3_profile, sse=settings.s3_sse, sse_kms_key_id=settings.s3_sse_kms_key_id,
                        connect_timeout=settings.s3_connect_timeout, read_timeout=settings.s3_read_timeout,
                        prefix=where.prefix)
        storage = S3Storage(s3)
    if check:
        check_bucket(storage, where.flag)
    return storage


def check_bucket(storage: S3Storage, flag: str = "--s3-bucket") -> None:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    from pgarchiver_tui.storage.s3 import make_client

    where = storage.settings.endpoint or "AWS"
    timeouts = f"{storage.settings.connect_timeout:g} s to connect, {storage.settings.read_timeout:g} s to answer"
    try:
        # two requests (one retry), not the REQUEST_ATTEMPTS with backoff of the uploads: an unreachable store is said within the two timeouts
        make_client(storage.settings, attempts=2, session=storage.session).head_bucket(Bucket=storage.bucket)
    except (ConnectTimeoutError, ReadTimeoutError):
        raise Unavailable(f"the S3 endpoint {where} did not answer in time ({timeouts}, twice); check that it "
                          "is up, or raise --s3-connect-timeout/--s3-read-timeout", retryable=True) from None
    except EndpointConnectionError:
        raise Unavailable(f"cannot reach the S3 endpoint {where}; check --s3-endpoint and that the store is up",
                          retryable=True) from None
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise ConfigError(f"bucket {storage.bucket!r} does not exist at {where}; create it or fix "
                              f"{flag}") from None
        if code in ("403", "AccessDenied"):
            raise PrivilegeError(f"access to bucket {storage.bucket!r} denied; check the credentials "
                                 "(--s3-access-key, AWS_PROFILE) and the bucket policy") from None
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
            raise Unavailable(f"the S3 endpoint {where} answers {code or status} for bucket {storage.bucket!r}; "
                              "retry later", retryable=True) from None
        raise ConfigError(f"bucket {storage.bucket!r}: {code}") from None
    except BotoCoreError as exc:
        raise ConfigError(f"S3 at {where}: {exc}; check --s3-endpoint and the credentials") from None
