"""Where from, where to, what: the database, the destination and the job, checked as they are typed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, ContentSwitcher, Header, Input, Select, Static, Tab, Tabs

from pgarchiver_tui.commands.preflight import check_database, check_destination
from pgarchiver_tui.core import schema
from pgarchiver_tui.core.errors import ArchiverError
from pgarchiver_tui.core.periods import Duration
from pgarchiver_tui.core.settings import Settings, load_settings, save_profile, with_text_values
from pgarchiver_tui.pipeline import codecs, formats
from pgarchiver_tui.storage.destination import parse_destination
from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.screens.profile_dialog import LoadProfileScreen, SaveProfileScreen
from pgarchiver_tui.tui.widgets.form_field import Check, FormField, field_control
from pgarchiver_tui.tui.widgets.key_footer import KeyFooter
from pgarchiver_tui.tui.widgets.ordered_input import OrderedInput
from pgarchiver_tui.tui.wording import for_screen

SSLMODES = schema.SSLMODES
CHECK_DELAY = 0.25  # seconds of quiet typing before what was typed is checked


def _by_schema(name: str) -> Check:
    """The field's value read and checked by the one schema the command line and config file use too."""
    def check(text: str) -> None:
        schema.parse_text(name, text, "")
        if name == "dsn":
            Settings(dsn=text).conninfo()
    return check


def _destination(text: str) -> None:
    parse_destination(text)


@dataclass(frozen=True)
class Spec:
    name: str  # a Settings field
    label: str
    tab: str
    check: Check | None = None  # besides the schema's
    choices: tuple[str, ...] = ()
    password: bool = False
    placeholder: str = ""
    blank: bool = True  # a Select may be left unset


SPECS = (
    Spec("dsn", "DSN", "database", placeholder="postgresql://user@host/db (optional)"),
    Spec("db_host", "Host", "database", placeholder="PGHOST / localhost"),
    Spec("db_port", "Port", "database", placeholder="5432"),
    Spec("db_user", "User", "database", placeholder="PGUSER"),
    Spec("db_password", "Password", "database", password=True, placeholder="PGPASSWORD / ~/.pgpass"),
    Spec("db_name", "Database", "database", placeholder="PGDATABASE"),
    Spec("db_sslmode", "SSL mode", "database", choices=SSLMODES),
    Spec("dest", "Destination", "destination", _destination,
         placeholder="s3://bucket/prefix, az://container/prefix, gs://bucket/prefix or a directory"),
    Spec("local_dir", "Local directory", "destination", placeholder="or a directory …"),
    Spec("s3_bucket", "S3 bucket", "destination", placeholder="… or a bucket"),
    Spec("s3_endpoint", "S3 endpoint", "destination", placeholder="https://… (omit for AWS)"),
    Spec("s3_region", "S3 region", "destination"),
    Spec("s3_access_key", "Access key", "destination", password=True, placeholder="AWS credential chain"),
    Spec("s3_secret_key", "Secret key", "destination", password=True),
    Spec("s3_profile", "AWS profile", "destination"),
    Spec("table", "Table", "job", placeholder="events or schema.events"),
    Spec("schema", "Schema", "job", placeholder="public"),
    Spec("start_date", "Start date", "job", placeholder="YYYY-MM-DD"),
    Spec("end_date", "End date", "job", placeholder="YYYY-MM-DD (inclusive)"),
    Spec("date_column", "Date column", "job", placeholder="for plain tables and splitting"),
    Spec("output_format", "Format", "job", choices=tuple(formats.FORMATS), blank=False),
    Spec("compression", "Compression", "job", choices=tuple(codecs.CODECS), blank=False),
    Spec("compression_level", "Level", "job", placeholder="codec default"),
    Spec("output_duration", "Output period", "job", choices=tuple(d.value for d in Duration), blank=False),
    Spec("path_template", "Path template", "job"),
    Spec("workers", "Workers", "job"),
)
TABS = (("database", "Database"), ("destination", "Destination"), ("job", "Job"))


