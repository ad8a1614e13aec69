"""Choosing what to archive: every planned object with its size, rows and archive status."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, replace

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Static
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
from pgarchiver_tui.core.periods import Duration
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.formatting import human_bytes, literal, period_text, rows_text
from pgarchiver_tui.tui.screens.confirm import ConfirmScreen
from pgarchiver_tui.tui.screens.detail import DetailScreen, Fact
from pgarchiver_tui.tui.screens.table_screen import TableScreen
from pgarchiver_tui.tui.widgets.filter_box import FilterBox
from pgarchiver_tui.tui.widgets.key_footer import KeyFooter
from pgarchiver_tui.tui.widgets.row_table import Cell, Column, RowTable
from pgarchiver_tui.tui.widgets.selection_totals import Marked, SelectionTotals
from pgarchiver_tui.tui.widgets.verify_panel import VerifyPanel, check_status, notify_verified
from pgarchiver_tui.tui.wording import for_screen

Loader = Callable[[Settings], Prepared]
# a worker given no description describes itself by repr() of its arguments: 2 s for 100,000 entries
NO_REPR = "facts and orders of the partitions"

STATUS_STYLES = {ARCHIVED: "green", CHANGED: "yellow", FAILED: "bold red"}
COLUMNS = (
    Column("mark", "✓", 1),
    Column("name", "partition", 20, min_width=16, priority=1),
    Column("period", "period", 13, min_width=10, priority=3),
    Column("rows", "rows", 11, min_width=7, priority=4, align="right"),
    Column("size", "size", 9, min_width=8, priority=5, align="right"),
    Column("status", "status", 9, min_width=8, priority=2),
    Column("key", "object key", 60, min_width=30, priority=6, flex=True),
)
SORTABLE = [c.key for c in COLUMNS[1:]]


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, ArchiverError):
        return for_screen(str(exc))
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Facts:
    """What never changes about an entry, worked out once: for the rows on screen when they are drawn, for
    all of them in a thread behind the shown table; sorting and filtering 100,000 rows then compare plain
    values instead of calling properties."""

    name: str
    period: str
    estimated_rows: int
    size: int
    haystack: str  # what a filter looks in, lower case


def period_label(job: Job) -> str:
    """The period's name as in the object key (`2024-01-31`, `2024-W05`); a daily one without strftime,
    which costs a second for 100,000 partitions."""
    start = job.period.start
    if job.duration is Duration.DAILY:
        return start.date().isoformat()
    return job.duration.label(start)


def source_name(entry: Entry) -> str:
    slices = entry.job.slices
    if len(slices) == 1 and slices[0].window is None:
        return slices[0].source.name  # the usual case, without Entry.name's general way
    return entry.name


def facts_of(entry: Entry) -> Facts:
    job = entry.job
    name, period = source_name(entry), period_label(job)
    whole = len(job.slices) == 1 and job.slices[0].window is None
    size = job.slices[0].source.size_bytes if whole else entry.size_bytes
    return Facts(name, period, job.estimated_rows, size, f"{name} {job.key}".lower())


def all_facts(entries: list[Entry]) -> dict[str, Facts]:
    return {entry.job.key: facts_of(entry) for entry in entries}


def column_values(entries: list[Entry], facts: dict[str, Facts], column: str) -> dict[str, object]:
    """What each object is sorted by in `column`."""
    if column == "rows":
        return {e.job.key: e.exact_rows if e.exact_rows is not None else facts[e.job.key].estimated_rows
                for e in entries}
    if column == "status":
        return {e.job.key: e.status for e in entries}
    if column == "key":
        return {key: key for key in facts}
    field = {"name": "name", "size": "size"}[column]
    return {key: getattr(fact, field) for key, fact in facts.items()}


def column_order(entries: list[Entry], facts: dict[str, Facts], column: str) -> list[str]:
    """Every key in the order of `column`."""
    if column == "period":
        return [e.job.key for e in entries]  # the plan's own order
    values = column_values(entries, facts, column)
    return sorted(values, key=values.__getitem__)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Discovered:
    """What the discovery thread hands over."""

    prepared: Prepared
    entries: list[Entry]


class PartitionsScreen(TableScreen):
    TITLE = "Partitions"
    BINDINGS = keys.ahead([
        keys.TABLE[0],  # mark
        Binding("r", "archive", "Archive"),
        Binding("d", "dry_run", "Dry run"),
        Binding("v", "verify", "Verify"),
        Binding("P", "purge", "Purge from the database", key_display="P", show=False),
        Binding("enter", "enter", "Open", key_display="⏎"),
        *keys.TABLE[1:],
        Binding("x", "count", "Count rows exactly", show=False),
        Binding("f5", "reload", "Discover again", show=False),
    ])
    TEXT_ACTIONS = keys.text_actions(BINDINGS)

    def __init__(self, settings: Settings, loader: Loader) -> None:
        super().__init__()
        self.settings = settings
        self.loader = loader
        self.prepared: Prepared | None = None
        self.entries: list[Entry] = []
        self.by_key: dict[str, Entry] = {}
        self.facts: dict[str, Facts] = {}
        self.orders: dict[str, list[str]] = {}
        self.shown: list[Entry] = []
        self.selected: set[str] = set()
        self.marked = Marked()
        self.sort_column = "period"
        self.sort_reverse = False
        self.range_start: int | None = None
        self.outcomes: dict[str, JobResult] = {}  # verified from this screen

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="notice")
        yield RowTable(COLUMNS, self.cells, id="partitions")
        yield VerifyPanel(self.settings)
        yield Static("", id="detail")
        yield FilterBox(self.filter_kept, self.close_filter,
                        "filter: part of a name, key or period; Enter keeps, Escape clears")
        yield SelectionTotals(id="totals")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(FilterBox).display = False
        self.table.set_sort(self.sort_column, self.sort_reverse)
        self.load()

    # -- loading -----------------------------------------------------------------------------------------
    def load(self) -> None:
        self.set_notice(f"Discovering {escape(self.settings.table or '')} at "
                        f"{escape(self.app.sub_title)} …", "loading")
        self.table.loading = True
        self.discover()

    @work(thread=True, exclusive=True, group="discover", exit_on_error=False)
    def discover(self) -> Discovered:
        prepared = self.loader(replace(self.settings, dry_run=False))
        entries = build_entries(prepared.plan.jobs, prepared.cache)
        return Discovered(prepared, entries)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "discover":
            if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, Discovered):
                self.loaded(event.worker.result)
            elif event.state is WorkerState.ERROR:
                self.table.loading = False
                error = describe_error(event.worker.error or RuntimeError("unknown"))
                self.set_notice(f"[b]Cannot list partitions:[/b] {escape(error)}\n"
                                "Escape to fix the connection settings, F5 to try again.", "error")
        elif event.worker.group == "count" and event.state is WorkerState.ERROR:
            self.notify(describe_error(event.worker.error or RuntimeError("unknown")),
                        title="Counting rows failed", severity="error")

    def loaded(self, found: Discovered) -> None:
        if self.prepared is not None and self.prepared.cache is not None:
            self.prepared.cache.close()
        prepared, entries = found.prepared, found.entries
        self.prepared, self.entries, self.facts, self.orders = prepared, entries, {}, {}
        self.by_key = {e.job.key: e for e in entries}
        marked, self.selected, self.marked = self.selected, set(), Marked()
        self.mark(marked & self.by_key.keys())
        self.table.loading = False
        discovery = prepared.discovery
        text = (f"{len(entries):,} objects of [b]{escape(discovery.schema)}.{escape(discovery.table)}[/b] "
                f"({discovery.layout}, {prepared.settings.output_duration}) → {escape(prepared.storage.url)}")
        if prepared.notes:
            more = f" (+{len(prepared.notes) - 1} more, see the run's log)" if len(prepared.notes) > 1 else ""
            text += f"\n[yellow]{escape(for_screen(prepared.notes[0]))}{more}[/yellow]"
        self.set_notice(text, "")
        self.rebuild()
        self.table.focus()
        self.call_after_refresh(self.prepare_orders, entries)  # once the table is on screen
        # Tens of thousands of long-lived objects (entries, jobs, periods, rows) made every full collection
        # walk them all: 150 ms pauses on random keys. Frozen, the collector leaves them be; objects still
        # die when unreferenced, and the next load puts the old ones back in its reach.
        gc.unfreeze()
        gc.freeze()

    @work(thread=True, exclusive=True, group="orders", exit_on_error=False, description=NO_REPR)
    def prepare_orders(self, entries: list[Entry]) -> None:
        """Every row's facts and each column's order, worked out behind the shown table: a filter or a sort
        is then a lookup. An order something invalidated meanwhile (a count changes rows, a run statuses) is
        not kept."""
        facts = all_facts(entries)
        self.app.call_from_thread(self.take_facts, entries, facts)
        for column in SORTABLE:
            if entries is not self.entries:
                return  # discovered again meanwhile
            order = column_order(entries, facts, column)
            self.app.call_from_thread(self.orders.setdefault, column, order)
        self.app.call_from_thread(gc.freeze)  # these too, out of the collector's way (see `loaded`)

    def take_facts(self, entries: list[Entry], facts: dict[str, Facts]) -> None:
        if entries is self.entries:
            self.facts = facts

    def fact(self, key: str) -> Facts:
        facts = self.facts.get(key)
        if facts is None:
            facts = self.facts[key] = facts_of(self.by_key[key])
        return facts

    def every_fact(self) -> dict[str, Facts]:
        """Facts of every row (a filter or a sort before the thread has worked them out makes them here)."""
        if len(self.facts) < len(self.entries):
            self.facts = all_facts(self.entries)
        return self.facts

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
        changed = []
        for entry in self.entries:
            before = (entry.status, entry.note)
            refresh_status(entry, records.get(entry.job.key))
            if (entry.status, entry.note) != before:
                changed.append(entry.job.key)
        if changed:
            self.changed_values("status")
            self.table.refresh_rows(changed)
            self.update_totals()

    # -- the table ---------------------------------------------------------------------------------------
    def cells(self, key: str) -> tuple[Cell, ...]:
        entry, facts = self.by_key[key], self.fact(key)
        check = self.outcomes.get(key)
        status: Cell = check_status(check) if check else (entry.status, STATUS_STYLES.get(entry.status, ""))
        return ("✓" if key in self.selected else " ", facts.name, facts.period,
                rows_text(entry.rows, estimated=entry.exact_rows is None), human_bytes(facts.size), status, key)

    def ordered(self, entries: list[Entry]) -> list[str]:
        """The keys of `entries` in the order of the sort column: a lookup in the column's order (made when
        the objects were discovered, again after a count or a run changed rows or statuses)."""
        column = self.sort_column
        if column not in self.orders:  # not worked out yet, or invalidated
            facts = self.facts if column == "period" else self.every_fact()  # the period needs none
            self.orders[column] = column_order(self.entries, facts, column)
        keys = self.orders[column]
        if len(entries) != len(self.entries):
            wanted = {e.job.key for e in entries}
            keys = [key for key in keys if key in wanted]
        return keys[::-1] if self.sort_reverse else keys

    def changed_values(self, *columns: str) -> None:
        """Rows or statuses changed: their orders are made again when next needed."""
        for column in columns:
            self.orders.pop(column, None)

    def rebuild(self) -> None:
        """Filter and sort into the table; only the rows on screen are drawn."""
        needle = self.filter_text.lower()
        facts = self.every_fact() if needle else self.facts
        shown = self.entries if not needle else [
            e for e in self.entries if needle in facts[e.job.key].haystack or needle in e.status]
        self.show_keys(self.ordered(shown), changed=True)

    def resort(self) -> None:
        """Reorder the rows, keeping the cursor on the same object."""
        self.table.set_sort(self.sort_column, self.sort_reverse)
        self.show_keys(self.ordered(self.shown), changed=False)

    def show_keys(self, keys: list[str], changed: bool) -> None:
        by_key = self.by_key
        self.shown = [by_key[key] for key in keys]
        self.table.show(keys, changed=changed)
        self.update_totals()

    def current_entry(self) -> Entry | None:
        key = self.table.cursor_key
        return self.by_key.get(key) if key else None

    def redraw(self, entries: list[Entry]) -> None:
        self.table.refresh_rows([e.job.key for e in entries])

    def update_totals(self) -> None:
        order = f"{self.sort_column} {'↓' if self.sort_reverse else '↑'}"
        self.query_one(SelectionTotals).show(self.marked, len(self.entries), len(self.shown), self.filter_text,
                                             order)

    def figures(self, key: str) -> tuple[int, int, bool]:
        entry = self.by_key[key]
        return entry.rows, self.fact(key).size, entry.exact_rows is None

    def mark(self, keys: set[str]) -> None:
        """Mark these (some may be marked already), redraw them, sum them in."""
        new = keys - self.selected
        self.selected |= new
        for key in new:
            self.marked.add(*self.figures(key))
        self.table.refresh_rows(new)
        self.update_totals()

    def unmark(self, keys: set[str]) -> None:
        gone = keys & self.selected
        self.selected -= gone
        for key in gone:
            self.marked.remove(*self.figures(key))
        self.table.refresh_rows(gone)
        self.update_totals()

    def show_detail(self) -> None:
        """Under the table: the highlighted object's key and sources, and what is wrong with it if anything."""
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

    @on(RowTable.Highlighted)
    def highlighted(self) -> None:
        self.show_detail()

    @on(RowTable.Opened)
    def opened(self) -> None:
        self.action_open()

    @on(RowTable.HeaderClicked)
    def header_clicked(self, event: RowTable.HeaderClicked) -> None:
        if event.column in SORTABLE:
            self.sort_reverse = not self.sort_reverse if event.column == self.sort_column else False
            self.sort_column = event.column
            self.resort()

    def action_enter(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        entry = self.current_entry()
        if entry is not None:
            self.app.push_screen(DetailScreen(entry.job.key.rsplit("/", 1)[-1], self.entry_facts(entry)))

    def entry_facts(self, entry: Entry) -> list[Fact]:
        job = entry.job
        rows = (f"{entry.exact_rows:,} (counted)" if entry.exact_rows is not None
                else f"about {job.estimated_rows:,} (the planner's estimate; x counts exactly)")
        facts: list[Fact] = [
            ("Object", job.key),
            ("Period", f"{period_text(job.period)} ({job.duration.value})"),
            ("Read from", "\n".join(p.source.qualified + (f" rows in {p.window}" if p.window else "")
                                    for p in job.slices)),
            ("Rows", rows),
            ("On disk", human_bytes(entry.size_bytes)),
            ("Status", Text(entry.status, style=STATUS_STYLES.get(entry.status, ""))),
        ]
        if entry.archived_rows is not None:
            facts.append(("Archived rows", f"{entry.archived_rows:,}"))
        if entry.note:
            facts.append(("Note", Text(entry.note, style="red" if entry.status == FAILED else "yellow")))
        check = self.outcomes.get(job.key)
        if check is not None:
            text, style = check_status(check)
            facts.append(("Verified", Text("; ".join(check.problems) or text, style=style)))
        return facts

    # -- marking -----------------------------------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        entry = self.current_entry()
        if entry is None:
            return
        key = entry.job.key
        if key in self.selected:
            self.unmark({key})
        else:
            self.mark({key})
        self.range_start = self.table.cursor_row
        self.table.action_cursor(1)

    def action_extend(self, step: int) -> None:
        table = self.table
        if not self.shown:
            return
        if self.range_start is None:
            self.range_start = table.cursor_row
        target = min(max(table.cursor_row + step, 0), len(self.shown) - 1)
        table.cursor_row = target
        low, high = sorted((self.range_start, target))
        self.mark({self.shown[r].job.key for r in range(low, high + 1)})

    def action_mark_all(self) -> None:
        """All that is shown: with a filter, that marks by filter."""
        self.mark({e.job.key for e in self.shown})

    def action_mark_none(self) -> None:
        self.range_start = None
        self.unmark(set(self.selected))

    # -- filtering and sorting ---------------------------------------------------------------------------
    def action_sort(self) -> None:
        self.sort_column = SORTABLE[(SORTABLE.index(self.sort_column) + 1) % len(SORTABLE)]
        self.sort_reverse = False
        self.resort()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.resort()

    def action_back(self) -> None:
        if self.query_one(FilterBox).display:
            self.close_filter()
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
        """The marked objects, or else the one under the cursor: every key that acts on rows does this."""
        marked = [e for e in self.entries if e.job.key in self.selected]
        current = self.current_entry()
        return marked or ([current] if current is not None else [])

    def action_count(self) -> None:
        if self.prepared is None:
            return
        targets = self.chosen()
        if not targets:
            return
        self.notify(f"counting rows of {len(targets)} object(s) …", timeout=2)
        self.count([e.job for e in targets])

    @work(thread=True, group="count", exit_on_error=False, description="counting rows")
    def count(self, jobs: list[Job]) -> None:
        assert self.prepared is not None
        count_rows(self.prepared.options.conninfo, jobs, self.prepared.cache,
                   counted=lambda job, rows: self.app.call_from_thread(self.counted, job, rows))

    def counted(self, job: Job, rows: int) -> None:
        entry = self.by_key.get(job.key)
        if entry is None:
            return
        marked = job.key in self.selected
        if marked:
            self.marked.remove(*self.figures(job.key))
        entry.exact_rows = rows
        if marked:
            self.marked.add(*self.figures(job.key))
        record = self.prepared.cache.record_of(job.key, job.schema, job.table) \
            if self.prepared and self.prepared.cache else None
        refresh_status(entry, record)
        self.changed_values("rows", "status")
        self.redraw([entry])
        self.update_totals()

    def action_archive(self) -> None:
        self.start(dry_run=False)

    def action_dry_run(self) -> None:
        self.start(dry_run=True)

    def start(self, dry_run: bool) -> None:
        if self.prepared is None:
            self.notify("nothing discovered yet", severity="warning")
            return
        chosen = [e for e in self.entries if e.job.key in self.selected]
        if not chosen:
            self.notify("mark objects first: Space marks one, a marks every one shown", severity="warning")
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
            body += "\n[yellow]forced: objects already archived are written again[/yellow]"

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
        archived = [e for e in self.chosen() if e.status in (ARCHIVED, CHANGED)]
        if not archived:
            self.notify("only archived objects can be verified: mark some with Space", severity="warning")
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
