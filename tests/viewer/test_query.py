"""Filtering, sorting and totals of the viewer's records (pure functions)."""

from __future__ import annotations

import pytest

from pgarchiver_tui.viewer.query import BadQuery, RecordQuery, table_totals
from pgarchiver_tui.viewer.state import mask_url, record_view, redact


def record(key: str, table: str = "events", status: str = "archived", bytes_out: int = 10, verify: str = "",
           error: str = "") -> dict:
    return record_view("d1", {"key": key, "schema": "public", "table_name": table, "period_start": key,
                              "rows": 5, "bytes_in": 50, "bytes_out": bytes_out, "status": status,
                              "verify_outcome": verify, "error": error})


def test_missing_values_sort_last_in_both_orders() -> None:
    records = [record("a", bytes_out=10), record("b", bytes_out=0), record("c", bytes_out=25)]  # b: no ratio
    ascending = RecordQuery.parse({"sort": "ratio", "order": "asc"}).run(records)["records"]
    descending = RecordQuery.parse({"sort": "ratio", "order": "desc"}).run(records)["records"]
    assert [r["key"] for r in ascending] == ["c", "a", "b"]
    assert [r["key"] for r in descending] == ["a", "c", "b"]


def test_states_and_totals() -> None:
    records = [record("a"), record("b", verify="ok"), record("c", verify="problem: rows differ"),
               record("d", status="failed", error="boom"), record("e", table="orders")]
    assert [r["state"] for r in records] == ["archived", "verified", "problem", "failed", "archived"]
    events, orders = table_totals(records)
    assert (events["table"], events["objects"], events["failed"], events["rows"]) == ("public.events", 4, 1, 15)
    assert (orders["table"], orders["objects"], orders["ratio"]) == ("public.orders", 1, 5.0)
    with pytest.raises(BadQuery, match="unknown status"):
        RecordQuery.parse({"status": "gone"})


def test_secrets_are_masked() -> None:
    assert mask_url("s3://b/?endpoint=https://u:pw@h&secret_key=x") == "s3://b/?endpoint=https://u:********@h&secret_key=********"
    assert "pw" not in redact("could not connect: postgresql://u:pw@db/app password=pw")
    assert record("k", status="failed", error="token=abc123 expired")["error"] == "token=******** expired"
