"""Compressed streams one after the other decode as one stream, for every codec (what --split writes);
a cut or trailing garbage is still an IntegrityError."""

from __future__ import annotations

import pytest

from pgarchiver_tui.core.errors import IntegrityError
from pgarchiver_tui.pipeline import codecs

PIECES = [b"first reader's rows\n" * 500, b"", b"second\n" * 3000, b"third reader\n" * 10]


def concatenated(name: str) -> bytes:
    codec = codecs.get_codec(name)
    return b"".join(b"".join(codecs.compress([piece], codec, codec.default_level)) for piece in PIECES)


@pytest.mark.parametrize("name", ["zstd", "gzip", "lz4"])
def test_concatenated_streams_decode_as_one_in_any_cut(name: str) -> None:
    data = concatenated(name)
    for size in (1, 7, 1000, len(data)):
        cuts = [data[i:i + size] for i in range(0, len(data), size)]
        assert b"".join(codecs.decompress(cuts, codecs.get_codec(name))) == b"".join(PIECES)


@pytest.mark.parametrize("name", ["zstd", "gzip", "lz4"])
@pytest.mark.parametrize("damage", ["cut", "garbage", "short garbage"])
def test_a_damaged_concatenation_is_an_integrity_error(name: str, damage: str) -> None:
    data = concatenated(name)
    bad = {"cut": data[:-5], "garbage": data + b"not a frame at all", "short garbage": data + b"x"}[damage]
    with pytest.raises(IntegrityError):
        b"".join(codecs.decompress([bad], codecs.get_codec(name)))


def test_zstd_gets_a_thread_of_its_own_by_default_up_to_level_12() -> None:
    """Above level 12 a zstd job takes seconds, and a context is freed only when its job is done: Ctrl-C would
    wait for it (tests/test_cancel.py runs at level 19). Asked for, threads are as asked."""
    assert [codecs.zstd_threads(None, level) for level in (1, 3, 12, 13, 19)] == [1, 1, 1, 0, 0]
    assert codecs.zstd_threads(0, 3) == 0 and codecs.zstd_threads(4, 19) == 4
