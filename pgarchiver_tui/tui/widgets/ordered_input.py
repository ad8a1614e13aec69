"""An Input that edits in the order the keys were typed.

Textual's Input inserts a typed character as soon as the key reaches it, but its editing keys (Backspace,
Delete, the arrows, Home/End, Ctrl+U, Ctrl+K, Ctrl+W …) are bindings, and a focused widget's bindings run only
once the key has gone up through every container around it to the app. Typed faster than that round trip — a
paste, a burst over SSH, a quick correction — the characters after an editing key are inserted first and the
edit lands on the wrong text: `postgresql` with a corrected typo became `postgrql`, Ctrl+U then a date cleared
the date. The deeper the form (label, field, tab pane, scroll …) and the busier the app, the longer the trip,
which is why a bare Input in an empty app seemed to keep everything. Here the Input's own bindings run the
moment the key reaches it, in line with the characters around it.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input


def own_bindings(cls: type) -> dict[str, str]:
    """Every key the Input classes bind, to its action."""
    keys: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if issubclass(klass, Input):
            for binding in klass.__dict__.get("BINDINGS", []):
                if isinstance(binding, Binding):
                    keys.update(dict.fromkeys(binding.key.split(","), binding.action))
    return keys


class OrderedInput(Input):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.editing_keys = own_bindings(type(self))

    async def on_key(self, event: events.Key) -> None:
        action = self.editing_keys.get(event.key)
        if action is not None:
            event.prevent_default()
            event.stop()
            await self.run_action(action)
