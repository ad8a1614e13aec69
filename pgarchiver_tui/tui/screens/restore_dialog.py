"""Asking before a restore: into which table (the archived one unless changed), for real or as a dry run."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static


@dataclass(frozen=True)
class RestoreChoice:
    target: str  # schema.name
    dry_run: bool


class RestoreDialog(ModalScreen[RestoreChoice | None]):
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, body: str, target: str) -> None:
        super().__init__()
        self.body, self.target = body, target

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("[b]Restore into PostgreSQL?[/b]", id="dialog-title")
            yield Static(self.body, id="dialog-body")
            with Horizontal(classes="dialog-field"):
                yield Label("target table ")
                yield Input(self.target, id="target", compact=True)
            yield Checkbox("dry run: change nothing, say what would be done", id="dry-run", compact=True)
            yield Static("", id="target-problem", classes="error")
            with Horizontal(id="dialog-buttons"):
                yield Button("Restore", id="restore", variant="primary", compact=True)
                yield Button("Back", id="back", compact=True)

    def on_mount(self) -> None:
        self.query_one("#target", Input).cursor_blink = False
        self.query_one("#restore", Button).focus()

    def on_input_submitted(self) -> None:
        self.answer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "restore":
            self.answer()
        else:
            self.dismiss(None)

    def answer(self) -> None:
        target = self.query_one("#target", Input).value.strip()
        if not target or target.count(".") > 1:
            self.query_one("#target-problem", Static).update(
                f"target table {escape(target)!r} is not a table name; give NAME or SCHEMA.NAME")
            return
        self.dismiss(RestoreChoice(target, self.query_one("#dry-run", Checkbox).value))

    def action_back(self) -> None:
        self.dismiss(None)
