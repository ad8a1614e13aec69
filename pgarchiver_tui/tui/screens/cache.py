"""Browsing the cache: every record of the destination, refreshed while other runs write it.

Reading the records, finding what changed since the last look and ordering them happen in a worker thread;
the UI thread only swaps the result in and redraws the rows that changed. Records stay plain tuples until a
row is drawn or opened: a cache of 100,000 records opens in a moment, and a headless run writing into it
never freezes the screen (a refresh that finds nothing new costs one tiny query).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from operator import itemgetter
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Static
from textual.worker import Worker, WorkerState

from pgarchiver_tui.cache import Cache, Record, open_cache
from pgarchiver_tui.commands.holdings import readable
from pgarchiver_tui.commands.restore import RestoreChoices, one_table
from pgarchiver_tui.commands.restore import prepare_restore as prepare_restore_run
from pgarchiver_tui.commands.verify import group_by_table, table_settings
from pgarchiver_tui.core.errors import ArchiverError, ConfigError
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.render.live_state import LiveState
from pgarchiver_tui.storage.destination import names_destination, open_destination
from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.event_buffer import EventBuffer
from pgarchiver_tui.tui.formatting import age_text, human_bytes, ratio_text, rows_text
from pgarchiver_tui.tui.screens.record_detail import RecordDetailScreen
from pgarchiver_tui.tui.screens.restore import RestoreScreen
from pgarchiver_tui.tui.screens.restore_dialog import RestoreChoice, RestoreDialog
from pgarchiver_tui.tui.screens.table_screen import TableScreen
from pgarchiver_tui.tui.widgets.filter_box import FilterBox
from pgarchiver_tui.tui.widgets.key_footer import KeyFooter
from pgarchiver_tui.tui.widgets.row_table import Cell, Column, RowTable
from pgarchiver_tui.tui.widgets.verify_panel import VerifyPanel, notify_verified
from pgarchiver_tui.tui.wording import for_screen

STATUS_FILTERS = ("all", "archived", "failed")
STATUS_STYLES = {"archived": "green", "failed": "bold red"}
Row = tuple[Any, ...]  # a record's fields in the order of Record's
F = {f.name: n for n, f in enumerate(fields(Record))}


def _ratio(row: Row) -> float:
    return row[F["bytes_in"]] / row[F["bytes_out"]] if row[F["bytes_out"]] else 0.0


def _partitions(r: Record) -> str:
    """The source tables, without their schema: the key is in the detail view."""
    return ", ".join(name.split(".", 1)[-1] for name in r.sources.split(",") if name) or r.key.rsplit("/", 1)[-1]


def _verified(r: Record, now: datetime) -> Cell:
    """The last verify's outcome and how long ago it ran."""
    if not r.verify_outcome:
        return "—"
    ok = r.verify_outcome == "ok"
    return f"{'ok' if ok else 'problem'} {age_text(r.verified_at, now)}", "green" if ok else "bold red"


def _stamp(row: Row) -> str:
    """When the record was last written: ISO stamps sort as text (the age column sorts them descending)."""
    return row[F["finished_at"]] or row[F["error_at"]]


def _field(name: str) -> Callable[[Row], Any]:
    return itemgetter(F[name])  # in C: sorting 100,000 records by a field costs no Python call per record


@dataclass(frozen=True)
class RecordColumn:
    column: Column
    sort_key: Callable[[Row], Any]
    cell: Callable[[Record, datetime], Cell]


COLUMNS = (
    RecordColumn(Column("partition", "partition", 18, min_width=16, priority=1), _field("sources"),
                 lambda r, now: _partitions(r)),
    RecordColumn(Column("rows", "rows", 9, min_width=7, priority=4, align="right"), _field("rows"),
                 lambda r, now: rows_text(r.rows)),
    RecordColumn(Column("raw", "read", 8, priority=7, align="right"), _field("bytes_in"),
                 lambda r, now: human_bytes(r.bytes_in)),
    RecordColumn(Column("stored", "stored", 9, min_width=8, priority=5, align="right"), _field("bytes_out"),
                 lambda r, now: human_bytes(r.bytes_out)),
    RecordColumn(Column("ratio", "ratio", 5, priority=8, align="right"), _ratio,
                 lambda r, now: ratio_text(r.bytes_in, r.bytes_out)),
    RecordColumn(Column("status", "status", 8, priority=2), _field("status"),
                 lambda r, now: (r.status, STATUS_STYLES.get(r.status, ""))),
    RecordColumn(Column("age", "age", 4, priority=6, align="right"), _stamp,
                 lambda r, now: age_text(r.finished_at or r.error_at, now)),
    RecordColumn(Column("verified", "verified", 11, min_width=10, priority=3), _field("verify_outcome"),
                 _verified),
    RecordColumn(Column("took", "took", 6, priority=9, align="right"), _field("seconds"),
                 lambda r, now: f"{r.seconds:.1f}s"),
    RecordColumn(Column("etag", "MD5/ETag", 12, priority=11), _field("etag"), lambda r, now: r.etag),
    RecordColumn(Column("sha256", "SHA-256", 12, priority=12), _field("sha256"), lambda r, now: r.sha256),
    RecordColumn(Column("error", "last error", 40, min_width=20, priority=10, flex=True), _field("error"),
                 lambda r, now: (r.error, "red") if r.error else ""),
)
MARK = Column("mark", "✓", 1)
SORTABLE = [c.column.key for c in COLUMNS]
SORT_KEYS = {c.column.key: c.sort_key for c in COLUMNS}
DESCENDING = {"age"}  # sorted by a stamp: the youngest (the latest stamp) first


