"""The end of a run: the headless summary's figures, failures standing out."""

from __future__ import annotations

from textual.widgets import Static

from pgarchiver_tui.core.events import RunReport
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

    def show(self, report: RunReport, failure_hint: str = "") -> None:
        """Any run's end, the figures of the headless summary: counts, rows (and bytes moved), failures."""
        head = "[b]Interrupted[/b]" if report.cancelled else "[b]Finished[/b]"
        counts = report.counts_text().replace(f"{len(report.failures)} failed", f"[b]{len(report.failures)} failed[/b]",
                                              1)
        figures = f"{report.rows:,} rows"
        if report.command == "archive":
            figures += (f", {human_bytes(report.bytes_in)} → {human_bytes(report.bytes_out)} in {report.seconds:.1f}s "
                        f"({rate_text(report.bytes_in, max(report.seconds, 1e-9))})")
        else:
            figures += f" in {report.seconds:.1f}s"
        lines = [f"{head}: {counts}", figures]
        failures = report.failures
        for failure in failures[:4]:
            lines.append(f"[red]✗ {literal(failure.job.label)} {literal(f'[{failure.category}]')}: "
                         f"{literal(failure.reason)}[/red]")
        if len(failures) > 4:
            lines.append(f"[red]… and {len(failures) - 4} more failures (see results)[/red]")
        if failures and failure_hint:
            lines.append(failure_hint)
        self.show_lines(lines, bool(failures))

    def show_lines(self, lines: list[str], failed: bool) -> None:
        """Any kind of run's end, in markup lines; framed in red when something failed."""
        self.set_class(failed, "-failed")
        self.add_class("-shown")
        self.update(for_screen("\n".join(lines)))

    def hide(self) -> None:
        self.remove_class("-shown")
