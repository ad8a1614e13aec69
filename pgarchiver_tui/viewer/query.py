"""Filtering, sorting, paging and totals over the records the viewer holds (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

STATES = ("archived", "verified", "problem", "failed")
SORTABLE = ("table", "period_start", "key", "rows", "bytes_in", "bytes_out", "ratio", "finished_at",
            "verified_at", "state", "seconds")
DEFAULT_LIMIT, MAX_LIMIT = 200, 5000
_TEXT_FIELDS = ("key", "table", "sources", "error", "verify_outcome", "period_start", "sha256", "etag")


class BadQuery(ValueError):
    """A query parameter the API does not understand (answered with 400 and this message)."""


@dataclass(frozen=True)
class RecordQuery:
    destination: str = ""
    table: str = ""
    states: tuple[str, ...] = ()
    text: str = ""
    sort: str = "period_start"
    descending: bool = True
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> RecordQuery:
        states = tuple(s for s in params.get("status", "").split(",") if s)
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise BadQuery(f"unknown status {', '.join(unknown)}; use {', '.join(STATES)}")
        sort = params.get("sort") or "period_start"
        if sort not in SORTABLE:
            raise BadQuery(f"cannot sort by {sort!r}; use one of {', '.join(SORTABLE)}")
        order = params.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise BadQuery("order must be asc or desc")
        try:
            limit = int(params.get("limit") or DEFAULT_LIMIT)
            offset = int(params.get("offset") or 0)
        except ValueError as exc:
            raise BadQuery("limit and offset must be whole numbers") from exc
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise BadQuery(f"limit must be 1..{MAX_LIMIT} and offset 0 or more")
        return cls(params.get("destination", ""), params.get("table", ""), states,
                   params.get("q", "").strip().lower(), sort, order == "desc", limit, offset)

    def matches(self, record: Mapping[str, Any]) -> bool:
        if self.destination and record["destination"] != self.destination:
            return False
        if self.table and record["table"] != self.table:
            return False
        if self.states and record["state"] not in self.states:
            return False
        return not self.text or any(self.text in str(record.get(f) or "").lower() for f in _TEXT_FIELDS)

    def run(self, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        chosen = [r for r in records if self.matches(r)]

        def empty(record: Mapping[str, Any]) -> bool:
            return record.get(self.sort) in (None, "")

        # missing values (no ratio, never verified) go last in both orders
        present = sorted((r for r in chosen if not empty(r)), key=lambda r: (r[self.sort], r["key"]),
                         reverse=self.descending)
        chosen = present + sorted((r for r in chosen if empty(r)), key=lambda r: r["key"])
        return {"total": len(chosen), "offset": self.offset, "limit": self.limit,
                "records": chosen[self.offset:self.offset + self.limit]}


def table_totals(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per destination and table: counts by state, rows, bytes, ratio, first and last period."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        entry = totals.setdefault((record["destination"], record["table"]), {
            "destination": record["destination"], "table": record["table"], "objects": 0,
            **{state: 0 for state in STATES}, "rows": 0, "bytes_in": 0, "bytes_out": 0,
            "first_period": record["period_start"], "last_period": record["period_start"]})
        entry["objects"] += 1
        entry[record["state"]] += 1
        if record["status"] == "archived":
            entry["rows"] += int(record.get("rows") or 0)
            entry["bytes_in"] += int(record.get("bytes_in") or 0)
            entry["bytes_out"] += int(record.get("bytes_out") or 0)
        entry["first_period"] = min(entry["first_period"], record["period_start"])
        entry["last_period"] = max(entry["last_period"], record["period_start"])
    for entry in totals.values():
        entry["ratio"] = round(entry["bytes_in"] / entry["bytes_out"], 2) if entry["bytes_out"] else None
    return sorted(totals.values(), key=lambda e: (e["table"], e["destination"]))
