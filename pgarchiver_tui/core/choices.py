"""What a user may choose: output formats and compression codecs with their levels.

The pipeline implements each choice; settings validate against this table without importing the pipeline,
so that configuration stays below the machinery in the import graph.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMAT_NAMES = ("jsonl", "csv", "parquet")


@dataclass(frozen=True)
class CodecChoice:
    name: str
    suffix: str
    levels: range
    default_level: int

    def check_level(self, level: int) -> None:
        if level not in self.levels:
            raise ValueError(f"--compression-level {level} is out of range for {self.name}; "
                             f"use {self.levels.start}..{self.levels.stop - 1}")


CODEC_CHOICES: dict[str, CodecChoice] = {
    c.name: c
    for c in (
        CodecChoice("zstd", "zst", range(1, 23), 3),
        CodecChoice("gzip", "gz", range(1, 10), 6),
        CodecChoice("lz4", "lz4", range(0, 17), 0),
        CodecChoice("none", "", range(0, 1), 0),
    )
}


def check_format(name: str) -> None:
    if name not in FORMAT_NAMES:
        raise ValueError(f"unknown output format {name!r}; use one of {', '.join(FORMAT_NAMES)}")


def codec_choice(name: str) -> CodecChoice:
    try:
        return CODEC_CHOICES[name]
    except KeyError:
        raise ValueError(f"unknown compression {name!r}; use one of {', '.join(CODEC_CHOICES)}") from None
