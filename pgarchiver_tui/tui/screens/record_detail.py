"""One cache record in words an operator reads: labels and units, not field names and raw numbers."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from pgarchiver_tui.cache import Record
from pgarchiver_tui.tui.formatting import age_text, human_bytes, parse_stamp, ratio_text
from pgarchiver_tui.tui.screens.detail import DetailScreen, Fact


def when(stamp: str, now: datetime) -> str:
    moment = parse_stamp(stamp)
    if moment is None:
        return "—"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({age_text(stamp, now)} ago)"


def stamp_text(stamp: str) -> str:
    """`2024-01-01T00:00:00` as `2024-01-01 00:00`."""
    return stamp.replace("T", " ").removesuffix(":00") if stamp else "—"


def seconds_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def record_facts(record: Record, now: datetime) -> list[Fact]:
    status = Text(record.status, style="green" if record.status == "archived" else "bold red")
    facts: list[Fact] = [
        ("Object", record.key),
        ("Table", f"{record.schema}.{record.table_name}"),
        ("Partitions", record.sources.replace(",", ", ")),
        ("Period", f"{stamp_text(record.period_start)} to {stamp_text(record.period_end)} ({record.duration})"),
        ("Status", status),
    ]
    if record.status == "archived":
        facts += [
            ("Rows", f"{record.rows:,}"),
            ("Read", f"{human_bytes(record.bytes_in)} ({record.bytes_in:,} bytes, as formatted)"),
            ("Stored", f"{human_bytes(record.bytes_out)} ({record.bytes_out:,} bytes), "
                       f"{ratio_text(record.bytes_in, record.bytes_out)} smaller"),
            ("Format", f"{record.format} + {record.compression}"),
            ("Took", seconds_text(record.seconds)),
            ("Started", when(record.started_at, now)),
            ("Finished", when(record.finished_at, now)),
            ("MD5 / ETag", record.etag),
            ("SHA-256", record.sha256),
        ]
    if record.verify_outcome:
        ok = record.verify_outcome == "ok"
        outcome = "proven: checksums and rows match" if ok else record.verify_outcome
        facts.append(("Verified", Text(f"{outcome} — {when(record.verified_at, now)}",
                                       style="green" if ok else "bold red")))
    else:
        facts.append(("Verified", "never"))
    if record.error:
        facts.append(("Last error", Text(f"{record.error} — {when(record.error_at, now)}", style="red")))
    return facts


class RecordDetailScreen(DetailScreen):
    def __init__(self, record: Record, now: datetime) -> None:
        super().__init__(record.key.rsplit("/", 1)[-1], record_facts(record, now))
        self.record = record
