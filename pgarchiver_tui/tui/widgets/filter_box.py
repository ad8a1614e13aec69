"""The filter box of a table screen: Enter keeps the filter, Escape clears it, both at once.

Textual hands each key to the widget that has the focus when the key comes in, so keys typed right behind
the Enter (or Escape) that closes the box — in one burst over SSH, say — are already the box's before it has
handled the Enter. It hands them on: a key that reaches the box once it no longer has the focus goes back to
the app, to act where the focus is now, in the order it was typed.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events

from pgarchiver_tui.tui.widgets.ordered_input import OrderedInput


class FilterBox(OrderedInput):
    def __init__(self, kept: Callable[[], None], cleared: Callable[[], None], placeholder: str) -> None:
        super().__init__(placeholder=placeholder, id="filter", compact=True)
        self.kept, self.cleared = kept, cleared
        self.cursor_blink = False

    async def on_key(self, event: events.Key) -> None:
        """Enter and Escape are handled here, as the box takes the key, not when the key has gone round to the
        app's bindings: the keys queued behind them then find the focus already elsewhere."""
        if self.app.focused is not self:  # typed ahead of the Enter or Escape that closed the box
            self.hand_on(event)
            self.app.post_message(events.Key(event.key, event.character))
        elif event.key == "enter":
            self.hand_on(event)
            self.kept()
        elif event.key == "escape":
            self.hand_on(event)
            self.cleared()
        # any other key: OrderedInput's handler comes next (an editing key), else Input's (a character)

    @staticmethod
    def hand_on(event: events.Key) -> None:
        event.prevent_default()  # not Input's own handling
        event.stop()
