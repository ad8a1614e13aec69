"""The end of a run: the headless summary's figures, failures standing out."""

from __future__ import annotations

from textual.widgets import Static

from pgarchiver_tui.core.events import RunFinished
from pgarchiver_tui.render.report import summary_fields
from pgarchiver_tui.tui.formatting import human_bytes, literal, rate_text
from pgarchiver_tui.tui.wording import for_screen


class RunSummary(Static):
    DEFAULT_CSS = """
    RunSummary {
        height: auto; border: round $primary; padding: 0 1; display: none;
        text-wrap: nowrap; text-overflow: ellipsis;  /* one line per fact; the results and log have the rest */
    }
    RunSummary.-failed { border: round $error; }
    RunSummary.-shown { display: block; }
    """

    def show(self, finished: RunFinished) -> None:
        figures = summary_fields(finished)
        head = "[b]Interrupted[/b]" if finished.cancelled else "[b]Finished[/b]"
        counts = (f"{figures['archived']} archived, {figures['skipped']} skipped, "
                  f"[b]{figures['failed']} failed[/b], {figures['cancelled']} cancelled")
        if figures["dry_run"]:
            counts += f", {figures['dry_run']} dry run"
        lines = [f"{head}: {counts}",
                 f"{figures['rows']:,} rows, {human_bytes(figures['bytes_in'])} → "
                 f"{human_bytes(figures['bytes_out'])} in {finished.seconds:.1f}s "
                 f"({rate_text(figures['bytes_in'], max(finished.seconds, 1e-9))})"]
        for failure in finished.failures[:4]:
            lines.append(f"[red]✗ {literal(failure.job.label)} {literal(f'[{failure.category}]')}: "
                         f"{literal(failure.reason)}[/red]")
        if len(finished.failures) > 4:
            lines.append(f"[red]… and {len(finished.failures) - 4} more failures (see results)[/red]")
        if finished.failures:
            lines.append("press [b]r[/b] to retry the failures")
        self.show_lines(lines, bool(finished.failures))

    def show_lines(self, lines: list[str], failed: bool) -> None:
        """Any kind of run's end, in markup lines; framed in red when something failed."""
        self.set_class(failed, "-failed")
        self.add_class("-shown")
        self.update(for_screen("\n".join(lines)))

    def hide(self) -> None:
        self.remove_class("-shown")
