"""What the partitions and cache screens share: a RowTable with marks and a filter box, the keys in order.

Keys typed ahead (a burst over SSH, a fast typist) must act in the order they were typed. Textual hands a key
to the focused widget's own queue and runs a screen's binding only when the key comes back up, so a screen
binding that reads the cursor (Space marks the row under it) would otherwise run before the `j` typed just
before it had moved the cursor. Here the screen takes every table key itself, first (`keys.ahead`), and moves
the cursor the moment the key is taken; only what is typed into the filter box goes to the box, whose Enter
and Escape come in order behind it (widgets/filter_box.py).
"""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen

from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.widgets.row_table import RowTable

MOVES = {"cursor", "page", "first", "last"}


class TableScreen(Screen[None]):
    BINDINGS = keys.ahead([  # no description: help lists moving once, the palette leaves it out
        Binding("j,down", "cursor(1)", "", show=False),
        Binding("k,up", "cursor(-1)", "", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "", show=False),
        Binding("g,home", "first", "", show=False),
        Binding("G,end", "last", "", show=False),
    ])
    TEXT_ACTIONS: set[str] = set()  # a subclass's actions on keys that are text in the filter box

    @property
    def table(self) -> RowTable:
        return self.query_one(RowTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MOVES or action in self.TEXT_ACTIONS or action in ("enter", "back"):
            return not keys.typing(self)  # in the filter box: text; Enter and Escape are the box's own
        return True

    # -- moving: at once, so that the next key sees the cursor where the keys before it put it ---------------
    def action_cursor(self, step: int) -> None:
        self.table.action_cursor(step)

    def action_page(self, direction: int) -> None:
        self.table.action_page(direction)

    def action_first(self) -> None:
        self.table.action_first()

    def action_last(self) -> None:
        self.table.action_last()
