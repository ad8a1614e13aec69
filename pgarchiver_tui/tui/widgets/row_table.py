"""A table for many rows on a small terminal, on Textual's Line API: only the lines on screen are drawn.

Rows are keys; the screen that owns the table says which keys are shown in which order (`show`) and how one
row reads (`cells`). A row's line is made when it first comes into view and kept until the screen says that
row changed (`refresh_rows`): scrolling, moving the cursor and re-sorting 100,000 rows cost a screenful of
lines, never the whole table.

Columns never scroll sideways. Each has a preferred width, a narrowest width and a priority: on a narrow
terminal the least important columns are dropped first, the rest shrink towards their narrowest width, and a
cell that still does not fit ends in an ellipsis, never cut mid-word without a sign.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = str | tuple[str, str]  # the text, or (the text, a Rich style such as "bold red")
GAP = 1  # blank cells between two columns
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: int  # what it gets when the terminal is wide enough
    min_width: int = 0  # the narrowest it may become before it is dropped (0: its width)
    priority: int = 0  # lower stays longer: the highest is dropped first when space runs out
    flex: bool = False  # takes what is left over once every column has its width
    align: Literal["left", "right"] = "left"

    @property
    def narrowest(self) -> int:
        return self.min_width or self.width


def fit_columns(columns: Sequence[Column], width: int) -> list[tuple[Column, int]]:
    """The columns that fit in `width` cells with their widths, in their own order.

    Columns are kept by priority while their narrowest widths fit; then each grows towards its width (the most
    important first) and flexible columns share what is left.
    """
    kept: list[Column] = []
    used = 0
    for column in sorted(columns, key=lambda c: c.priority):
        need = column.narrowest + (GAP if kept else 0)
        if used + need <= width:
            kept.append(column)
            used += need
    widths = {c.key: c.narrowest for c in kept}
    spare = width - used
    for column in sorted(kept, key=lambda c: c.priority):
        grow = min(spare, column.width - widths[column.key])
        if grow > 0:
            widths[column.key] += grow
            spare -= grow
    flexible = [c for c in kept if c.flex]
    for n, column in enumerate(flexible):
        share = spare // (len(flexible) - n)
        widths[column.key] += share
        spare -= share
    return [(c, widths[c.key]) for c in columns if c in kept]


def fit_text(text: str, width: int, align: str = "left") -> str:
    """`text` in exactly `width` cells: padded, or cut with an ellipsis as its last cell."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + ELLIPSIS
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


