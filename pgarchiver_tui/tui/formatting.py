"""Numbers as the screens show them: short, aligned, the same on every screen."""

from __future__ import annotations

from datetime import datetime

from pgarchiver_tui.core.periods import Period
from pgarchiver_tui.core.units import human_bytes

__all__ = ["literal", "human_bytes", "rows_text", "ratio_text", "rate_text", "age_text", "period_text", "parse_stamp",
           "short_count"]


def rows_text(rows: int | None, estimated: bool = False) -> str:
    if rows is None:
        return "—"
    return f"~{rows:,}" if estimated else f"{rows:,}"


def ratio_text(bytes_in: int, bytes_out: int) -> str:
    return f"{bytes_in / bytes_out:.1f}×" if bytes_out else "—"


def rate_text(size: float, seconds: float) -> str:
    return f"{size / 1e6 / seconds:.1f} MB/s" if seconds > 0 else "— MB/s"


def parse_stamp(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


def age_text(stamp: str, now: datetime) -> str:
    moment = parse_stamp(stamp)
    if moment is None:
        return "—"
    seconds = max(0.0, (now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def period_text(period: Period) -> str:
    return str(period)


def literal(text: str) -> str:
    """`text` shown as it is inside a widget's markup. Textual's markup reads `[` more eagerly than rich's
    escape() guards against: a period like `[2024-01-01, 2024-01-02) … [/red]` would swallow the tag."""
    return text.replace("[", "\\[")


def short_count(n: int) -> str:
    """A count in at most six characters: 9,999 · 123.4k · 1.23M."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"
