"""A labelled form control with its own inline error line."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from pgarchiver_tui.tui.wording import for_screen

Check = Callable[[str], None]  # raises ValueError (or an ArchiverError) with the message to show


class FormField(Vertical):
    """`label  [control]` on one line, the control's problem (if any) on the line below."""

    DEFAULT_CSS = """
    FormField { height: auto; }
    FormField > Horizontal { height: 1; }
    FormField Label { width: 16; }
    FormField .field-control { width: 1fr; }
    FormField .field-error { color: $text-error; display: none; padding-left: 16; }
    FormField.-invalid .field-error { display: block; }
    """

    def __init__(self, name: str, label: str, control: Input | Select, check: Check | None = None) -> None:
        super().__init__(id=f"field-{name}")
        self.field_name = name
        self.label = label
        self.control = control
        self.check = check
        control.add_class("field-control")
        if isinstance(control, Input):
            control.cursor_blink = False  # a still cursor: calmer over SSH, stable in snapshots

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label)
            yield self.control
        yield Static("", classes="field-error", markup=False)

    @property
    def value(self) -> str:
        if isinstance(self.control, Select):
            return "" if self.control.is_blank() else str(self.control.value)
        return self.control.value.strip()

    @value.setter
    def value(self, text: str) -> None:
        if isinstance(self.control, Select):
            self.control.value = text if text else Select.NULL
        else:
            self.control.value = text

    def validate(self) -> str:
        """Check the value; show and return the problem ('' when fine)."""
        problem = ""
        if self.check is not None and self.value:
            try:
                self.check(self.value)
            except Exception as exc:  # noqa: BLE001 - every check's complaint is shown, never raised
                problem = for_screen(str(exc)) or type(exc).__name__
        self.set_problem(problem)
        return problem

    def set_problem(self, problem: str) -> None:
        problem = for_screen(problem)
        self.set_class(bool(problem), "-invalid")
        self.query_one(".field-error", Static).update(problem)


def field_control(widget: Widget) -> FormField | None:
    """The FormField a control belongs to."""
    for ancestor in widget.ancestors:
        if isinstance(ancestor, FormField):
            return ancestor
    return None
