"""Quantities as people read them."""

from __future__ import annotations


def human_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def rows_text(rows: int) -> str:
    """`1 row`, `1,500 rows`."""
    return f"{rows:,} row{'' if rows == 1 else 's'}"
