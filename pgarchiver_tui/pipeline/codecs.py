"""Compression codecs, streaming both ways, chosen by name from one registry."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import lz4.frame
import zstandard

from pgarchiver_tui.core.choices import CODEC_CHOICES, codec_choice
from pgarchiver_tui.core.errors import IntegrityError


class _Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class _Decompressor(Protocol):
    def decompress(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class Codec:
    name: str
    extension: str  # '' for none
    levels: range
    default_level: int
    make_compressor: Callable[[int, int], _Compressor]  # (level, threads)
    make_decompressor: Callable[[], tuple[_Decompressor, Callable[[], bool]]]  # (object, finished?)

    @classmethod
    def of(cls, name: str, make_compressor: Callable[[int, int], _Compressor],
           make_decompressor: Callable[[], tuple[_Decompressor, Callable[[], bool]]]) -> Codec:
        choice = CODEC_CHOICES[name]
        return cls(name, choice.suffix, choice.levels, choice.default_level, make_compressor, make_decompressor)

    def check_level(self, level: int) -> None:
        CODEC_CHOICES[self.name].check_level(level)


class _Identity:
    def compress(self, data: bytes) -> bytes:
        return data

    def decompress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Lz4Compressor:
    def __init__(self, level: int) -> None:
        self._inner = lz4.frame.LZ4FrameCompressor(compression_level=level)
        self._header = self._inner.begin()

    def compress(self, data: bytes) -> bytes:
        out = self._inner.compress(data)
        if self._header:
            out, self._header = self._header + out, b""
        return out

    def flush(self) -> bytes:
        return self._header + self._inner.flush()


ZSTD_JOB_BYTES = 1 << 20  # with worker threads: 1 MiB jobs keep a worker's buffers near 7 MB instead of 38


AUTO_THREAD_MAX_LEVEL = 12


def zstd_threads(asked: int | None, level: int) -> int:
    """zstd's worker threads: as asked, or by default one beside the reading up to level 12, none above.

    Above that a job takes seconds (from level 17 zstd makes each job several window sizes long), and a
    context with a job running is freed only once the job is done: Ctrl-C took 10 s at level 19 instead of
    under 2. At those levels the compression, not the reading, is the pace anyway."""
    if asked is not None:
        return asked
    return 1 if level <= AUTO_THREAD_MAX_LEVEL else 0


def _zstd_compressor(level: int, threads: int) -> _Compressor:
    if threads <= 0:
        return zstandard.ZstdCompressor(level=level).compressobj()
    # Worker threads compress outside the GIL while the caller goes on reading, as psql | zstd do in two
    # processes. One is the default up to level 12 (zstd_threads): on a loaded 2-core machine it took one partition from
    # 0.89x the pipe's speed to 1.10x, and it spent 5-12% less CPU than compressing in the reading thread (the
    # output 0.7% smaller); unloaded, the speed was the same within noise. The output does not depend on the
    # number of threads (zstd's guarantee from one on).
    params = zstandard.ZstdCompressionParameters.from_level(level, threads=threads, job_size=ZSTD_JOB_BYTES)
    return zstandard.ZstdCompressor(compression_params=params).compressobj()


class _Frames:
    """Decodes one or more concatenated frames (zstd frames, gzip members, lz4 frames): an object written by
    several readers at once (`--split`) is their compressed streams one after the other.

    Each frame gets its own decompressor, and the stream is finished when the last frame begun is complete
    (python-zstandard's `read_across_frames=True` never reports `eof`, so a complete stream could not be told
    from a truncated one). Bytes after a complete frame that do not begin another are corrupt data.
    """

    def __init__(self, make: Callable[[], _Decompressor]) -> None:
        self._make = make
        self._frame = make()

    def decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            if self._frame.eof:  # type: ignore[attr-defined]
                self._frame = self._make()
            out.append(self._frame.decompress(data))
            data = self._frame.unused_data if self._frame.eof else b""  # type: ignore[attr-defined]
        return b"".join(out)

    @property
    def eof(self) -> bool:
        return bool(self._frame.eof)  # type: ignore[attr-defined]


def _frames(make: Callable[[], _Decompressor]) -> Callable[[], tuple[_Decompressor, Callable[[], bool]]]:
    def decompressor() -> tuple[_Decompressor, Callable[[], bool]]:
        obj = _Frames(make)
        return obj, lambda: obj.eof
    return decompressor


CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        Codec.of("zstd", _zstd_compressor, _frames(lambda: zstandard.ZstdDecompressor().decompressobj())),
        Codec.of("gzip", lambda level, _t: zlib.compressobj(level, zlib.DEFLATED, 31),
                 _frames(lambda: zlib.decompressobj(wbits=31))),
        Codec.of("lz4", lambda level, _t: _Lz4Compressor(level), _frames(lz4.frame.LZ4FrameDecompressor)),
        Codec.of("none", lambda _l, _t: _Identity(), lambda: (_Identity(), lambda: True)),
    )
}


def get_codec(name: str) -> Codec:
    return CODECS[codec_choice(name).name]


def compress(chunks: Iterable[bytes], codec: Codec, level: int, threads: int | None = 0) -> Iterator[bytes]:
    """`threads`: zstd's worker threads; None for the default (zstd_threads)."""
    compressor = codec.make_compressor(level, zstd_threads(threads, level))
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    tail = compressor.flush()
    if tail:
        yield tail


def decompress(chunks: Iterable[bytes], codec: Codec) -> Iterator[bytes]:
    """Decode a stored stream; a stream that ends early or carries trailing garbage is an IntegrityError."""
    decompressor, finished = codec.make_decompressor()
    for chunk in chunks:
        try:
            out = decompressor.decompress(chunk)
        except (zstandard.ZstdError, zlib.error, RuntimeError, OSError) as exc:
            raise IntegrityError(f"{codec.name} data is corrupt: {exc}") from None
        if out:
            yield out
        if getattr(decompressor, "unused_data", b""):
            raise IntegrityError(f"{codec.name} stream has trailing bytes after its end")
    if not finished():
        raise IntegrityError(f"{codec.name} stream is truncated: it ends before its final frame")
