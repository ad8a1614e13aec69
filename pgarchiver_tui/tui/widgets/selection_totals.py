"""The always-visible line of what is selected: objects, rows and bytes."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Static

from pgarchiver_tui.commands.inventory import Entry
from pgarchiver_tui.tui.formatting import human_bytes


class SelectionTotals(Static):
    DEFAULT_CSS = """
    SelectionTotals { height: 1; background: $boost; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, selected: Iterable[Entry], total: int, shown: int, filter_text: str = "", order: str = "") -> None:
        chosen = list(selected)
        rows = sum(e.rows for e in chosen)
        estimated = any(e.exact_rows is None for e in chosen)
        size = sum(e.size_bytes for e in chosen)
        text = (f"[b]{len(chosen)}[/b] of {total} selected · {'~' if estimated else ''}{rows:,} rows · "
                f"{human_bytes(size)} on disk")
        if filter_text:
            text += f" · filter {filter_text!r}: {shown} shown"
        if order:
            text += f" · sorted by {order}"
        self.update(text)
