"""What the partitions and cache screens share: a RowTable with marks and a filter box, the keys in order.

Keys typed ahead (a burst over SSH, a fast typist) must act in the order they were typed. Textual hands a key
to the focused widget's own queue and runs a screen's binding only when the key comes back up, so a screen
binding that reads the cursor (Space marks the row under it) would otherwise run before the `j` typed just
before it had moved the cursor. Here the screen takes every table key itself, first (`keys.ahead`), and moves
the cursor the moment the key is taken; only what is typed into the filter box goes to the box, whose Enter
and Escape come in order behind it (widgets/filter_box.py).
"""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input

from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.widgets.filter_box import FilterBox
from pgarchiver_tui.tui.widgets.row_table import RowTable

MOVES = {"cursor", "page", "first", "last"}
FILTER_DELAY = 0.3  # seconds of quiet typing before the rows are filtered


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

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.filter_timer: Timer | None = None

    def rebuild(self) -> None:
        """Show the rows again after the filter changed: each screen's own."""
        raise NotImplementedError

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

    # -- the filter box ----------------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one(FilterBox)
        box.display = True
        self.set_focus(box)  # now: the keys typed right after `/` are the filter's

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        """Filtered once typing pauses: with 100,000 rows, not on every key."""
        if self.filter_timer is not None:
            self.filter_timer.stop()
        self.filter_timer = self.set_timer(FILTER_DELAY, self.filter_now)

    def filter_now(self) -> None:
        """Show what the filter box holds now (read from the box: its Changed message may still be on its
        way when Enter comes right behind the typing)."""
        if self.filter_timer is not None:
            self.filter_timer.stop()
            self.filter_timer = None
        text = self.query_one(FilterBox).value.strip()
        if text != self.filter_text:
            self.filter_text = text
            self.rebuild()

    def filter_kept(self) -> None:
        self.filter_now()
        self.set_focus(self.table)

    def close_filter(self) -> None:
        box = self.query_one(FilterBox)
        box.display, box.value = False, ""
        self.filter_now()  # every row again, unless no filter was shown
        self.set_focus(self.table)
