"""One archived object read back through the archive's chain reversed, measured as it flows.

    storage.read → digest.hash_etag → digest.hash_sha256 → codecs.decompress → digest.count → decode
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from pgarchiver_tui.commands.holdings import ArchivedObject
from pgarchiver_tui.core.errors import Cancelled, IntegrityError
from pgarchiver_tui.core.model import Column
from pgarchiver_tui.pipeline import codecs, decode, digest
from pgarchiver_tui.runner.progress import Meter
from pgarchiver_tui.storage import Storage


class ReadBack:
    """The tallies of one read: stored bytes (size, SHA-256, ETag), decoded bytes, records."""

    def __init__(self, storage: Storage, obj: ArchivedObject, cancel: threading.Event,
                 meter: Meter | None = None) -> None:
        self.storage, self.obj, self.cancel, self.meter = storage, obj, cancel, meter
        self.stored = digest.Tally()
        self.raw = digest.Tally()
        self.records = decode.Records()
        self.decoder = decode.get_decoder(obj.format)
        try:
            self.codec = codecs.get_codec(obj.compression)
        except ValueError as exc:
            raise IntegrityError(str(exc)) from None
        self._stored_stream: Iterator[bytes] | None = None

    def _decoded(self) -> Iterator[bytes]:
        stored = self.storage.read(self.obj.key)
        stored = digest.hash_etag(stored, self.obj.part_sizes, self.stored)
        self._stored_stream = digest.hash_sha256(stored, self.stored)
        return digest.count(codecs.decompress(self._watch(self._stored_stream), self.codec), self.raw)

    def _watch(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if self.cancel.is_set():
                raise Cancelled("cancelled while reading")
            if self.meter:
                self.meter.update(self.records.rows, self.raw.bytes, self.stored.bytes)
            yield chunk

    def copy_input(self, columns: list[Column], check: bool) -> Iterator[bytes]:
        """COPY FROM input for `columns`; with `check` every record is parsed first."""
        return self.decoder.copy_input(self._decoded(), columns, self.records, check)

    def check(self, columns: list[Column]) -> None:
        self.decoder.check(self._decoded(), columns, self.records)

    def finish_reading(self) -> None:
        """After a failure downstream, read the rest so that the size and digests describe the whole object."""
        if self._stored_stream is not None:
            for _ in self._stored_stream:
                if self.cancel.is_set():
                    raise Cancelled("cancelled while reading")

    def integrity_problems(self) -> list[str]:
        """How the bytes read differ from what the object's facts and cache record say was stored."""
        obj, problems = self.obj, []
        expected = [("metadata", obj.facts), ("cache", obj.record)]
        for source, facts in expected:
            if facts is None:
                continue
            if facts.bytes_out != self.stored.bytes:
                problems.append(f"size {self.stored.bytes} bytes, {source} says {facts.bytes_out}")
            if facts.sha256 and facts.sha256 != self.stored.sha256:
                problems.append(f"SHA-256 differs from the {source}'s")
        if obj.etag and (obj.facts is not None and obj.facts.part_sizes or "-" not in obj.etag) \
                and self.stored.etag != obj.etag:
            problems.append(f"ETag of the bytes read is {self.stored.etag}, expected {obj.etag}")
        if obj.info is not None and obj.info.etag is not None and obj.etag and obj.info.etag != obj.etag:
            problems.append(f"the store reports ETag {obj.info.etag}, expected {obj.etag}")
        return problems
