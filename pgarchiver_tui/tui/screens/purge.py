"""Purging from the TUI: one question with the whole summary, then each period's outcome as it comes.

The periods are found in the background (the same preparation as headless `purge`); the dialog names every
table or window to drop, detach or delete with its rows as archived, and every period that will be refused
and why. Nothing is changed before the answer; each period is then proven and purged on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, RichLog, Static
from textual.worker import Worker, WorkerState

from pgarchiver_tui.commands.purge.plan import PeriodPlan
from pgarchiver_tui.commands.purge.record import RemovedTarget, describe_removed
from pgarchiver_tui.commands.purge.run import PurgeHandler, describe_plan, prepare_purge
from pgarchiver_tui.core.errors import ArchiverError
from pgarchiver_tui.core.events import Event, JobResult, Notice, Outcome, RunReport
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.runner.run import ObjectRun

PurgeRun = ObjectRun[PeriodPlan]
Preparer = Callable[..., PurgeRun]
_STYLES = {Outcome.PURGED: "green", Outcome.REFUSED: "bold red", Outcome.FAILED: "bold red",
           Outcome.CANCELLED: "yellow"}


class PurgeScreen(ModalScreen[int | None]):
    """Dismissed with the purge's exit code, or None when nothing was started."""

    DEFAULT_CSS = """
    PurgeScreen #purge-summary { height: auto; max-height: 12; }
    PurgeScreen #purge-log { height: 8; display: none; }
    PurgeScreen.-started #purge-log { display: block; }
    PurgeScreen.-started #purge-summary { max-height: 5; }
    PurgeScreen.-started #detach-only { display: none; }
    """
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, settings: Settings, keys: Collection[str] | None = None, detach_only: bool = False,
                 prepare: Preparer = prepare_purge) -> None:
        super().__init__()
        self.settings, self.keys, self.detach_only, self.prepare = settings, keys, detach_only, prepare
        self.purge_run: PurgeRun | None = None
        self.report: RunReport | None = None
        self.running = False
        self.shown_notes: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("[b]Purge from the database?[/b]", id="dialog-title")
            with VerticalScroll(id="purge-summary"):
                yield Static(f"Finding what {escape(self.settings.table or '')} holds in the range and what the "
                             "archive proves …", id="dialog-body")
            yield Checkbox("detach only: keep the tables (DETACH … CONCURRENTLY where allowed)",
                           self.detach_only, id="detach-only", compact=True)
            yield RichLog(id="purge-log", markup=True, wrap=True)
            with Horizontal(id="dialog-buttons"):
                yield Button("Purge", id="purge", variant="error", compact=True, disabled=True)
                yield Button("Back", id="back", compact=True)

    def on_mount(self) -> None:
        self.query_one("#back", Button).focus()
        self.find_periods()

    @work(thread=True, exclusive=True, group="purge-plan", exit_on_error=False)
    def find_periods(self) -> PurgeRun:
        return self.prepare(self.settings, self.heard_from_thread, detach_only=self.detach_only, keys=self.keys)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "purge-plan":
            if event.state is WorkerState.SUCCESS and event.worker.result is not None:
                self.purge_run = event.worker.result
                self.show_summary()
            elif event.state is WorkerState.ERROR:
                error = event.worker.error
                text = str(error) if isinstance(error, ArchiverError) else f"{type(error).__name__}: {error}"
                self.query_one("#dialog-body", Static).update(f"[red]Cannot purge: {escape(text)}[/red]")
        elif event.worker.group == "purge-run" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self.running = False
            if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, RunReport):
                self.finished(event.worker.result)
            else:
                self.log_line(f"[bold red]purge stopped: {escape(str(event.worker.error))}[/]")
            self.query_one("#purge", Button).display = False
            self.query_one("#back", Button).label = "Close"

    # -- the question -------------------------------------------------------------------------------------
    def summary(self) -> str:
        assert self.purge_run is not None
        detach = self.query_one("#detach-only", Checkbox).value
        described = [describe_plan(plan, detach) for plan in self.purge_run.items]
        purge = [text for kind, text in described if kind == "purge"]
        refused = [text for kind, text in described if kind == "refused"]
        rows = sum(plan.archived_rows for plan, (kind, _) in zip(self.purge_run.items, described, strict=True)
                   if kind == "purge")
        lines = [f"{len(purge)} period(s), {rows:,} rows as archived, from {escape(self.app.sub_title)}, each proven "
                 f"against {escape(self.handler.storage.url)} first:"]
        lines += [f"  {escape(text)}" for text in purge]
        if refused:
            lines.append(f"[red]{len(refused)} refused, left untouched:[/red]")
            lines += [f"  [red]{escape(text)}[/red]" for text in refused]
        nothing = len(described) - len(purge) - len(refused)
        if nothing:
            lines.append(f"{nothing} archived period(s) with nothing left in the database")
        lines += [f"[yellow]{escape(note)}[/yellow]" for note in self.purge_run.notes]
        return "\n".join(lines)

    def show_summary(self) -> None:
        self.shown_notes = set(self.purge_run.notes) if self.purge_run is not None else set()
        self.query_one("#dialog-body", Static).update(self.summary())
        button = self.query_one("#purge", Button)
        button.disabled = not any(describe_plan(p, False)[0] == "purge" for p in self.purge_run.items)  # type: ignore[union-attr]
        if not button.disabled:
            button.focus()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if self.purge_run is not None:
            self.show_summary()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "purge":
            self.start()
        else:
            self.action_back()

    # -- the purge ----------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.purge_run is None or self.running or self.report is not None:
            return
        detach = self.query_one("#detach-only", Checkbox).value
        if detach != self.handler.options.detach_only:
            self.handler.options = replace(self.handler.options, detach_only=detach)
        self.running = True
        self.add_class("-started")
        self.query_one("#purge", Button).disabled = True
        self.query_one("#back", Button).label = "Stop"
        self.purge_now()

    @work(thread=True, exclusive=True, group="purge-run", exit_on_error=False)
    def purge_now(self) -> RunReport:
        assert self.purge_run is not None
        return self.purge_run.run()

    @property
    def handler(self) -> PurgeHandler:
        assert self.purge_run is not None and isinstance(self.purge_run.handler, PurgeHandler)
        return self.purge_run.handler

    def heard_from_thread(self, event: Event) -> None:
        self.app.call_from_thread(self.heard, event)

    def heard(self, event: Event) -> None:
        if isinstance(event, JobResult):
            style = _STYLES.get(event.outcome, "")
            if event.outcome is Outcome.PURGED:  # the proof is in the record; the line says what went
                removed = [RemovedTarget(**target) for target in event.detail.get("removed", [])]
                text = f"purged {escape(event.key)}: {escape(describe_removed(removed))}"
            else:
                text = f"{event.outcome.value} {escape(event.key)}: {escape(event.reason)}"
            self.log_line(f"[{style}]{text}[/]" if style else text)
        elif isinstance(event, Notice) and event.level == "info":  # a delete batch, a concurrent detach
            self.log_line(f"  {escape(event.message)}")
        elif isinstance(event, Notice) and event.message not in self.shown_notes:  # the summary said those
            self.log_line(f"[yellow]{escape(event.message)}[/yellow]")

    def log_line(self, text: str) -> None:
        self.query_one("#purge-log", RichLog).write(text)

    def finished(self, report: RunReport) -> None:
        self.report = report
        counts = report.summary()
        self.log_line(f"[b]{'interrupted' if report.cancelled else 'finished'}: {report.counts_text()}; "
                      f"{counts['rows']:,} rows removed[/b]")
        self.app.last_purge_code = report.exit_code  # type: ignore[attr-defined]

    def action_back(self) -> None:
        if self.running and self.purge_run is not None:
            self.purge_run.cancel()
            self.log_line("[yellow]stopping: the period in progress is rolled back[/yellow]")
            return
        if self.purge_run is not None and self.handler.cache is not None and not self.running:
            self.handler.cache.close()  # a run closes it when it ends; a question answered Back, here
        self.dismiss(self.report.exit_code if self.report is not None else None)
