"""Choosing what to archive: every planned object with its size, rows and archive status."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import replace

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from pgarchiver_tui.commands.archive.prepare import Prepared
from pgarchiver_tui.commands.inventory import (
    ARCHIVED,
    CHANGED,
    FAILED,
    Entry,
    build_entries,
    count_rows,
    refresh_status,
)
from pgarchiver_tui.commands.verify import VerifyGroup
from pgarchiver_tui.core.errors import ArchiverError
from pgarchiver_tui.core.events import JobResult
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui.formatting import human_bytes, literal, period_text, rows_text
from pgarchiver_tui.tui.screens.confirm import ConfirmScreen
from pgarchiver_tui.tui.widgets.fixed_table import FixedTable
from pgarchiver_tui.tui.widgets.selection_totals import SelectionTotals
from pgarchiver_tui.tui.widgets.verify_panel import VerifyPanel, check_status, notify_verified

Loader = Callable[[Settings], Prepared]
FILTER_DELAY = 0.3  # seconds of quiet typing before the table is filtered

STATUS_STYLES = {ARCHIVED: "green", CHANGED: "yellow", FAILED: "bold red"}
# (key, header, width, sort key)
COLUMNS: tuple[tuple[str, str, int | None, Callable[[Entry], object]], ...] = (
    ("mark", "✓", 1, lambda e: 0),
    ("name", "partition", 18, lambda e: e.name),
    ("period", "period", 24, lambda e: e.job.period),
    ("rows", "rows", 9, lambda e: e.rows),
    ("size", "size", 8, lambda e: e.size_bytes),
    ("status", "status", 8, lambda e: e.status),
    ("key", "object key", 60, lambda e: e.job.key),
)
SORTABLE = [c[0] for c in COLUMNS[1:]]


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, ArchiverError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class PartitionsScreen(Screen[None]):
    TITLE = "Partitions"
    BINDINGS = [
        Binding("r", "archive", "Archive"),
        Binding("d", "dry_run", "Dry run"),
        Binding("v", "verify", "Verify"),
        Binding("P", "purge", "Purge from the database", key_display="P", show=False),
        Binding("space", "toggle_mark", "Select", key_display="␣"),
        Binding("a", "select_all", "All"),
        Binding("n", "select_none", "Select none", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("shift+down", "extend(1)", "Select range ↓", show=False),
        Binding("shift+up", "extend(-1)", "Select range ↑", show=False),
        Binding("o", "sort", "Sort"),
        Binding("O", "sort_reverse", "Reverse sort", show=False),
        Binding("x", "count", "Count rows", show=False),
        Binding("f5", "reload", "Discover again", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(self, settings: Settings, loader: Loader) -> None:
        super().__init__()
        self.settings = settings
        self.loader = loader
        self.prepared: Prepared | None = None
        self.entries: list[Entry] = []
        self.by_key: dict[str, Entry] = {}
        self.shown: list[Entry] = []
        self.selected: set[str] = set()
        self.filter_text = ""
        self.sort_column = "period"
        self.sort_reverse = False
        self.range_start: int | None = None
        self.filter_timer: Timer | None = None
        self.outcomes: dict[str, JobResult] = {}  # verified from this screen

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="notice")
        yield FixedTable(id="partitions", cursor_type="row")
        yield VerifyPanel(self.settings)
        yield Static("", id="detail")
        yield Input(placeholder="filter: part of a name, key, period or status; Enter keeps, Escape clears",
                    id="filter", compact=True)
        yield SelectionTotals(id="totals")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, header, width, _ in COLUMNS:
            table.add_column(header, key=key, width=width)
        self.query_one("#filter", Input).display = False
        self.query_one("#filter", Input).cursor_blink = False
        self.load()

    # -- loading -----------------------------------------------------------------------------------------
    def load(self) -> None:
        self.set_notice(f"Discovering {escape(self.settings.table or '')} at "
                        f"{escape(self.app.sub_title)} …", "loading")
        self.query_one(DataTable).loading = True
        self.discover()

    @work(thread=True, exclusive=True, group="discover", exit_on_error=False)
    def discover(self) -> tuple[Prepared, list[Entry]]:
        prepared = self.loader(replace(self.settings, dry_run=False))
        return prepared, build_entries(prepared.plan.jobs, prepared.cache)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "discover":
            if event.state is WorkerState.SUCCESS and event.worker.result is not None:
                prepared, entries = event.worker.result
                self.loaded(prepared, entries)
            elif event.state is WorkerState.ERROR:
                self.query_one(DataTable).loading = False
                self.set_notice(f"[b]Cannot list partitions:[/b] {escape(describe_error(event.worker.error or RuntimeError('unknown')))}\n"
                                "Escape to fix the connection settings, F5 to try again.", "error")
        elif event.worker.group == "count" and event.state is WorkerState.ERROR:
            self.notify(describe_error(event.worker.error or RuntimeError('unknown')), title="Counting rows failed", severity="error")

    def loaded(self, prepared: Prepared, entries: list[Entry]) -> None:
        if self.prepared is not None and self.prepared.cache is not None:
            self.prepared.cache.close()
        self.prepared, self.entries = prepared, entries
        self.by_key = {e.job.key: e for e in entries}
        self.selected &= set(self.by_key)
        self.query_one(DataTable).loading = False
        notes = prepared.notes
        layout = prepared.discovery.layout
        text = (f"{len(entries)} objects of {escape(prepared.discovery.schema)}.{escape(prepared.discovery.table)}"
                f" ({layout}, {prepared.settings.output_duration}) → {escape(prepared.storage.url)}")
        if notes:
            text += "\n[yellow]" + escape(notes[0]) + (f" (+{len(notes) - 1} more notes)" if len(notes) > 1 else "") \
                + "[/yellow]"
        self.set_notice(text, "")
        self.rebuild()
        self.query_one(DataTable).focus()
        # Tens of thousands of long-lived objects (entries, jobs, periods, rows) made every full collection
        # walk them all: 150 ms pauses on random keys. Frozen, the collector leaves them be; objects still
        # die when unreferenced, and the next load puts the old ones back in its reach.
        gc.unfreeze()
        gc.freeze()

    def set_notice(self, text: str, kind: str) -> None:
        notice = self.query_one("#notice", Static)
        notice.set_classes(kind)
        notice.update(text)

    def on_screen_resume(self) -> None:
        """Back from a run (or a dialog): the cache may know more now; redraw what changed."""
        if self.prepared is None or self.prepared.cache is None:
            return
        records = {r.key: r for r in self.prepared.cache.records(self.prepared.discovery.schema,
                                                                  self.prepared.discovery.table)}
        changed = set()
        for entry in self.entries:
            before = (entry.status, entry.note)
            refresh_status(entry, records.get(entry.job.key))
            if (entry.status, entry.note) != before:
                changed.add(entry.job.key)
        if changed:
            self.redraw([self.by_key[k] for k in changed])
            self.show_detail()

    # -- the table ---------------------------------------------------------------------------------------
    def cells(self, entry: Entry) -> tuple[object, ...]:
        return (
            "✓" if entry.job.key in self.selected else " ",
            Text(entry.name),
            period_text(entry.job.period),
            rows_text(entry.rows, estimated=entry.exact_rows is None),
            human_bytes(entry.size_bytes),
            Text(*check_status(self.outcomes[entry.job.key])) if entry.job.key in self.outcomes
            else Text(entry.status, style=STATUS_STYLES.get(entry.status, "")),
            Text(entry.job.key),
        )

    def rebuild(self) -> None:
        """Filter into the table (adding rows is what costs: only a filter does it), sorted."""
        table = self.query_one(FixedTable)
        current = self.current_entry()
        needle = self.filter_text.lower()
        self.shown = [e for e in self.entries if not needle or needle in
                      f"{e.name} {e.job.key} {period_text(e.job.period)} {e.status}".lower()]
        self.sort_shown()
        table.clear()
        table.add_lazy_rows((entry.job.key for entry in self.shown), lambda key: self.cells(self.by_key[key]))
        self.keep_cursor_on(current)

    def resort(self) -> None:
        """Reorder the rows in place, keeping the cursor on the same object."""
        current = self.current_entry()
        self.sort_shown()
        self.query_one(FixedTable).reorder(e.job.key for e in self.shown)
        self.keep_cursor_on(current)

    def sort_shown(self) -> None:
        sort_key = next(c[3] for c in COLUMNS if c[0] == self.sort_column)
        self.shown.sort(key=sort_key, reverse=self.sort_reverse)  # type: ignore[arg-type]

    def keep_cursor_on(self, current: Entry | None) -> None:
        if current is not None:
            row = next((n for n, e in enumerate(self.shown) if e is current), None)
            if row is not None:
                self.query_one(FixedTable).move_cursor(row=row)
        self.update_totals()
        self.show_detail()

    def current_entry(self) -> Entry | None:
        row = self.query_one(DataTable).cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def redraw(self, entries: list[Entry]) -> None:
        """Update the rows of `entries` in place."""
        table = self.query_one(DataTable)
        for entry in entries:
            if entry.job.key in table.rows:
                for (column, *_), value in zip(COLUMNS, self.cells(entry), strict=True):
                    table.update_cell(entry.job.key, column, value)
        self.update_totals()

    def redraw_marks(self, keys: set[str]) -> None:
        table = self.query_one(DataTable)
        for key in keys:
            if key in table.rows:
                table.update_cell(key, "mark", "✓" if key in self.selected else " ")
        self.update_totals()

    def update_totals(self) -> None:
        chosen = [self.by_key[k] for k in self.selected]
        order = f"{self.sort_column} {'↓' if self.sort_reverse else '↑'}"
        self.query_one(SelectionTotals).show(chosen, len(self.entries), len(self.shown), self.filter_text, order)

    def show_detail(self) -> None:
        entry = self.current_entry()
        text = ""
        if entry is not None:
            sources = ", ".join(p.source.qualified for p in entry.job.slices)
            text = f"[b]{escape(entry.job.key)}[/b] ← {escape(sources)}"
            check = self.outcomes.get(entry.job.key)
            if check is not None and check.problems:
                text += f"\n[red]{literal('; '.join(check.problems))}[/]"
            elif check is not None:
                text += f"\n[green]verified: {check.rows or 0:,} rows, checksums match[/]"
            elif entry.note:
                text += f"\n[{'red' if entry.status == FAILED else 'yellow'}]{escape(entry.note)}[/]"
        self.query_one("#detail", Static).update(text)

    @on(DataTable.RowHighlighted)
    def highlighted(self) -> None:
        self.show_detail()

    @on(DataTable.RowSelected)
    def row_selected(self) -> None:
        self.action_toggle_mark()

    @on(DataTable.HeaderSelected)
    def header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column in SORTABLE:
            self.sort_reverse = not self.sort_reverse if column == self.sort_column else False
            self.sort_column = column
            self.resort()

    # -- selection ---------------------------------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        entry = self.current_entry()
        if entry is None:
            return
        self.selected ^= {entry.job.key}
        self.range_start = self.query_one(DataTable).cursor_row
        self.redraw_marks({entry.job.key})

    def action_extend(self, step: int) -> None:
        table = self.query_one(DataTable)
        if not self.shown:
            return
        if self.range_start is None:
            self.range_start = table.cursor_row
        target = min(max(table.cursor_row + step, 0), len(self.shown) - 1)
        table.move_cursor(row=target)
        low, high = sorted((self.range_start, target))
        changed = {self.shown[r].job.key for r in range(low, high + 1)} - self.selected
        self.selected |= changed
        self.redraw_marks(changed)

    def action_select_all(self) -> None:
        """All that is shown: with a filter, that selects by filter."""
        changed = {e.job.key for e in self.shown} - self.selected
        self.selected |= changed
        self.redraw_marks(changed)

    def action_select_none(self) -> None:
        changed, self.selected = self.selected, set()
        self.range_start = None
        self.redraw_marks(changed)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        """Filtered once typing pauses: with thousands of rows, not on every key."""
        text = event.value.strip()
        if text == self.filter_text and self.filter_timer is None:
            return  # already shown (the box was just cleared)
        self.filter_text = text
        if self.filter_timer is not None:
            self.filter_timer.stop()
        self.filter_timer = self.set_timer(FILTER_DELAY, self.filter_now)

    @on(Input.Submitted, "#filter")
    def filter_kept(self) -> None:
        if self.filter_timer is not None:
            self.filter_now()
        self.query_one(DataTable).focus()

    def filter_now(self) -> None:
        if self.filter_timer is not None:
            self.filter_timer.stop()
            self.filter_timer = None
        self.rebuild()

    def action_sort(self) -> None:
        self.sort_column = SORTABLE[(SORTABLE.index(self.sort_column) + 1) % len(SORTABLE)]
        self.sort_reverse = False
        self.resort()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.resort()

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.display = False
            if self.filter_text:
                self.filter_text, box.value = "", ""
                self.filter_now()
            self.query_one(DataTable).focus()
            return
        panel = self.query_one(VerifyPanel)
        if panel.running:
            panel.cancel()
            return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()

    # -- counting and starting ---------------------------------------------------------------------------
    def chosen(self) -> list[Entry]:
        return [e for e in self.entries if e.job.key in self.selected]

    def action_count(self) -> None:
        if self.prepared is None:
            return
        current = self.current_entry()
        targets = self.chosen() or ([current] if current is not None else [])
        if not targets:
            return
        self.notify(f"counting rows of {len(targets)} object(s) …", timeout=2)
        self.count([e.job for e in targets])

    @work(thread=True, group="count", exit_on_error=False)
    def count(self, jobs: list[Job]) -> None:
        assert self.prepared is not None
        count_rows(self.prepared.options.conninfo, jobs, self.prepared.cache,
                   counted=lambda job, rows: self.app.call_from_thread(self.counted, job, rows))

    def counted(self, job: Job, rows: int) -> None:
        entry = self.by_key.get(job.key)
        if entry is None:
            return
        entry.exact_rows = rows
        record = self.prepared.cache.record_of(job.key, job.schema, job.table) \
            if self.prepared and self.prepared.cache else None
        refresh_status(entry, record)
        self.redraw([entry])
        self.show_detail()

    def action_archive(self) -> None:
        self.start(dry_run=False)

    def action_dry_run(self) -> None:
        self.start(dry_run=True)

    def start(self, dry_run: bool) -> None:
        if self.prepared is None:
            self.notify("nothing discovered yet", severity="warning")
            return
        chosen = self.chosen()
        if not chosen:
            self.notify("select objects first: space for one, a for all shown", severity="warning")
            return
        jobs = [e.job for e in chosen]
        if dry_run:
            self.app.open_run(self.prepared, jobs, True)  # type: ignore[attr-defined]
            return
        prepared = self.prepared
        rows = sum(e.rows for e in chosen)
        size = sum(e.size_bytes for e in chosen)
        options = prepared.options
        body = (f"Archive {len(jobs)} object(s), ~{rows:,} rows ({human_bytes(size)} on disk)\n"
                f"from {escape(self.app.sub_title)}\n"
                f"to   {escape(prepared.storage.url)}\n"
                f"as {options.format} + {options.outer_compression}, {options.workers} worker(s), "
                f"keys like {escape(jobs[0].key)}")
        if prepared.settings.force:
            body += "\n[yellow]--force: objects already archived are written again[/yellow]"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.open_run(prepared, jobs, False)  # type: ignore[attr-defined]

        self.app.push_screen(ConfirmScreen("Start archiving?", body, yes="Archive", no="Back"), confirmed)

    # -- verifying ---------------------------------------------------------------------------------------
    def action_verify(self) -> None:
        """Read the chosen archived objects back and prove them; outcomes land in the status column."""
        panel = self.query_one(VerifyPanel)
        if self.prepared is None or panel.running:
            return
        current = self.current_entry()
        targets = self.chosen() or ([current] if current is not None else [])
        archived = [e for e in targets if e.status in (ARCHIVED, CHANGED)]
        if not archived:
            self.notify("only archived objects can be verified: select some (space)", severity="warning")
            return
        discovery = self.prepared.discovery
        for entry in archived:
            self.outcomes.pop(entry.job.key, None)
        self.redraw(archived)
        panel.start([VerifyGroup(f"{discovery.schema}.{discovery.table}", tuple(e.job.key for e in archived))])

    @on(VerifyPanel.Checked)
    def verified(self, event: VerifyPanel.Checked) -> None:
        entry = self.by_key.get(event.check.key)
        if entry is not None:
            self.outcomes[entry.job.key] = event.check
            self.redraw([entry])
            self.show_detail()

    @on(VerifyPanel.Done)
    def verify_done(self, event: VerifyPanel.Done) -> None:
        notify_verified(self, event)

    # -- purging -----------------------------------------------------------------------------------------
    def action_purge(self) -> None:
        """Drop, detach or delete what the chosen archived rows prove, after one question with the summary."""
        from pgarchiver_tui.tui.screens.purge import PurgeScreen

        if self.prepared is None:
            return
        current = self.current_entry()
        targets = self.chosen() or ([current] if current is not None else [])
        archived = [e for e in targets if e.status in (ARCHIVED, CHANGED)]
        if not archived:
            self.notify("only archived objects can be purged: select some (space)", severity="warning")
            return

        def purged(code: int | None) -> None:
            if code is not None:  # partitions are gone: what is left is discovered again
                self.selected.clear()
                self.load()

        self.app.push_screen(PurgeScreen(self.settings, {e.job.key for e in archived}), purged)
