"""Pass-through stages that measure a stream: bytes, SHA-256, MD5 and S3 multipart ETags."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass
class Tally:
    """What a stage saw pass through it; filled in as the stream flows."""

    bytes: int = 0
    sha256: str = ""
    etag: str = ""


def count(chunks: Iterable[bytes], tally: Tally) -> Iterator[bytes]:
    for chunk in chunks:
        tally.bytes += len(chunk)
        yield chunk


def hash_sha256(chunks: Iterable[bytes], tally: Tally) -> Iterator[bytes]:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        tally.bytes += len(chunk)
        yield chunk
    tally.sha256 = digest.hexdigest()


def hash_etag(chunks: Iterable[bytes], part_sizes: list[int], tally: Tally) -> Iterator[bytes]:
    """The stream's S3 ETag, cut into the parts it was uploaded in (one part when no sizes are known).

    Bytes beyond the recorded parts go into the last one, so a longer or shorter stream gives another ETag.
    """
    md5s: list[bytes] = []
    digest = hashlib.md5()
    filled = part = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while part < len(part_sizes) - 1 and filled + len(view) >= part_sizes[part]:
            take = part_sizes[part] - filled
            digest.update(view[:take])
            md5s.append(digest.digest())
            digest, filled, part, view = hashlib.md5(), 0, part + 1, view[take:]
        digest.update(view)
        filled += len(view)
        yield chunk
    md5s.append(digest.digest())
    tally.etag = multipart_etag(md5s)


def multipart_etag(part_md5s: list[bytes]) -> str:
    """S3's ETag: the MD5 for a single PUT, MD5 of the concatenated part digests + '-N' for multipart."""
    if len(part_md5s) == 1:
        return part_md5s[0].hex()
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"


def rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Gather small chunks into ones of about `size` bytes (fewer, larger writes downstream)."""
    pending: list[bytes] = []
    pending_bytes = 0
    for chunk in chunks:
        pending.append(chunk)
        pending_bytes += len(chunk)
        if pending_bytes >= size:
            yield b"".join(pending)
            pending, pending_bytes = [], 0
    if pending:
        yield b"".join(pending)
