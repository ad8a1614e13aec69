"""Shared by the object stores: a stream cut into parts, and one part uploading while the next fills."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pgarchiver_tui.core.errors import Cancelled

MiB = 1 << 20
FIRST_PART_BYTES = 8 * MiB
MAX_PART_BYTES = 5 * 1024 * MiB


def part_size(part_number: int, first: int = FIRST_PART_BYTES) -> int:
    """Size of part `part_number` (1-based) of a stream of unknown length.

    Parts double every thousand, so 10,000 parts reach about 8 TiB while small objects keep small parts.
    """
    return min(first << ((part_number - 1) // 1000), MAX_PART_BYTES)


def cut(chunks: Iterable[bytes], size_of: Callable[[int], int], cancel: threading.Event) -> Iterator[tuple[bytes, bool]]:
    """The stream as parts of exactly `size_of(n)` bytes, with whether each is the last (which may be shorter).

    Chunks are cut at part boundaries so each part is joined once, never sliced and moved. A part is known not
    to be the last only when more bytes follow it, so the last part is never empty unless the stream is.
    """
    buffer: list[bytes] = []
    filled = 0
    number = 1
    for chunk in chunks:
        if cancel.is_set():
            raise Cancelled("cancelled while uploading")
        while filled + len(chunk) > size_of(number):
            room = size_of(number) - filled
            buffer.append(chunk[:room])
            chunk = chunk[room:]
            yield b"".join(buffer), False
            buffer, filled, number = [], 0, number + 1
        buffer.append(chunk)
        filled += len(chunk)
    if cancel.is_set():
        raise Cancelled("cancelled while uploading")
    yield b"".join(buffer), True


class OnePending:
    """One part uploads while the next fills: memory is two parts, the network overlaps the reading."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: Future[Any] | None = None
        self.results: list[Any] = []

    def submit(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(call, *args, **kwargs)

    def wait(self) -> list[Any]:
        """Every result so far, in order, once the pending call is done (its failure raised here)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.results.append(pending.result())
        return self.results

    def discard(self) -> None:
        """After a failure: let the pending call end, its own failure being no news."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.cancel()
            try:
                pending.result()
            except BaseException:  # noqa: S110 - the first failure is the one to report
                pass

    def __enter__(self) -> OnePending:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
        self._pool.shutdown(wait=True)
