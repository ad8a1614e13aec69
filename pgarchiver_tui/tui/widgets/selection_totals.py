"""The always-visible line of what is marked: objects, rows and bytes."""

from __future__ import annotations

from dataclasses import dataclass

from textual.widgets import Static

from pgarchiver_tui.tui.formatting import human_bytes


@dataclass
class Marked:
    """Sums over the marked objects, kept as marks come and go: with 100,000 marked, a key press adds or
    takes away one object's figures instead of summing them all again."""

    count: int = 0
    rows: int = 0
    size: int = 0
    estimated: int = 0  # how many of them have only an estimated row count

    def add(self, rows: int, size: int, estimated: bool, sign: int = 1) -> None:
        self.count += sign
        self.rows += sign * rows
        self.size += sign * size
        self.estimated += sign * estimated

    def remove(self, rows: int, size: int, estimated: bool) -> None:
        self.add(rows, size, estimated, -1)


class SelectionTotals(Static):
    DEFAULT_CSS = """
    SelectionTotals { height: 1; background: $boost; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, marked: Marked, total: int, shown: int, filter_text: str = "", order: str = "") -> None:
        text = (f"[b]{marked.count:,}[/b] of {total:,} selected · {'~' if marked.estimated else ''}"
                f"{marked.rows:,} rows · {human_bytes(marked.size)} on disk")
        if filter_text:
            text += f" · filter {filter_text!r}: {shown:,} shown"
        if order:
            text += f" · sorted by {order}"
        self.update(text)
