"""Browsing the cache: every record of the destination, refreshed while other runs write it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
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
from pgarchiver_tui.tui.event_buffer import EventBuffer
from pgarchiver_tui.tui.formatting import age_text, human_bytes, parse_stamp, ratio_text, rows_text
from pgarchiver_tui.tui.screens.restore import RestoreScreen
from pgarchiver_tui.tui.screens.restore_dialog import RestoreChoice, RestoreDialog
from pgarchiver_tui.tui.widgets.verify_panel import VerifyPanel, notify_verified

STATUS_FILTERS = ("all", "archived", "failed")
STATUS_STYLES = {"archived": "green", "failed": "bold red"}


def _ratio(r: Record) -> float:
    return r.bytes_in / r.bytes_out if r.bytes_out else 0.0


def _partitions(r: Record) -> str:
    """The source tables, without their schema: the key is in the detail view."""
    return ", ".join(name.split(".", 1)[-1] for name in r.sources.split(",") if name) or r.key.rsplit("/", 1)[-1]


def _verified(r: Record, now: datetime) -> Text:
    """The last verify's outcome and how long ago it ran."""
    if not r.verify_outcome:
        return Text("—")
    ok = r.verify_outcome == "ok"
    return Text(f"{'ok' if ok else 'problem'} {age_text(r.verified_at, now)}", style="green" if ok else "bold red")


def _newest_first(r: Record) -> float:
    moment = parse_stamp(r.finished_at or r.error_at)
    return -moment.timestamp() if moment else float("inf")


# (key, header, width, sort key, cell)
Column = tuple[str, str, int | None, Callable[[Record], object], Callable[[Record, datetime], object]]
COLUMNS: tuple[Column, ...] = (
    ("partition", "partition", 16, lambda r: r.sources, lambda r, now: Text(_partitions(r))),
    ("rows", "rows", 8, lambda r: r.rows, lambda r, now: rows_text(r.rows)),
    ("raw", "raw", 8, lambda r: r.bytes_in, lambda r, now: human_bytes(r.bytes_in)),
    ("stored", "stored", 8, lambda r: r.bytes_out, lambda r, now: human_bytes(r.bytes_out)),
    ("ratio", "ratio", 5, _ratio, lambda r, now: ratio_text(r.bytes_in, r.bytes_out)),
    ("status", "status", 8, lambda r: r.status,
     lambda r, now: Text(r.status, style=STATUS_STYLES.get(r.status, ""))),
    ("age", "age", 4, _newest_first,
     lambda r, now: age_text(r.finished_at or r.error_at, now)),
    ("verified", "verified", 11, lambda r: r.verify_outcome, _verified),
    ("took", "took", 6, lambda r: r.seconds, lambda r, now: f"{r.seconds:.1f}s"),
    ("etag", "MD5/ETag", 12, lambda r: r.etag, lambda r, now: r.etag[:12]),
    ("sha256", "SHA-256", 12, lambda r: r.sha256, lambda r, now: r.sha256[:12]),
    ("error", "last error", None, lambda r: r.error, lambda r, now: Text(r.error)),
)
SORTABLE = [c[0] for c in COLUMNS]
MARK = "mark"


