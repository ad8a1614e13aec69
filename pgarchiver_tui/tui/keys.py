"""One key map for every screen, in the habits of k9s and lazygit.

- `q` quits wherever no text is being typed (Ctrl+Q everywhere); `?` or F1 is help; Escape goes back.
- Tables: j/k or the arrows move, g/G first/last, Space marks (and moves on), `a`/`n` mark all/none,
  Shift+arrows mark a range, `/` filters, `o`/`O` sort, Enter opens the row, `v` verifies the marked rows or,
  with none marked, the row under the cursor.
- The connection form: Tab/Shift+Tab move field by field across its tabs, 1/2/3 pick a tab from the tab bar.

A binding's place in a list is its importance: the footer shows as many as fit, in this order.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

# the app's own, on every screen; shown last in the footer
APP: list[BindingType] = [
    Binding("question_mark", "help", "Help", key_display="?"),
    Binding("f1", "help", "Help", show=False),
    Binding("q", "quit", "Quit"),
    Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    Binding("f3", "cache", "Cache", show=False),
]

# where text is typed, `?` and `q` are letters: the footer names the keys that work there
TEXT_SCREEN = [
    Binding("f1", "app.help", "Help"),
    Binding("ctrl+q", "app.quit", "Quit"),
]

# marking, filtering and sorting rows: the partitions and cache screens alike
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
    """`app.help` and `help` are the same command."""
    return action.removeprefix("app.").removeprefix("screen.")
