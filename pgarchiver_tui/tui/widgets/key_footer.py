"""The bottom line: the keys that matter on this screen, as many as fit, the most important first.

Textual's Footer lays every shown key out in a row and cuts the row at the terminal's edge (`… f3 Ca` at 80
columns). Here the screen's shown bindings keep their declared order, which is their importance; those that
do not fit are left out whole, and Help — where the rest are listed — always stays. A click runs the key.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

from pgarchiver_tui.tui.keys import action_name

GAP = "  "
ALWAYS = ("help", "quit")  # never left out: help lists every other key


def declared(node: object) -> dict[str, int]:
    """Each action's place among the bindings `node`'s classes declare, the most derived class first."""
    order: dict[str, int] = {}
    for cls in type(node).__mro__:
        for binding in cls.__dict__.get("BINDINGS", []):
            if isinstance(binding, Binding):
                order.setdefault(binding.action, len(order))
    return order


class KeyFooter(Widget):
    DEFAULT_CSS = """
    KeyFooter { dock: bottom; height: 1; background: $footer-background; color: $footer-foreground; }
    KeyFooter > .key-footer--key { color: $footer-key-foreground; text-style: bold; }
    KeyFooter > .key-footer--disabled { color: $text-disabled; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-footer--key", "key-footer--disabled"}

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[tuple[int, int, Binding, object]] = []  # x from, x to, binding, its node

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        # the signal comes a frame after a focus change: redraw with the focus, the keys follow it
        self.watch(self.screen, "focused", self.focus_changed, init=False)

    def focus_changed(self) -> None:
        self.refresh()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        self.refresh()

    def items(self) -> list[tuple[Binding, object, bool]]:
        """(binding, node, enabled) of every shown key, each action once, in order."""
        seen: set[str] = set()
        found: list[tuple[Binding, object, bool]] = []
        # the screen's keys first, then those of the focused widget, the app's (help, quit) last; each in the
        # order its class declares them (not the order Textual meets them, which follows the focus)
        rank = {self.screen: 0, self.app: 2}
        actives = sorted(self.screen.active_bindings.values(),
                         key=lambda a: (rank.get(a.node, 1), declared(a.node).get(a.binding.action, 0)))
        for active in actives:
            binding = active.binding
            action = action_name(binding.action)
            if not binding.show or action in seen:
                continue
            seen.add(action)
            found.append((binding, active.node, active.enabled))
        return found

    def fitting(self, width: int) -> list[tuple[Binding, object, bool]]:
        items = self.items()
        sizes = [len(self.app.get_key_display(b)) + 1 + len(b.description) for b, _, _ in items]
        while items and sum(sizes) + len(GAP) * (len(items) - 1) + 1 > width:
            droppable = [n for n, (b, _, _) in enumerate(items) if action_name(b.action) not in ALWAYS]
            if not droppable:
                break
            drop = droppable[-1]
            del items[drop], sizes[drop]
        return items

    def render(self) -> RenderResult:
        key_style = self.get_component_rich_style("key-footer--key")
        disabled = self.get_component_rich_style("key-footer--disabled")
        text = Text(" ", no_wrap=True, overflow="ellipsis")
        self.spans = []
        for n, (binding, node, enabled) in enumerate(self.fitting(self.size.width)):
            if n:
                text.append(GAP)
            start = len(text)
            text.append(self.app.get_key_display(binding), key_style if enabled else disabled)
            text.append(" " + binding.description, "" if enabled else disabled)
            self.spans.append((start, len(text), binding, node))
        return text

    def on_resize(self) -> None:
        self.refresh()

    async def on_click(self, event: events.Click) -> None:
        for start, end, binding, node in self.spans:
            if start <= event.x < end:
                await self.app.run_action(binding.action, node)  # type: ignore[arg-type]
                return