class CacheScreen(Screen[None]):
    TITLE = "Cache"
    BINDINGS = [
        Binding("enter", "detail", "Detail"),
        Binding("space", "toggle_mark", "Select", key_display="␣"),
        Binding("v", "verify", "Verify"),
        Binding("R", "restore", "Restore"),
        Binding("slash", "filter", "Filter"),
        Binding("f", "status_filter", "Status"),
        Binding("o", "sort", "Sort"),
        Binding("O", "sort_reverse", "Reverse", show=False),
        Binding("f5", "reload", "Refresh"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.cache: Cache | None = None
        self.records: list[Record] = []
        self.shown: list[Record] = []
        self.snapshot: list[tuple[object, ...]] = []
        self.status_filter = "all"
        self.filter_text = ""
        self.sort_column = "partition"
        self.sort_reverse = False
        self.selected: set[str] = set()
        self.url = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="cache-title")
        yield DataTable(id="records", cursor_type="row")
        yield VerifyPanel(self.settings)
        yield Input(placeholder="filter: part of a key, source, status or error; Escape clears", id="filter",
                    compact=True)
        yield Static("", id="cache-totals")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("✓", key=MARK, width=1)
        for key, header, width, *_ in COLUMNS:
            table.add_column(header, key=key, width=width)
        box = self.query_one("#filter", Input)
        box.display, box.cursor_blink = False, False
        if not names_destination(self.settings):
            self.query_one("#cache-title", Static).update("[yellow]No destination set: fill it in on the "
                                                          "connection screen[/yellow]")
            return
        try:
            url = open_destination(self.settings, check=False).url
            self.cache = open_cache(url, self.settings.cache_dir)
        except (ArchiverError, OSError, ValueError) as exc:
            self.query_one("#cache-title", Static).update(f"[red]No cache to show: {escape(str(exc))}[/red]")
            return
        self.url = url
        self.query_one("#cache-title", Static).update(f"Cache of [b]{escape(url)}[/b]")
        self.reload()
        self.set_interval(self.app.cache_refresh_seconds, self.reload)  # type: ignore[attr-defined]
        table.focus()

    def on_unmount(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def reload(self) -> None:
        """Read the records again; redraw only when something changed (a headless run may be writing)."""
        if self.cache is None:
            return
        records = self.cache.records()
        snapshot = [tuple(vars(r).values()) for r in records]
        if snapshot != self.snapshot:
            self.snapshot, self.records = snapshot, records
            self.rebuild()

    def rebuild(self) -> None:
        table = self.query_one(DataTable)
        current = self.current_record()
        needle = self.filter_text.lower()
        shown = [r for r in self.records
                 if (self.status_filter == "all" or r.status == self.status_filter)
                 and (not needle or needle in f"{r.key} {r.sources} {r.status} {r.error}".lower())]
        sort_key = next(c[3] for c in COLUMNS if c[0] == self.sort_column)
        self.shown = sorted(shown, key=sort_key, reverse=self.sort_reverse)  # type: ignore[arg-type, return-value]
        now = self.app.wall()  # type: ignore[attr-defined]
        table.clear()
        for record in self.shown:
            table.add_row(self.mark(record.key), *(cell(record, now) for *_, cell in COLUMNS), key=record.key)
        if current is not None:
            keys = [r.key for r in self.shown]
            if current.key in keys:
                table.move_cursor(row=keys.index(current.key))
        self.selected &= {r.key for r in self.records}
        failed = sum(1 for r in self.records if r.status == "failed")
        stored = sum(r.bytes_out for r in self.shown)
        order = f"{self.sort_column} {'↓' if self.sort_reverse else '↑'}"
        self.query_one("#cache-totals", Static).update(
            f"{len(self.shown)} of {len(self.records)} records ({failed} failed) · {human_bytes(stored)} stored · "
            f"status: {self.status_filter} · sorted by {order}"
            + (f" · filter {self.filter_text!r}" if self.filter_text else "")
            + (f" · [b]{len(self.selected)}[/b] selected" if self.selected else ""))

    def current_record(self) -> Record | None:
        row = self.query_one(DataTable).cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def mark(self, key: str) -> str:
        return "✓" if key in self.selected else " "

    @on(DataTable.RowSelected)
    def row_selected(self) -> None:
        self.action_detail()

    @on(DataTable.HeaderSelected)
    def header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column not in SORTABLE:
            return
        self.sort_reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column = column
        self.rebuild()

    def action_detail(self) -> None:
        from pgarchiver_tui.tui.screens.record_detail import RecordDetailScreen

        record = self.current_record()
        if record is not None:
            self.app.push_screen(RecordDetailScreen(record))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.rebuild()

    @on(Input.Submitted, "#filter")
    def filter_kept(self) -> None:
        self.query_one(DataTable).focus()

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
        self.snapshot = []
        self.reload()

    def action_back(self) -> None:
        panel = self.query_one(VerifyPanel)
        if panel.running:
            panel.cancel()
            return
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.query_one(DataTable).focus()
            return
        self.app.pop_screen()

    # -- acting on records -------------------------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        record = self.current_record()
        if record is None:
            return
        self.selected ^= {record.key}
        self.query_one(DataTable).update_cell(record.key, MARK, self.mark(record.key))
        self.query_one(DataTable).action_cursor_down()

    def chosen(self) -> list[Record]:
        """The marked records, or else the highlighted one, that can be read back."""
        current = self.current_record()
        return readable([r for r in self.records if r.key in self.selected] or ([current] if current else []))

    def action_verify(self) -> None:
        panel = self.query_one(VerifyPanel)
        if self.cache is None or panel.running:
            return
        records = self.chosen()
        if not records:
            self.notify("nothing archived chosen: mark records with space", severity="warning")
            return
        panel.start(group_by_table((f"{r.schema}.{r.table_name}", r.key) for r in records))

    @on(VerifyPanel.Checked)
    def verified(self) -> None:
        self.action_reload()  # verify recorded the outcome in the cache

    @on(VerifyPanel.Done)
    def verify_done(self, event: VerifyPanel.Done) -> None:
        self.action_reload()
        notify_verified(self, event)

    def action_restore(self) -> None:
        records = self.chosen()
        if not records:
            self.notify("nothing archived chosen: mark records with space", severity="warning")
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

    @work(thread=True, group="prepare-restore", exit_on_error=False)
    def prepare_restore(self, table: str, keys: tuple[str, ...], choice: RestoreChoice) -> RestoreScreen:
        settings = replace(table_settings(self.settings, table), dry_run=choice.dry_run)
        buffer = EventBuffer()
        emit = LiveState("restore", settings.cache_dir).tee(buffer.put)  # for the web viewer
        return RestoreScreen(prepare_restore_run(settings, RestoreChoices(choice.target), emit, keys=keys), buffer)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "prepare-restore":
            return
        if event.state is WorkerState.SUCCESS and isinstance(event.worker.result, RestoreScreen):
            self.app.push_screen(event.worker.result)
        elif event.state is WorkerState.ERROR:
            self.notify(str(event.worker.error), title="Cannot restore", severity="error", timeout=10)
