"""One key map for every screen, in the habits of k9s and lazygit.

- `q` quits wherever no text is being typed (Ctrl+Q everywhere); `?` or F1 is help; Escape goes back.
- Tables: j/k or the arrows move, g/G first/last, Space marks (and moves on), `a`/`n` mark all/none,
  Shift+arrows mark a range, `/` filters, `o`/`O` sort, Enter opens the row, `v` verifies the marked rows or,
  with none marked, the row under the cursor.
- The connection form: Tab/Shift+Tab move field by field across its tabs, 1/2/3 pick a tab from the tab bar.

A binding's place in a list is its importance: the footer shows as many as fit, in this order.

Keys are typed ahead: a user (or a paste, or an SSH link delivering keys in bursts) may send the next key
before the app has answered the last one. A binding Textual checks only after the focused widget declined the
key runs its action one message later, while the keys behind it already went to the widget that had the focus
— `/` then `1999` filtered nothing and moved the cursor, `r` then `y` lost the `y`. So every screen's action
keys are checked first (`ahead`: Textual's priority bindings), in key order; where text is being typed, the
keys that are text (`q`, `/`, `1`) give way to the field (`gives_way`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.widgets import Input

TEXT_KEY_NAMES = {"space", "slash", "question_mark", "full_stop", "comma", "minus", "plus", "underscore"}

def ahead(bindings: Iterable[BindingType]) -> list[BindingType]:
    """The same bindings, checked before the focused widget gets the key (see the module's docstring)."""
    return [replace(b, priority=True) if isinstance(b, Binding) else b for b in bindings]


def is_text(key: str) -> bool:
    """A key that types a character into a field (`q`, `/`, `1`, Space), not a command key (F5, Ctrl+T)."""
    return len(key) == 1 or key in TEXT_KEY_NAMES or key.startswith("shift+")


def text_actions(bindings: Iterable[BindingType]) -> set[str]:
    """The actions bound to keys that are text in a field."""
    return {b.action for b in bindings if isinstance(b, Binding) and any(is_text(k) for k in b.key.split(","))}


def typing(node: DOMNode) -> bool:
    """Text is being typed: the focus is in a field."""
    return isinstance(node.app.focused, Input)


def gives_way(node: DOMNode, action: str, text: set[str]) -> bool:
    """The action's key is text and a field has the focus: the key is the field's."""
    return action in text and typing(node)


# the app's own, on every screen; shown last in the footer
APP: list[BindingType] = ahead([
    # `<action>_key`: the same action on a key that is a letter in a field (see `gives_way`)
    Binding("question_mark", "help_key", "Help", key_display="?"),
    Binding("f1", "help", "Help", show=False),
    Binding("q", "quit_key", "Quit"),
    Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    Binding("f3", "cache", "Cache", show=False),
])

# where text is typed, `?` and `q` are letters: the footer names the keys that work there
TEXT_SCREEN = [
    Binding("f1", "app.help", "Help"),
    Binding("ctrl+q", "app.quit", "Quit"),
]

# marking, filtering and sorting rows: the partitions and cache screens alike (made `ahead` by each screen)
TABLE = [
    Binding("space", "toggle_mark", "Mark", key_display="␣"),
    Binding("slash", "filter", "Filter", key_display="/"),
    Binding("a", "mark_all", "Mark all shown", show=False),
    Binding("n", "mark_none", "Unmark all", show=False),
    Binding("shift+down", "extend(1)", "Mark range down", show=False),
    Binding("shift+up", "extend(-1)", "Mark range up", show=False),
    Binding("o", "sort", "Sort by next column", show=False),
    Binding("O", "sort_reverse", "Reverse the sort", show=False),
    Binding("escape", "back", "Back", show=False),
]


def action_name(action: str) -> str:
    """`app.help`, `help_key` and `help` are the same command."""
    return action.removeprefix("app.").removeprefix("screen.").removesuffix("_key")
