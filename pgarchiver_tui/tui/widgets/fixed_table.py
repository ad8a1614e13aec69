"""A DataTable for many rows: fixed column widths, one-line rows, cells made when first drawn.

DataTable measures every new cell to size its columns, sets its cursor reactive once per added row, and
rebuilds a list of every row's line offsets after each change: at 10,000 rows that took seconds to fill and
tens of milliseconds per key. With every column's width given and rows one line high, none of that is
needed: a row's line is its index, and a row's cells can wait until it is drawn. Everything else (rendering, cursor, scrolling, mouse, messages) is
DataTable's own.

It leans on DataTable internals (textual is pinned); tests/tui/test_scale.py and benchmarks/tui_bench.py
notice if they change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from textual._two_way_dict import TwoWayDict
from textual.geometry import Region, Size
from textual.widgets import DataTable
from textual.widgets._data_table import CellType, ColumnKey, Row, RowKey


class _RowLines(Sequence[tuple[RowKey, int]]):
    """DataTable's per-line (row key, line in row) list, computed on demand for one-line rows."""

    def __init__(self, table: FixedTable) -> None:
        self.table = table

    def __len__(self) -> int:
        return len(self.table.rows)

    def __getitem__(self, line: int) -> tuple[RowKey, int]:  # type: ignore[override]
        if not 0 <= line < len(self.table.rows):
            raise IndexError(line)
        return self.table._row_locations.get_key(line), 0  # type: ignore[return-value]

    def clear(self) -> None:
        """Nothing is kept."""


class _LazyCells(dict):  # type: ignore[type-arg]
    """One row's cells by column key, made on the first read of any of them.

    A cell updated before that keeps its new value.
    """

    __slots__ = ("columns", "make")

    def __init__(self, columns: tuple[ColumnKey, ...], make: Callable[[], Sequence[CellType]]) -> None:
        super().__init__()
        self.columns, self.make = columns, make

    def __missing__(self, column: ColumnKey) -> Any:
        for key, cell in zip(self.columns, self.make(), strict=True):
            self.setdefault(key, cell)
        return dict.__getitem__(self, column)


class FixedTable(DataTable[Any]):
    """Every column must be added with a width; rows are one line high and have no labels."""

    _ordered: tuple[TwoWayDict[RowKey, int], int, list[Row]] | None = None

    def add_column(self, label: Any, *, width: int | None = None, key: str | None = None,  # type: ignore[override]
                   default: CellType | None = None) -> Any:
        if width is None:
            raise ValueError(f"column {label!r} needs a width: FixedTable never measures cells")
        return super().add_column(label, width=width, key=key, default=default)

    def add_lazy_rows(self, keys: Iterable[str], cells: Callable[[str], Sequence[CellType]]) -> None:
        """Append a row per key in one step; `cells(key)` makes a row's cells when it is first drawn or read,
        so filling the table costs the same for 10,000 rows as for a screenful."""
        columns = tuple(column.key for column in self.ordered_columns)
        locations, data, metadata = self._row_locations, self._data, self.rows
        first = self.row_count == 0
        index = self.row_count
        for key in keys:
            row_key = RowKey(key)
            if row_key in metadata:
                raise ValueError(f"row key {key!r} is already in the table")
            locations[row_key] = index
            data[row_key] = _LazyCells(columns, partial(cells, key))
            metadata[row_key] = Row(row_key, 1)
            index += 1
        self._update_count += 1
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate  # validated against the new rows, once
        if first and self.row_count and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self.check_idle()

    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: CellType, *,
                    update_width: bool = False) -> None:
        """Change one cell and redraw its row only (DataTable redraws every visible row: tens of ms)."""
        if update_width:
            raise ValueError("FixedTable columns keep their width")
        index = self._row_locations.get(row_key)  # type: ignore[arg-type]
        if index is None or column_key not in self._column_locations:
            super().update_cell(row_key, column_key, value)  # DataTable's own error
            return
        self._data[row_key][column_key] = value  # type: ignore[index]
        self._forget_row(index)
        self.refresh_row(index)

    def _forget_row(self, index: int) -> None:
        """Drop what DataTable cached of one row's rendering; the rest of the screen stays valid."""
        row_key = self._row_locations.get_key(index)
        line = index + (self.header_height if self.show_header else 0)
        self._row_renderable_cache.discard((self._update_count, index))
        for cache, first in ((self._cell_render_cache, row_key), (self._row_render_cache, row_key),
                             (self._line_cache, line)):
            for key in [key for key in cache.keys() if key[0] == first]:  # noqa: SIM118 - LRUCache has no __iter__
                cache.discard(key)  # type: ignore[arg-type]

    def reorder(self, keys: Iterable[str]) -> None:
        """Show the rows in the order of `keys` (every row's key, each once)."""
        # DataTable's own RowKeys: a new one per row would cost a Python-level hash each
        known = {key.value: key for key in self.rows}
        order = {known[key]: index for index, key in enumerate(keys)}
        if len(order) != len(self.rows):
            raise ValueError(f"reorder got {len(order)} keys for {len(self.rows)} rows")
        self._row_locations = TwoWayDict(order)
        self._update_count += 1
        self.refresh()

    # -- what DataTable would measure or rebuild per row ------------------------------------------------
    @property
    def _y_offsets(self) -> _RowLines:  # type: ignore[override]
        return _RowLines(self)

    @property
    def ordered_rows(self) -> list[Row]:
        """DataTable rebuilds this list after every cell update; the order changes only with the rows."""
        locations, count = self._row_locations, len(self.rows)
        cached = self._ordered
        if cached is None or cached[0] is not locations or cached[1] != count:
            rows, key_at = self.rows, locations._reverse
            cached = (locations, count, [rows[key_at[index]] for index in range(count)])
            self._ordered = cached
        return cached[2]

    def _get_row_region(self, row_index: int) -> Region:
        if not self.is_valid_row_index(row_index):
            return Region(0, 0, 0, 0)
        width = sum(column.get_render_width(self) for column in self.columns.values())
        top = row_index + (self.header_height if self.show_header else 0)
        return Region(0, top, max(self.size.width, width), 1)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width, len(self.rows) + header)
