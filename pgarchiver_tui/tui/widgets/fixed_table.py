"""A DataTable for many rows: fixed column widths, one-line rows, filled and reordered in one step each.

DataTable measures every new cell to size its columns, sets its cursor reactive once per added row, and
rebuilds a list of every row's line offsets after each change: at 10,000 rows that took seconds to fill and
tens of milliseconds per key. With every column's width given and rows one line high, none of that is
needed: a row's line is its index. Everything else (rendering, cursor, scrolling, mouse, messages) is
DataTable's own.

It leans on DataTable internals (textual is pinned); tests/tui/test_scale.py and benchmarks/tui_bench.py
notice if they change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets._data_table import CellType, Row, RowKey
from textual._two_way_dict import TwoWayDict


class _RowLines(Sequence[tuple[RowKey, int]]):
    """DataTable's per-line (row key, line in row) list, computed on demand for one-line rows."""

    def __init__(self, table: FixedTable) -> None:
        self.table = table

    def __len__(self) -> int:
        return len(self.table.rows)

    def __getitem__(self, line: int) -> tuple[RowKey, int]:  # type: ignore[override]
        if not 0 <= line < len(self.table.rows):
            raise IndexError(line)
        return self.table._row_locations.get_key(line), 0

    def clear(self) -> None:
        """Nothing is kept."""


class FixedTable(DataTable[Any]):
    """Every column must be added with a width; rows are one line high and have no labels."""

    def add_column(self, label: Any, *, width: int | None = None, key: str | None = None,  # type: ignore[override]
                   default: CellType | None = None) -> Any:
        if width is None:
            raise ValueError(f"column {label!r} needs a width: FixedTable never measures cells")
        return super().add_column(label, width=width, key=key, default=default)

    def add_keyed_rows(self, rows: Iterable[tuple[str, Sequence[CellType]]]) -> None:
        """Append rows of (key, cells) in one step: the cursor and the layout are updated once."""
        columns = [column.key for column in self.ordered_columns]
        locations, data, metadata = self._row_locations, self._data, self.rows
        first = self.row_count == 0
        index = self.row_count
        for key, cells in rows:
            row_key = RowKey(key)
            if row_key in metadata:
                raise ValueError(f"row key {key!r} is already in the table")
            locations[row_key] = index
            data[row_key] = dict(zip(columns, cells, strict=True))
            metadata[row_key] = Row(row_key, 1)
            index += 1
        self._update_count += 1
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate  # validated against the new rows, once
        if first and self.row_count and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self.check_idle()

    def reorder(self, keys: Iterable[str]) -> None:
        """Show the rows in the order of `keys` (every row's key, each once)."""
        order = {RowKey(key): index for index, key in enumerate(keys)}
        if len(order) != len(self.rows):
            raise ValueError(f"reorder got {len(order)} keys for {len(self.rows)} rows")
        self._row_locations = TwoWayDict(order)
        self._update_count += 1
        self.refresh()

    # -- what DataTable would measure or rebuild per row ------------------------------------------------
    @property
    def _y_offsets(self) -> _RowLines:  # type: ignore[override]
        return _RowLines(self)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width, len(self.rows) + header)
