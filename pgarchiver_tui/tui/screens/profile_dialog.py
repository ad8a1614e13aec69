"""Saving the form as a named profile of the TOML config, and loading one back."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, OptionList, Static

from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.widgets.ordered_input import OrderedInput


def profile_names(path: Path) -> list[str]:
    try:
        return sorted(tomllib.loads(path.read_text()).get("profiles", {}))
    except (OSError, tomllib.TOMLDecodeError):
        return []


class SaveProfileScreen(ModalScreen[tuple[str, bool] | None]):
    """Answers (name, include_secrets), or None when backed out."""

    BINDINGS = keys.ahead([Binding("escape", "back", "Back")])

    def __init__(self, path: Path, name: str = "") -> None:
        super().__init__()
        self.path, self.name_text = path, name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"[b]Save profile[/b] to {self.path}", id="dialog-title")
            yield OrderedInput(self.name_text, placeholder="profile name, e.g. prod-events", id="profile-name",
                               compact=True)
            yield Checkbox("also save passwords and keys (file mode 0600)", id="with-secrets", compact=True)
            yield Static("", id="profile-error", classes="error")
            with Horizontal(id="dialog-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Back", id="back", compact=True)

    def on_mount(self) -> None:
        self.query_one("#profile-name", Input).cursor_blink = False

    def on_input_submitted(self) -> None:
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self._save()
        else:
            self.dismiss(None)

    def _save(self) -> None:
        name = self.query_one("#profile-name", Input).value.strip()
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            self.query_one("#profile-error", Static).update("a profile name is letters, digits, - and _")
            return
        self.dismiss((name, self.query_one("#with-secrets", Checkbox).value))

    def action_back(self) -> None:
        self.dismiss(None)


class LoadProfileScreen(ModalScreen[str | None]):
    BINDINGS = keys.ahead([Binding("escape", "back", "Back")])

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.names = profile_names(path)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"[b]Load profile[/b] from {self.path}", id="dialog-title")
            if self.names:
                yield OptionList(*self.names, id="profiles")
            else:
                yield Static("no profiles saved yet (Ctrl+S on the connection screen saves one)")
            yield Static("[dim]Enter to load, Escape to go back[/dim]")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.names[event.option_index])

    def action_back(self) -> None:
        self.dismiss(None)