class RowTable(ScrollView, can_focus=True):
    """Rows by key, a fixed header line, a row cursor; sized by `fit_columns`."""

    DEFAULT_CSS = """
    RowTable { height: 1fr; overflow-x: hidden; overflow-y: auto; }
    RowTable > .row-table--header { text-style: bold; color: $text-accent; }
    RowTable > .row-table--cursor { background: $block-cursor-blurred-background; }
    RowTable:focus > .row-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"row-table--header", "row-table--cursor"}
    # moving has no description: help lists it once for every table, the palette leaves it out
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", key_display="⏎"),
        Binding("up,k", "cursor(-1)", "", show=False),
        Binding("down,j", "cursor(1)", "", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "", show=False),
        Binding("home,g", "first", "", show=False),
        Binding("end,G", "last", "", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        """The cursor moved onto another row (or the rows under it changed)."""

        def __init__(self, table: RowTable, key: str | None) -> None:
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> RowTable:
            return self.table

    class Opened(Message):
        """Enter (or a click on the cursor row): open what the row is about."""

        def __init__(self, table: RowTable, key: str) -> None:
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> RowTable:
            return self.table

    class HeaderClicked(Message):
        def __init__(self, table: RowTable, column: str) -> None:
            super().__init__()
            self.table, self.column = table, column

        @property
        def control(self) -> RowTable:
            return self.table

    def __init__(self, columns: Sequence[Column], cells: Callable[[str], Sequence[Cell]], *,
                 id: str | None = None, openable: bool = True) -> None:  # noqa: A002 - Textual's own name
        super().__init__(id=id)
        self.openable = openable  # Enter opens a row (else the key is not offered)
        self.columns = tuple(columns)
        self.cells = cells
        self.keys: list[str] = []
        self._positions: dict[str, int] | None = {}  # key → row, made when first needed after `show`
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._layout: list[tuple[Column, int]] = []
        self._layout_width = -1
        self._lines: dict[str, Strip] = {}  # rows drawn since they last changed, without the cursor
        self._styles: dict[str, Style] = {}

    # -- what the owner calls ------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.keys)

    @property
    def cursor_key(self) -> str | None:
        return self.keys[self.cursor_row] if 0 <= self.cursor_row < len(self.keys) else None

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns that fit the present width."""
        self.fit(self.size.width)
        return [column.key for column, _ in self._layout]

    def show(self, keys: Iterable[str], *, changed: bool = True) -> None:
        """Show these rows in this order, the cursor staying on its row when it is still shown.

        `changed=False` when only the order changed: the rows' lines are kept. A list is kept as it is, not
        copied (100,000 keys): the caller must not change it afterwards.
        """
        current = self.cursor_key
        self.keys = keys if isinstance(keys, list) else list(keys)
        self._positions = None  # a sort of 100,000 rows need not pay for a map it may never use
        if changed:
            self._lines.clear()
        self.virtual_size = Size(self.size.width, len(self.keys) + 1)
        try:
            row = self.keys.index(current) if current is not None else 0
        except ValueError:
            row = min(self.cursor_row, len(self.keys) - 1)
        self.cursor_row = max(row, 0)
        self.refresh()

    @property
    def positions(self) -> dict[str, int]:
        """Each shown key's row."""
        if self._positions is None:
            self._positions = dict(zip(self.keys, range(len(self.keys)), strict=True))
        return self._positions

    def append(self, keys: Iterable[str]) -> None:
        """Add rows at the end (a run's results as they come), without touching the others."""
        positions = self.positions
        for key in keys:
            positions[key] = len(self.keys)
            self.keys.append(key)
        self.virtual_size = Size(self.size.width, len(self.keys) + 1)
        self.refresh()

    def refresh_rows(self, keys: Iterable[str]) -> None:
        """These rows' cells changed: draw them again if they are on screen, later if they are not."""
        changed = set(keys)
        for key in changed:
            self._lines.pop(key, None)
        top = int(self.scroll_offset.y)
        for offset, key in enumerate(self.keys[top:top + self.size.height]):  # a screenful, not every row
            if key in changed:
                self.refresh_line(top + offset + 1)
        if self.cursor_key in changed:
            self.post_message(self.Highlighted(self, self.cursor_key))

    def set_sort(self, column: str | None, reverse: bool) -> None:
        """Mark the sorted column in the header (the owner sorts)."""
        self.sort_column, self.sort_reverse = column, reverse
        self.refresh_line(int(self.scroll_offset.y))

    def move_to(self, key: str) -> None:
        if key in self.positions:
            self.cursor_row = self.positions[key]

    # -- the cursor ----------------------------------------------------------------------------------------
    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self.keys) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        for row in {old, new}:
            self.refresh_line(row + 1)
        self.scroll_to_show(new)
        self.post_message(self.Highlighted(self, self.cursor_key))

    def scroll_to_show(self, row: int) -> None:
        """Scroll the least that puts `row` on screen below the header."""
        top, visible = int(self.scroll_offset.y), max(self.size.height - 1, 1)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.cursor_row += step

    def action_page(self, direction: int) -> None:
        self.cursor_row += direction * max(self.size.height - 2, 1)

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = len(self.keys) - 1

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.openable if action == "open" else True

    def action_open(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.Opened(self, self.cursor_key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self.column_at(offset.x)
            if column is not None:
                self.post_message(self.HeaderClicked(self, column))
            return
        row = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= row < len(self.keys):
            if row == self.cursor_row and event.chain > 1:
                self.action_open()
            self.cursor_row = row

    def column_at(self, x: int) -> str | None:
        left = 1
        for column, width in self._layout:
            if left <= x < left + width:
                return column.key
            left += width + GAP
        return None

    # -- drawing -------------------------------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.size.width, len(self.keys) + 1)
        self.scroll_to_show(self.cursor_row)

    def fit(self, width: int) -> None:
        """Lay the columns out for `width` cells (the scrollbar comes and goes with the rows)."""
        if width != self._layout_width:
            self._layout_width = width
            self._layout = fit_columns(self.columns, max(width - 2, 1))
            self._lines.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._lines.clear()

    def style(self, spec: str) -> Style:
        style = self._styles.get(spec)
        if style is None:
            style = self._styles[spec] = Style.parse(spec) if spec else Style()
        return style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self.fit(width)
        base = self.rich_style
        if y == 0:
            return self.header_line(base + self.get_component_rich_style("row-table--header"), width)
        row = int(self.scroll_offset.y) + y - 1
        if not 0 <= row < len(self.keys):
            return Strip.blank(width, base)
        key = self.keys[row]
        if row == self.cursor_row:  # the cursor's colours under the cells' own
            return self.row_line(key, base + self.get_component_rich_style("row-table--cursor"), width)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = self.row_line(key, base, width)
        return line

    def header_line(self, style: Style, width: int) -> Strip:
        segments = [Segment(" ", style)]
        for column, size in self._layout:
            header = column.header
            if column.key == self.sort_column:
                header = f"{header}{'▼' if self.sort_reverse else '▲'}"
            segments.append(Segment(fit_text(header, size, column.align), style))
            segments.append(Segment(" " * GAP, style))
        return Strip(segments).adjust_cell_length(width, style)

    def row_line(self, key: str, base: Style, width: int) -> Strip:
        segments = [Segment(" ", base)]
        for (column, size), cell in zip(self._layout, self.cells_of(key), strict=True):
            text, spec = (cell, "") if isinstance(cell, str) else cell
            segments.append(Segment(fit_text(text, size, column.align), base + self.style(spec) if spec else base))
            segments.append(Segment(" " * GAP, base))
        return Strip(segments).adjust_cell_length(width, base)

    def cells_of(self, key: str) -> list[Cell]:
        """The row's cells of the columns that fit, in the order of `columns`."""
        every = self.cells(key)
        shown = {column.key for column, _ in self._layout}
        return [cell for column, cell in zip(self.columns, every, strict=True) if column.key in shown]