@dataclass(frozen=True)
class View:
    """What to show of the records: a status, a filter, an order."""

    status: str = "all"
    needle: str = ""
    sort: str = "partition"
    reverse: bool = False


def haystack(row: Row) -> str:
    return f"{row[F['key']]} {row[F['sources']]} {row[F['status']]} {row[F['error']]}".lower()


def order(rows: dict[str, Row], view: View, haystacks: dict[str, str] | None = None) -> list[str]:
    """The keys `view` shows, in its order."""
    status, needle = F["status"], view.needle
    if needle and haystacks is None:
        haystacks = {key: haystack(row) for key, row in rows.items()}
    if view.status == "all" and not needle:
        chosen = list(rows.values())
    else:
        chosen = [row for key, row in rows.items()
                  if (view.status == "all" or row[status] == view.status)
                  and (not needle or needle in haystacks[key])]  # type: ignore[index]
    chosen.sort(key=SORT_KEYS[view.sort], reverse=view.reverse != (view.sort in DESCENDING))
    return [row[0] for row in chosen]


def count_failed(rows: dict[str, Row]) -> int:
    status = F["status"]
    return sum(1 for row in rows.values() if row[status] == "failed")


@dataclass
class Reading:
    """One look at the cache: every record, what changed since the last look, the order for the view asked."""

    rows: dict[str, Row]
    changed: list[str]  # records seen before whose fields changed
    members_changed: bool  # records came or went
    view: View
    order: list[str]
    failed: int = 0


def read_records(cache: Cache, previous: dict[str, Row], view: View) -> Reading | None:
    """What the cache holds now; None when nothing changed since `previous`."""
    rows = {row[0]: row for row in cache.record_rows()}
    changed = [key for key, row in rows.items() if key in previous and previous[key] != row]
    members_changed = len(rows) != len(previous) or any(key not in previous for key in rows)
    if previous and not changed and not members_changed:
        return None
    return Reading(rows, changed, members_changed, view, order(rows, view), count_failed(rows))


