"""`?`: what every key does, for the screen it was opened over."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

INTRO = (
    "pgarchiver-tui archives date partitions of a PostgreSQL table to S3 or a directory.\n"
    "Connection → Partitions (choose) → Run (watch) → Cache (browse what is archived).\n"
    "Ctrl+P opens the command palette: it reaches every action. Escape backs out."
)


def own_actions(node: object) -> set[str]:
    """Actions bound by pgarchiver-tui's own classes, not inherited from Textual."""
    actions = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("pgarchiver_tui."):
            actions |= {b.action for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)}
    return actions


def key_lines(screen: Screen) -> list[str]:
    lines = []
    seen = set()
    # shown keys first: of two keys for one action (ctrl+q, ctrl+c) the footer's is named
    for active in sorted(screen.active_bindings.values(), key=lambda a: not a.binding.show):
        binding = active.binding
        if binding.action not in own_actions(active.node):
            continue  # Textual's and the focused widget's own keys (cursor, focus, copy)
        if not binding.description or binding.description in seen:
            continue
        seen.add(binding.description)
        shown = screen.app.get_key_display(binding)
        lines.append(f"  [b]{escape(shown):>10}[/b]  {escape(binding.description)}"
                     + ("" if active.enabled else " [dim](not now)[/dim]"))
    return lines


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def __init__(self, over: Screen) -> None:
        super().__init__()
        self.over = over

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"[b]Help: {escape(self.over.title or type(self.over).__name__)}[/b]",
                         id="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(INTRO + "\n\n[b]Keys[/b]\n" + "\n".join(key_lines(self.over)))
            yield Static("[dim]Escape to close[/dim]")

    def action_close(self) -> None:
        self.dismiss(None)
