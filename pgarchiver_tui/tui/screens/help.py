"""`?` (or F1): what every key does on the screen it was opened over. It scrolls: j/k, the arrows, PgUp/PgDn.

The same list feeds the command palette (Ctrl+P): each of pgarchiver-tui's own commands once, with its key.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.keys import action_name

INTRO = (
    "pgarchiver-tui archives date partitions of a PostgreSQL table to S3 or a directory.\n"
    "Connection → Partitions (mark, then r) → Run (watch) → Cache (F3: what is archived).\n"
    "Ctrl+P lists every command. Escape goes back; q quits where no text is typed, Ctrl+Q anywhere."
)
MOVING = [
    ("j k ↑ ↓", "move in a table or a list"),
    ("g G", "first, last row"),
    ("PgUp PgDn", "a page up, down"),
    ("Tab", "next field or control (Shift+Tab back)"),
]


@dataclass(frozen=True)
class Command:
    description: str
    key: str  # as shown, e.g. "r" or "^q"
    action: str
    node: DOMNode
    enabled: bool


def own_actions(node: object) -> set[str]:
    """Actions bound by pgarchiver-tui's own classes, not inherited from Textual."""
    actions = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("pgarchiver_tui."):
            actions |= {action_name(b.action) for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)}
    return actions


def screen_commands(screen: Screen) -> list[Command]:
    """Each command of `screen` (and the app) once, named by the key the footer would show."""
    found: dict[str, Command] = {}
    # in the footer's order (the screen's keys, the focused widget's, the app's), shown keys first: of two
    # keys for one command (q and Ctrl+Q) the footer's is named
    rank = {screen: 0, screen.app: 2}
    actives = sorted(screen.active_bindings.values(), key=lambda a: (not a.binding.show, rank.get(a.node, 1)))
    for active in actives:
        binding = active.binding
        action = action_name(binding.action)
        if action not in own_actions(active.node) or not binding.description or action in found:
            continue  # Textual's and the focused widget's own keys (cursor, focus, copy)
        found[action] = Command(binding.description, screen.app.get_key_display(binding), binding.action,
                                active.node, active.enabled)
    return list(found.values())


def keys_table(screen: Screen) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for command in screen_commands(screen):
        table.add_row(command.key, Text(command.description + ("" if command.enabled else " (not now)"),
                                        style="" if command.enabled else "dim"))
    for key, what in MOVING:
        table.add_row(key, what)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = keys.ahead([
        Binding("escape,q,question_mark,f1", "close", "Close"),
        Binding("j,down", "scroll(1)", "Down", show=False),
        Binding("k,up", "scroll(-1)", "Up", show=False),
        Binding("pagedown,space", "scroll(10)", "Page down", show=False),
        Binding("pageup", "scroll(-10)", "Page up", show=False),
    ])

    def __init__(self, over: Screen) -> None:
        super().__init__()
        self.over = over
        self.keys = keys_table(over)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="tall"):
            yield Static(f"[b]Help: {escape(self.over.title or type(self.over).__name__)}[/b]",
                         id="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(INTRO, id="help-intro")
                yield Static("[b]Keys on this screen[/b]", id="help-keys-title")
                yield Static(self.keys, id="help-keys")
            yield Static("[dim]Escape to close · j/k or PgUp/PgDn scroll[/dim]", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help-body", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
