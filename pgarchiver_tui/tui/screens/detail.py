"""A dialog of labelled facts about one thing (an object to archive, a cache record): it scrolls, it wraps."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from pgarchiver_tui.tui import keys

Fact = tuple[str, str | Text]  # a label, its value (Text when it carries a colour)


def facts_table(facts: list[Fact]) -> Table:
    """Labels right-aligned in one column, values wrapped in the other: long keys and errors fold, never cut."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", justify="right", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in facts:
        table.add_row(label, value if isinstance(value, Text) else Text(value or "—"))
    return table


class DetailScreen(ModalScreen[None]):
    BINDINGS = keys.ahead([
        Binding("escape,q,enter", "close", "Close"),
        Binding("j,down", "scroll(1)", "Down", show=False),
        Binding("k,up", "scroll(-1)", "Up", show=False),
    ])

    def __init__(self, title: str, facts: list[Fact]) -> None:
        super().__init__()
        self.title_text, self.facts = title, facts

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="tall"):
            yield Static(f"[b]{escape(self.title_text)}[/b]", id="dialog-title")
            with VerticalScroll(id="detail-body"):
                yield Static(facts_table(self.facts), id="detail-facts")
            yield Static("[dim]Escape to close · j/k scroll[/dim]", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#detail-body").focus()

    def action_scroll(self, lines: int) -> None:
        self.query_one("#detail-body", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
