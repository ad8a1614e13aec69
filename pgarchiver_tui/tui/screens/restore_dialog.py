"""Asking before a restore: into which table (the archived one unless changed), as a dry run (the default) or
for real."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.widgets.ordered_input import OrderedInput

DRY_ON = "Dry run: ON — change nothing, only say what would be done"
DRY_OFF = "Dry run: off — rows are written into the target table"


@dataclass(frozen=True)
class RestoreChoice:
    target: str  # schema.name
    dry_run: bool


class DryRunBox(Checkbox):
    """A checkbox whose two states read differently, not only in a colour a terminal may not show."""

    DEFAULT_CSS = """
    DryRunBox { width: 1fr; }
    DryRunBox.-on { color: $text-warning; text-style: bold; }
    """

    def __init__(self, value: bool, **kwargs: object) -> None:
        super().__init__(DRY_ON if value else DRY_OFF, value, compact=True, **kwargs)  # type: ignore[arg-type]
        self.set_class(value, "-on")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.label = DRY_ON if event.value else DRY_OFF
        self.set_class(event.value, "-on")


class RestoreDialog(ModalScreen[RestoreChoice | None]):
    BINDINGS = keys.ahead([
        Binding("escape", "back", "Back"),
        Binding("ctrl+d", "toggle_dry_run", "Dry run on/off"),
    ])

    def __init__(self, body: str, target: str) -> None:
        super().__init__()
        self.body, self.target = body, target

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("[b]Restore into PostgreSQL?[/b]", id="dialog-title")
            yield Static(self.body, id="dialog-body")
            with Horizontal(classes="dialog-field"):
                yield Label("target table ")
                yield OrderedInput(self.target, id="target", compact=True)
            yield DryRunBox(True, id="dry-run")
            yield Static("", id="target-problem", classes="error")
            yield Static("[dim]Tab moves · Space or ^D: dry run on/off · Escape backs out[/dim]",
                         classes="dialog-hint")
            with Horizontal(id="dialog-buttons"):
                yield Button("Dry run", id="restore", variant="primary", compact=True)
                yield Button("Back", id="back", compact=True)

    def on_mount(self) -> None:
        self.query_one("#target-problem").display = False  # a line only when there is a problem
        self.query_one("#target", Input).cursor_blink = False
        self.query_one("#restore", Button).focus()

    @on(Checkbox.Changed, "#dry-run")
    def dry_run_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#restore", Button).label = "Dry run" if event.value else "Restore"

    def action_toggle_dry_run(self) -> None:
        self.query_one("#dry-run", Checkbox).toggle()

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
            self.query_one("#target-problem", Static).display = True
            self.query_one("#target-problem", Static).update(
                f"target table {escape(target)!r} is not a table name; give NAME or SCHEMA.NAME")
            return
        self.dismiss(RestoreChoice(target, self.query_one("#dry-run", Checkbox).value))

    def action_back(self) -> None:
        self.dismiss(None)
