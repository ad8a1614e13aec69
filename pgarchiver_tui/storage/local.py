"""A local directory: temp file, fsync, atomic rename."""

from __future__ import annotations

import builtins
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from pgarchiver_tui.core.errors import Cancelled, StorageError, WriteConflict
from pgarchiver_tui.storage.base import Findings, ObjectInfo, StoredObject, Unfinished

TEMP_PREFIX = ".pgarchiver-tmp-"
READ_BYTES = 1 << 20


class LocalStorage:
    # A file has no ETag, and none is made up for it: an MD5 while writing and another reading the file back
    # from the page cache cost a tenth of the run's CPU and proved nothing the SHA-256 of the stream (in the
    # object's facts, checked by verify from the disk) and the size after fsync and rename do not.
    etag_is_md5 = False

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = self.root.as_uri() + "/"
        self.findings = Findings()  # a directory keeps the whole contract: nothing to learn

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise StorageError(f"object key {key!r} escapes the destination directory")
        return path

    def write(self, key: str, chunks: Iterable[bytes], cancel: threading.Event,
              if_absent: bool = False) -> StoredObject:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {path.parent}: {exc.strerror}") from None
        temp = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{path.name}")
        size = 0
        try:
            with open(temp, "wb") as out:
                for chunk in chunks:
                    if cancel.is_set():
                        raise Cancelled("cancelled while writing")
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if if_absent:
                os.link(temp, path)  # fails if the name exists: never clobbers a concurrent run's object
                temp.unlink()
            else:
                os.replace(temp, path)
        except FileExistsError:
            temp.unlink(missing_ok=True)
            raise WriteConflict(f"{key} was written by another run meanwhile") from None
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StorageError(f"writing {path} failed: {exc.strerror or exc}") from None
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return StoredObject(key, size, "", [size])

    def put_bytes(self, key: str, data: bytes) -> None:
        self.write(key, [data], threading.Event())

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def head(self, key: str) -> ObjectInfo | None:
        try:
            stat = self._path(key).stat()
        except FileNotFoundError:
            return None
        return ObjectInfo(key, stat.st_size, None, datetime.fromtimestamp(stat.st_mtime, UTC))

    def checksum(self, key: str) -> str:
        digest = hashlib.md5()
        for chunk in self.read(key):
            digest.update(chunk)
        return digest.hexdigest()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for directory, _dirs, files in os.walk(base):
            for name in sorted(files):
                if name.startswith(TEMP_PREFIX):
                    continue
                path = Path(directory) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    stat = path.stat()
                    yield ObjectInfo(key, stat.st_size, None, datetime.fromtimestamp(stat.st_mtime, UTC))

    def read(self, key: str) -> Iterator[bytes]:
        try:
            with open(self._path(key), "rb") as source:
                while chunk := source.read(READ_BYTES):
                    yield chunk
        except FileNotFoundError:
            raise StorageError(f"object {key} is missing") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def unfinished(self, prefix: str) -> builtins.list[Unfinished]:
        found = []
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        for directory, _dirs, files in os.walk(base):
            for name in sorted(files):
                if name.startswith(TEMP_PREFIX):
                    path = Path(directory) / name
                    # .pgarchiver-tmp-<pid>-<thread>-<final name>: the key it was meant for
                    meant = path.with_name(name[len(TEMP_PREFIX):].split("-", 2)[-1])
                    key = meant.relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        found.append(Unfinished(key, str(path),
                                                datetime.fromtimestamp(path.stat().st_mtime, UTC)))
        return found

    def abort(self, item: Unfinished) -> None:
        Path(item.upload_id).unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
