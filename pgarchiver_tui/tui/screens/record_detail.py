"""One cache record, every field of it."""

from __future__ import annotations

from dataclasses import fields

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from pgarchiver_tui.cache import Record


class RecordDetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, record: Record) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        lines = [f"[b]{f.name:>15}[/b]  {escape(str(getattr(self.record, f.name)) or '—')}"
                 for f in fields(self.record)]
        with Vertical(id="dialog"):
            yield Static(f"[b]{escape(self.record.key)}[/b]", id="dialog-title")
            with VerticalScroll(id="detail-body"):
                yield Static("\n".join(lines), id="record-fields")
            yield Static("[dim]Escape to close[/dim]")

    def action_close(self) -> None:
        self.dismiss(None)