class CacheScreen(TableScreen):
    TITLE = "Cache"
    BINDINGS = keys.ahead([
        keys.TABLE[0],  # mark
        Binding("v", "verify", "Verify"),
        Binding("R", "restore", "Restore"),
        keys.TABLE[1],  # filter
        Binding("f", "status_filter", "Status"),
        Binding("enter", "enter", "Open", key_display="⏎"),
        *keys.TABLE[2:],
        Binding("f5", "reload", "Read the cache again", show=False),
    ])
    TEXT_ACTIONS = keys.text_actions(BINDINGS)

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.cache: Cache | None = None
        self.rows: dict[str, Row] = {}
        self.haystacks: dict[str, str] | None = None  # made on the first filter
        self.shown: list[str] = []
        self.status_filter = "all"
        self.sort_column = "partition"
        self.sort_reverse = False
        self.selected: set[str] = set()
        self.url = ""
        self.version: int | None = None  # the cache's data_version when last read
        self.loaded = False
        self.failed = 0  # records that failed, of all
        self.shown_stored = 0  # bytes stored by the records shown

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="cache-title")
        yield RowTable((MARK, *(c.column for c in COLUMNS)), self.cells, id="records")
        yield VerifyPanel(self.settings)
        yield FilterBox(self.filter_kept, self.close_filter,
                        "filter: part of a key, partition, status or error; Enter keeps, Escape clears")
        yield Static("", id="cache-totals")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(FilterBox).display = False
        self.table.set_sort(self.sort_column, self.sort_reverse)
        if not names_destination(self.settings):
            self.query_one("#cache-title", Static).update("[yellow]No destination set: fill it in on the "
                                                          "connection screen[/yellow]")
            return
        try:
            url = open_destination(self.settings, check=False).url
            self.cache = open_cache(url, self.settings.cache_dir)
        except (ArchiverError, OSError, ValueError) as exc:
            self.query_one("#cache-title", Static).update(
                f"[red]No cache to show: {escape(for_screen(str(exc)))}[/red]")
            return
        self.url = url
        self.query_one("#cache-title", Static).update(f"Cache of [b]{escape(url)}[/b]")
        self.table.loading = True
        self.reload()
        self.set_interval(self.app.cache_refresh_seconds, self.reload)  # type: ignore[attr-defined]
        self.table.focus()

    def on_unmount(self) -> None:
        if self.cache is not None:
            self.cache.close()

    # -- reading, off the UI thread ----------------------------------------------------------------------
    def view(self) -> View:
        return View(self.status_filter, self.filter_text.lower(), self.sort_column, self.sort_reverse)

    def reload(self) -> None:
        """Read the records again when another run wrote to the cache (or when asked: F5)."""
        if self.cache is None or any(w.group == "records" and w.is_running for w in self.workers):
            return
        self.read(self.cache, self.rows, self.view(), self.version)

    @work(thread=True, exclusive=True, group="records", exit_on_error=False,
          description="reading the cache")  # given: else it is repr() of 100,000 records
    def read(self, cache: Cache, previous: dict[str, Row], view: View,
             version: int | None) -> tuple[int, Reading | None]:
        now = cache.data_version()
        if now == version:
            return now, None
        return now, read_records(cache, previous, view)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "records":
            if event.state is WorkerState.SUCCESS and event.worker.result is not None:
                version, reading = event.worker.result
                self.version = version
                if reading is not None:
                    self.apply(reading)
                elif not self.loaded:
                    self.apply(Reading({}, [], True, self.view(), []))
            elif event.state is WorkerState.ERROR:
                self.table.loading = False
                self.notify(str(event.worker.error), title="Cannot read the cache", severity="error")
        elif event.worker.group == "prepare-restore":
            self.prepare_restore_done(event)

    def apply(self, reading: Reading) -> None:
        """Swap in what the worker read; redraw only what changed."""
        self.loaded = True
        self.table.loading = False
        self.rows, self.failed = reading.rows, reading.failed
        self.haystacks = None
        if reading.members_changed:
            self.selected = {key for key in self.selected if key in self.rows}
        if reading.members_changed or reading.changed:
            self.shown = reading.order if reading.view == self.view() else order(self.rows, self.view())
            self.table.show(self.shown, changed=False)
            self.sum_shown()
        self.table.refresh_rows(reading.changed)
        self.update_totals()
        # 100,000 records held for as long as the screen is open: kept out of the collector's full passes,
        # which would otherwise walk them all now and then, in the middle of a key
        gc.unfreeze()
        gc.freeze()

    def rebuild(self) -> None:
        """The view changed (status, filter or order): order the records again, here and now."""
        if self.filter_text and self.haystacks is None:
            self.haystacks = {key: haystack(row) for key, row in self.rows.items()}
        shown_before = len(self.shown)
        self.shown = order(self.rows, self.view(), self.haystacks)
        self.table.set_sort(self.sort_column, self.sort_reverse)
        self.table.show(self.shown, changed=False)
        if len(self.shown) != shown_before or self.filter_text or self.status_filter != "all":
            self.sum_shown()  # a new order of the same records stores as much as before
        self.update_totals()

    def sum_shown(self) -> None:
        stored, rows = F["bytes_out"], self.rows
        self.shown_stored = sum(rows[key][stored] for key in self.shown)

    def update_totals(self) -> None:
        order_text = f"{self.sort_column} {'↓' if self.sort_reverse else '↑'}"
        self.query_one("#cache-totals", Static).update(
            f"{len(self.shown):,} of {len(self.rows):,} records ({self.failed:,} failed) · "
            f"{human_bytes(self.shown_stored)} stored · "
            f"status: {self.status_filter} · sorted by {order_text}"
            + (f" · filter {self.filter_text!r}" if self.filter_text else "")
            + (f" · [b]{len(self.selected):,}[/b] marked" if self.selected else ""))

    # -- the table ---------------------------------------------------------------------------------------
    def cells(self, key: str) -> tuple[Cell, ...]:
        record = Record(*self.rows[key])
        now = self.app.wall()  # type: ignore[attr-defined]
        return ("✓" if key in self.selected else " ", *(c.cell(record, now) for c in COLUMNS))

    def record(self, key: str) -> Record:
        return Record(*self.rows[key])

    def current_record(self) -> Record | None:
        key = self.table.cursor_key
        return self.record(key) if key in self.rows else None

    @on(RowTable.Opened)
    def opened(self) -> None:
        self.action_detail()

    @on(RowTable.HeaderClicked)
    def header_clicked(self, event: RowTable.HeaderClicked) -> None:
        if event.column not in SORTABLE:
            return
        self.sort_reverse = not self.sort_reverse if event.column == self.sort_column else False
        self.sort_column = event.column
        self.rebuild()

    def action_enter(self) -> None:
        self.action_detail()

    def action_detail(self) -> None:
        record = self.current_record()
        if record is not None:
            self.app.push_screen(RecordDetailScreen(record, self.app.wall()))  # type: ignore[attr-defined]

    def action_status_filter(self) -> None:
        self.status_filter = STATUS_FILTERS[(STATUS_FILTERS.index(self.status_filter) + 1) % len(STATUS_FILTERS)]
        self.rebuild()

    def action_sort(self) -> None:
        self.sort_column = SORTABLE[(SORTABLE.index(self.sort_column) + 1) % len(SORTABLE)]
        self.sort_reverse = False
        self.rebuild()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.rebuild()

    def action_reload(self) -> None:
        self.version = None
        self.reload()

    def action_back(self) -> None:
        panel = self.query_one(VerifyPanel)
        if panel.running:
            panel.cancel()
            return
        if self.query_one(FilterBox).display:
            self.close_filter()
            return
        self.app.pop_screen()

    # -- marking -----------------------------------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        key = self.table.cursor_key
        if key is None:
            return
        self.selected ^= {key}
        self.table.refresh_rows([key])
        self.table.action_cursor(1)
        self.update_totals()

    def action_extend(self, step: int) -> None:
        table = self.table
        if not self.shown:
            return
        start = table.cursor_row
        table.cursor_row = min(max(start + step, 0), len(self.shown) - 1)
        changed = {self.shown[start], self.shown[table.cursor_row]} - self.selected
        self.selected |= changed
        table.refresh_rows(changed)
        self.update_totals()

    def action_mark_all(self) -> None:
        changed = set(self.shown) - self.selected
        self.selected |= changed
        self.table.refresh_rows(changed)
        self.update_totals()

    def action_mark_none(self) -> None:
        changed, self.selected = self.selected, set()
        self.table.refresh_rows(changed)
        self.update_totals()

    # -- acting on records -------------------------------------------------------------------------------
    def chosen(self) -> list[Record]:
        """The marked records, or else the highlighted one, that can be read back."""
        current = self.current_record()
        picked = [self.record(k) for k in self.shown if k in self.selected] or ([current] if current else [])
        return readable(picked)

    def action_verify(self) -> None:
        panel = self.query_one(VerifyPanel)
        if self.cache is None or panel.running:
            return
        records = self.chosen()
        if not records:
            self.notify("nothing archived chosen: mark records with Space", severity="warning")
            return
        panel.start(group_by_table((f"{r.schema}.{r.table_name}", r.key) for r in records))

    @on(VerifyPanel.Checked)
    def verified(self) -> None:
        self.reload()  # verify recorded the outcome in the cache

    @on(VerifyPanel.Done)
    def verify_done(self, event: VerifyPanel.Done) -> None:
        self.reload()
        notify_verified(self, event)

    def action_restore(self) -> None:
        records = self.chosen()
        if not records:
            self.notify("nothing archived chosen: mark records with Space", severity="warning")
            return
        try:
            table = one_table(records)
        except ConfigError as exc:
            self.notify(str(exc), severity="warning")
            return
        rows = sum(r.rows for r in records)
        body = (f"{len(records)} object(s) of {escape(table)}, {rows:,} rows ({human_bytes(sum(r.bytes_out for r in records))}"
                f" stored)\nfrom {escape(self.url)}\n"
                f"into {escape(self.settings.database_label())}, one transaction per object;\n"
                "objects already restored there are skipped, nothing is ever dropped.")
        keys = tuple(r.key for r in records)

        def chosen(choice: RestoreChoice | None) -> None:
            if choice is not None:
                self.notify(f"finding {len(keys)} object(s) in the archive …", timeout=3)
                self.prepare_restore(table, keys, choice)

        self.app.push_screen(RestoreDialog(body, table), chosen)

    @work(thread=True, group="prepare-restore", exit_on_error=False, description="finding the objects to restore")
    def prepare_restore(self, table: str, keys: tuple[str, ...], choice: RestoreChoice) -> RestoreScreen:
        settings = replace(table_settings(self.settings, table), dry_run=choice.dry_run)
        buffer = EventBuffer()
        emit = LiveState("restore", settings.cache_dir).tee(buffer.put)  # for the web viewer
        return RestoreScreen(prepare_restore_run(settings, RestoreChoices(choice.target), emit, keys=keys), buffer)

    def prepare_restore_done(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, RestoreScreen):
            self.app.push_screen(event.worker.result)
        elif event.state is WorkerState.ERROR:
            self.notify(for_screen(str(event.worker.error)), title="Cannot restore", severity="error", timeout=10)
