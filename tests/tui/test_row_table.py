"""The Line API table: columns by priority at any width, cells elided never cut, only changed rows redrawn."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pgarchiver_tui.tui.widgets.row_table import Column, RowTable, fit_columns, fit_text

COLUMNS = (
    Column("mark", "✓", 1),
    Column("name", "name", 20, min_width=12, priority=1),
    Column("status", "status", 9, min_width=8, priority=2),
    Column("size", "size", 9, min_width=8, priority=4, align="right"),
    Column("key", "key", 60, min_width=30, priority=5, flex=True),
)


def test_columns_drop_by_priority_then_shrink_then_grow() -> None:
    assert [c.key for c, _ in fit_columns(COLUMNS, 200)] == ["mark", "name", "status", "size", "key"]
    wide = dict((c.key, w) for c, w in fit_columns(COLUMNS, 200))
    assert wide["name"] == 20 and wide["key"] == 200 - 1 - 20 - 9 - 9 - 4  # the flexible one takes the rest
    narrow = fit_columns(COLUMNS, 40)
    assert [c.key for c, _ in narrow] == ["mark", "name", "status", "size"]  # key needs 30: dropped first
    assert sum(w for _, w in narrow) + len(narrow) - 1 <= 40
    tiny = dict((c.key, w) for c, w in fit_columns(COLUMNS, 23))
    assert tiny == {"mark": 1, "name": 12, "status": 8}


def test_text_is_padded_or_ends_in_an_ellipsis() -> None:
    assert fit_text("archived", 8) == "archived"
    assert fit_text("archived", 7) == "archiv…"
    assert fit_text("42", 5, "right") == "   42"
    assert fit_text("日本語のテキスト", 7) == "日本語…"  # wide characters count as two cells
    assert fit_text("x", 0) == ""


class TableApp(App[None]):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.drawn: list[str] = []
        self.seen: list[tuple[str, str]] = []
        self.version = 0
        self.rows = [f"row{n:06d}" for n in range(rows)]

    def cells(self, key: str) -> tuple[str, ...]:
        self.drawn.append(key)
        return (" ", key, "archived", f"v{self.version}", f"public/events/{key}.jsonl.zst")

    def compose(self) -> ComposeResult:
        yield RowTable(COLUMNS, self.cells)

    def on_mount(self) -> None:
        self.query_one(RowTable).show(self.rows)

    def on_row_table_opened(self, event: RowTable.Opened) -> None:
        self.seen.append(("open", event.key))

    def on_row_table_header_clicked(self, event: RowTable.HeaderClicked) -> None:
        self.seen.append(("sort", event.column))


async def test_only_rows_on_screen_are_drawn_and_only_changed_ones_again() -> None:
    app = TableApp(100_000)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RowTable)
        assert table.row_count == 100_000
        assert len(set(app.drawn)) <= 24  # a screenful, not 100,000
        app.drawn.clear()
        await pilot.press("j")
        await pilot.pause()
        assert set(app.drawn) <= {"row000000", "row000001"}  # the cursor left one row for another
        app.drawn.clear()
        app.version = 1
        table.refresh_rows(["row000005", "row050000"])
        await pilot.pause()
        assert app.drawn == ["row000005"]  # row050000 is not on screen: drawn when it comes into view
        await pilot.press("G")
        await pilot.pause()
        assert table.cursor_key == "row099999"
        table.show(list(reversed(app.rows)), changed=False)  # a sort keeps the cursor on its row
        assert table.cursor_key == "row099999" and table.cursor_row == 0


async def test_enter_opens_and_a_header_click_asks_to_sort() -> None:
    app = TableApp(10)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.query_one(RowTable).focus()
        await pilot.press("j", "enter")
        await pilot.click(RowTable, offset=(5, 0))
        await pilot.pause()
    assert app.seen == [("open", "row000001"), ("sort", "name")]