def make_field(spec: Spec, value: Any) -> FormField:
    text = "" if value is None else str(value)
    control: Input | Select
    if spec.choices:
        control = Select([(c, c) for c in spec.choices], value=text if text else Select.NULL,
                         allow_blank=spec.blank, compact=True, id=f"input-{spec.name}")
    else:
        control = OrderedInput(text, placeholder=spec.placeholder, password=spec.password, compact=True,
                               id=f"input-{spec.name}")
    return FormField(spec.name, spec.label, control, spec.check or _by_schema(spec.name))


class ConnectionScreen(Screen[None]):
    """Fields are checked once typing pauses, never on every key: a paste or a fast typist over a slow link
    costs the form nothing per character, so no keystroke waits behind a check and none is lost."""

    TITLE = "Connection"
    BINDINGS = [
        # these read the form: they come through the field, behind the characters typed before them
        Binding("ctrl+t", "test", "Test"),
        Binding("ctrl+n", "next", "Partitions"),
        Binding("ctrl+s", "save_profile", "Save"),
        Binding("ctrl+l", "load_profile", "Load"),
        # these move the focus: taken first, so that the characters after them go where they were aimed
        *keys.ahead([
            *keys.TEXT_SCREEN,
            Binding("f3", "app.cache", "Cache"),
            Binding("tab", "move(1)", "Next field", key_display="tab"),
            Binding("shift+tab", "move(-1)", "Previous field", show=False),
            Binding("escape", "leave_field", "Leave the field (then 1 2 3 pick a tab)", show=False),
            Binding("1", "show_tab('database')", "Database tab", show=False),
            Binding("2", "show_tab('destination')", "Destination tab", show=False),
            Binding("3", "show_tab('job')", "Job tab", show=False),
            Binding("ctrl+pagedown", "next_tab(1)", "Next tab", show=False),
            Binding("ctrl+pageup", "next_tab(-1)", "Previous tab", show=False),
            Binding("enter", "enter", "Next field, or into the tab", show=False),
            Binding("down", "enter_tab", "Into the tab's fields", show=False),
        ]),
    ]
    TEXT_ACTIONS = keys.text_actions(BINDINGS)

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.unchecked: set[str] = set()  # fields typed into since they were last checked
        self.check_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        # Tabs and a ContentSwitcher, not a TabbedContent: a TabbedContent brings forward the pane of a
        # widget that was focused by a message that comes later; typing fast across the tabs, a stale one
        # hid the field being typed into and the keys after it were lost. Here only this screen says which
        # pane shows, in the same step as it moves the focus.
        yield Tabs(*(Tab(f"{n} {title}", id=f"tab-{tab}") for n, (tab, title) in enumerate(TABS, 1)), id="tab-bar")
        with ContentSwitcher(initial=f"pane-{TABS[0][0]}", id="tabs"):
            for tab, _ in TABS:
                with VerticalScroll(id=f"pane-{tab}", can_focus=False):
                    for spec in SPECS:
                        if spec.tab == tab:
                            yield make_field(spec, getattr(self.settings, spec.name))
        yield Static("", id="test-database", classes="answer")
        yield Static("", id="test-destination", classes="answer")
        with Horizontal(id="buttons"):
            yield Button("Test ^T", id="test", compact=True)
            yield Button("Partitions ^N", id="next", variant="primary", compact=True)
            yield Button("Save ^S", id="save", compact=True)
            yield Button("Load ^L", id="load", compact=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_focus(self.controls()[0])  # type straight away

    # -- moving around: Tab goes through every field of every tab, then the buttons ------------------------
    @property
    def shown_tab(self) -> str:
        return (self.query_one(ContentSwitcher).current or f"pane-{TABS[0][0]}").removeprefix("pane-")

    def controls(self) -> list[Widget]:
        fields_in_order = [self.field(spec.name).control for tab, _ in TABS for spec in SPECS if spec.tab == tab]
        return [*fields_in_order, *self.query(Button)]

    def action_move(self, step: int) -> None:
        order = self.controls()
        focused = self.focused
        position = next((n for n, w in enumerate(order) if focused is w or (focused and w in focused.ancestors)),
                        None)
        if position is None:  # from the tab bar: into the tab shown
            self.action_enter_tab()
            return
        self.focus_control(order[(position + step) % len(order)])

    def action_leave_field(self) -> None:
        """Out of the text: the tab bar takes the focus, where 1 2 3, the arrows and q work."""
        self.set_focus(self.query_one(Tabs))

    def action_enter_tab(self) -> None:
        self.action_show_tab(self.shown_tab)

    def action_next_tab(self, step: int) -> None:
        names = [tab for tab, _ in TABS]
        self.action_show_tab(names[(names.index(self.shown_tab) + step) % len(names)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if keys.gives_way(self, action, self.TEXT_ACTIONS):
            return False  # 1 2 3 in a field are digits
        if action == "enter_tab":  # down keeps its meaning everywhere but on the tab bar
            return isinstance(self.focused, Tabs)
        if action == "enter":  # a button presses, a list picks: only a field and the tab bar move on
            return isinstance(self.focused, Input | Tabs)
        if action == "leave_field":  # an open list closes first
            focused = self.focused
            return not (focused and any(isinstance(n, Select) and n.expanded for n in (focused, *focused.ancestors)))
        return True

    def action_enter(self) -> None:
        if isinstance(self.focused, Tabs):
            self.action_enter_tab()
        else:
            self.action_move(1)

    def show_pane(self, tab: str) -> None:
        """Show `tab`'s fields and mark its tab, at once."""
        self.query_one(ContentSwitcher).current = f"pane-{tab}"
        self.query_one(Tabs).active = f"tab-{tab}"

    def focus_control(self, control: Widget) -> None:
        pane = next((a for a in control.ancestors if a.parent is self.query_one(ContentSwitcher)), None)
        if pane is not None and pane.id:
            self.show_pane(pane.id.removeprefix("pane-"))
        # now, not after a refresh (nor by Widget.focus, which waits for the next message): a key typed
        # right after Tab must land in the field Tab went to
        self.set_focus(control)

    @on(Tabs.TabActivated)
    def tab_clicked(self, event: Tabs.TabActivated) -> None:
        """The tab bar used (a click, the arrows): its pane follows. The activations this screen makes come
        back here later too; any but the latest is stale and changes nothing."""
        if event.tab is None or event.tab.id != event.tabs.active:
            return
        tab = event.tab.id.removeprefix("tab-")
        if tab != self.shown_tab:
            self.query_one(ContentSwitcher).current = f"pane-{tab}"
            if self.focused is not None and not isinstance(self.focused, Tabs):
                self.action_show_tab(tab)  # the focused field was hidden: the new tab's first one

    def action_show_tab(self, tab: str) -> None:
        self.show_pane(tab)
        first = next(spec for spec in SPECS if spec.tab == tab)
        self.set_focus(self.field(first.name).control)

    # -- the form ------------------------------------------------------------------------------------------
    def field(self, name: str) -> FormField:
        return self.query_one(f"#field-{name}", FormField)

    def form_settings(self) -> Settings:
        """The settings the form describes; raises ValueError naming a field that cannot be read."""
        try:
            return with_text_values(self.settings, {spec.name: self.field(spec.name).value for spec in SPECS},
                                    {spec.name: spec.label for spec in SPECS})
        except ArchiverError as exc:
            raise ValueError(str(exc)) from None

    def check_level(self, text: str) -> None:
        codec = codecs.get_codec(self.field("compression").value or "zstd")
        codec.check_level(schema.parse_text("compression_level", text, "Level"))

    def validate_field(self, field: FormField) -> str:
        problem = field.validate()
        if field.field_name == "compression_level" and field.value and not problem:
            try:
                self.check_level(field.value)
            except (ValueError, ArchiverError) as exc:
                problem = str(exc)
            field.set_problem(problem)
        return problem

    @on(Input.Changed)
    @on(Select.Changed)
    def changed(self, event: Input.Changed | Select.Changed) -> None:
        """Note the field; check it when typing pauses (a Select is picked at once, so checked at once)."""
        field = field_control(event.control)
        if field is None:
            return
        self.unchecked.add(field.field_name)
        if isinstance(event, Select.Changed):
            self.check_now()
            return
        if self.check_timer is not None:
            self.check_timer.stop()
        self.check_timer = self.set_timer(CHECK_DELAY, self.check_now)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        if self.unchecked:
            self.check_now()  # leaving a field shows its problem without waiting

    def check_now(self) -> None:
        if self.check_timer is not None:
            self.check_timer.stop()
            self.check_timer = None
        names, self.unchecked = self.unchecked, set()
        if "compression" in names:
            names.add("compression_level")
        for name in names:
            self.validate_field(self.field(name))
        if names & {"dsn", "db_host", "db_port", "db_name"}:
            self.show_location()

    def show_location(self) -> None:
        try:
            self.app.sub_title = self.form_settings().database_label()
        except (ValueError, ArchiverError):
            pass  # the field shows the problem; the header keeps the last good label

    def fill(self, settings: Settings) -> None:
        self.settings = settings
        for spec in SPECS:
            value = getattr(settings, spec.name)
            self.field(spec.name).value = "" if value is None else str(value)
        self.show_location()

    def checked_settings(self) -> Settings | None:
        """The form's settings if every field and their combination is valid; else say what is wrong."""
        self.check_now()
        problems = [f"{f.label}: {p}" for f in self.query(FormField) if (p := self.validate_field(f))]
        if problems:
            self.notify(problems[0], title="Fix the form first", severity="error")
            return None
        try:
            settings = self.form_settings()
            settings.validate()
        except (ValueError, ArchiverError) as exc:
            self.notify(for_screen(str(exc)), title="Not ready", severity="error")
            return None
        return settings

    # -- actions -----------------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"test": self.action_test, "next": self.action_next, "save": self.action_save_profile,
                   "load": self.action_load_profile}
        actions[event.button.id or ""]()

    def action_next(self) -> None:
        settings = self.checked_settings()
        if settings is not None:
            self.settings = settings
            self.app.open_partitions(settings)  # type: ignore[attr-defined]

    def action_test(self) -> None:
        try:
            settings = self.form_settings()
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        for which in ("database", "destination"):
            self.query_one(f"#test-{which}", Static).update(f"{which.title()}: [dim]checking …[/dim]")
        self.run_test(settings)

    @work(thread=True, exclusive=True, group="test", exit_on_error=False,
          description="testing the connection")  # never repr() of settings: they hold passwords
    def run_test(self, settings: Settings) -> None:
        for which, check in (("database", check_database), ("destination", check_destination)):
            try:
                answer = f"[green]✓[/green] {escape(check(settings))}"
            except ArchiverError as exc:
                answer = f"[red]✗ {escape(for_screen(str(exc)))}[/red]"
            except Exception as exc:  # noqa: BLE001 - shown inline, never as a traceback
                answer = f"[red]✗ {escape(type(exc).__name__)}: {escape(str(exc))}[/red]"
            self.app.call_from_thread(self.show_answer, which, answer)

    def show_answer(self, which: str, answer: str) -> None:
        self.query_one(f"#test-{which}", Static).update(f"{which.title()}: {answer}")

    def action_save_profile(self) -> None:
        try:
            settings = self.form_settings()
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        path: Path = self.app.config_path  # type: ignore[attr-defined]

        def save(answer: tuple[str, bool] | None) -> None:
            if answer is None:
                return
            name, with_secrets = answer
            try:
                save_profile(path, name, settings, include_secrets=with_secrets)
            except (OSError, ValueError, ArchiverError) as exc:
                self.notify(f"cannot save profile {name!r}: {exc}", severity="error")
                return
            secrets = "with" if with_secrets else "without"
            self.notify(f"profile {name!r} saved to {path} ({secrets} passwords and keys)")

        self.app.push_screen(SaveProfileScreen(path), save)

    def action_load_profile(self) -> None:
        path: Path = self.app.config_path  # type: ignore[attr-defined]

        def load(name: str | None) -> None:
            if name is None:
                return
            try:
                loaded = load_settings({}, environ={}, config=str(path), profile=name)
            except ArchiverError as exc:
                self.notify(for_screen(str(exc)), severity="error")
                return
            self.fill(replace(loaded, no_ui=False))
            self.notify(f"profile {name!r} loaded")

        self.app.push_screen(LoadProfileScreen(path), load)
