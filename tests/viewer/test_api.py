"""The viewer's JSON API and its guard, against the real `viewer` command on loopback over a real cache."""

from __future__ import annotations

import json
from pathlib import Path

from pgarchiver_tui.cache import Record, cache_path, open_cache
from pgarchiver_tui.core.events import RunStarted
from pgarchiver_tui.render.live_state import LiveState
from tests.viewer.support import Archive, EventStream, ViewerProcess, get

PATHS = ["/", "/static/app.js", "/static/style.css", "/favicon.ico", "/api/destinations", "/api/records",
         "/api/tables", "/api/runs"]


def test_every_request_without_the_token_gets_401(viewer: ViewerProcess) -> None:
    for path in [*PATHS, "/api/events", "/api/records/x/y", "/no/such/page"]:
        assert get(viewer.base + path).status == 401, path
        assert get(viewer.base + path, token="not-the-token-at-all").status == 401, path
        assert get(f"{viewer.base}{path}?token=wrong-token-123").status == 401, path
    refused = get(viewer.base + "/api/records")
    assert "token" in refused.json()["error"]
    for path in PATHS:
        assert get(viewer.base + path, token=viewer.token).status == 200, path
        assert get(f"{viewer.base}{path}?token={viewer.token}").status == 200, path


def test_the_page_opened_with_the_token_sets_a_cookie_for_the_rest(viewer: ViewerProcess) -> None:
    page = get(viewer.url)
    assert page.status == 200 and b"app.js" in page.body
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]
    assert get(viewer.base + "/api/records", cookie=cookie).status == 200
    assert get(viewer.base + "/api/records", cookie=cookie.split("=")[0] + "=forged-value").status == 401
    for header in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert header in page.headers
    assert page.headers["referrer-policy"] == "no-referrer"


def test_nothing_can_be_written(viewer: ViewerProcess) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/", "/api/records", "/api/records/x/y", "/api/runs"):
            assert get(viewer.base + path, token=viewer.token, method=method).status == 405, (method, path)
            assert get(viewer.base + path, method=method).status == 401, (method, path)


def test_records_and_totals_are_those_of_the_cache(viewer: ViewerProcess, archive: Archive) -> None:
    local_url = archive.local_dir.resolve().as_uri() + "/"
    cache = open_cache(local_url, str(archive.cache_dir))
    expected = {r.key: r for r in cache.records()}
    cache.close()
    assert len(expected) == 5
    answer = get(viewer.base + "/api/records", viewer.token).json()
    assert answer["total"] == 5
    for record in answer["records"]:
        cached = expected[record["key"]]
        for name in ("rows", "bytes_in", "bytes_out", "sha256", "etag", "period_start", "finished_at", "status"):
            assert record[name] == getattr(cached, name), name
        assert record["table"] == "public.events" and record["state"] == "archived"
        assert record["ratio"] == round(cached.bytes_in / cached.bytes_out, 2)
        assert record["destination"] == cache_path(local_url).stem
    destinations = get(viewer.base + "/api/destinations", viewer.token).json()["destinations"]
    assert destinations == [{"id": cache_path(local_url).stem, "destination": local_url, "records": 5}]
    [totals] = get(viewer.base + "/api/tables", viewer.token).json()["tables"]
    assert (totals["table"], totals["objects"], totals["archived"], totals["rows"]) == ("public.events", 5, 5, 1500)
    assert totals["bytes_out"] == sum(r.bytes_out for r in expected.values())
    assert (totals["first_period"][:10], totals["last_period"][:10]) == ("2024-01-01", "2024-01-05")


def test_filtering_sorting_paging_and_one_record(viewer: ViewerProcess, archive: Archive) -> None:
    stream = EventStream(viewer.base, viewer.token)
    assert stream.next()[0] == "hello"
    cache = open_cache(archive.local_dir.resolve().as_uri() + "/", str(archive.cache_dir))
    first, second = sorted(cache.records(), key=lambda r: r.key)[:2]
    cache.record_verified(first.key, "ok")
    cache.record_verified(second.key, "problem: sha256 differs")
    cache.close()
    # the viewer noticed the second write before we ask
    stream.until("records", lambda d: any(r["key"] == second.key and r["state"] == "problem" for r in d["changed"]))
    stream.close()

    def records(query: str) -> dict:
        answer = get(f"{viewer.base}/api/records?{query}", viewer.token)
        assert answer.status == 200, answer.body
        return answer.json()

    assert [r["key"] for r in records("status=verified")["records"]] == [first.key]
    assert [r["key"] for r in records("status=problem")["records"]] == [second.key]
    assert records("status=archived")["total"] == 3
    assert records("status=verified,problem")["total"] == 2
    assert records("q=2024-01-03")["total"] == 1
    assert records("q=SHA256+DIFFERS")["total"] == 1, "the text search is case-blind and reads the outcome"
    assert records("table=public.events")["total"] == 5 and records("table=public.orders")["total"] == 0
    by_rows = records("sort=period_start&order=asc")["records"]
    assert [r["period_start"][:10] for r in by_rows] == [f"2024-01-0{d}" for d in range(1, 6)]
    page = records("sort=period_start&order=asc&limit=2&offset=2")
    assert (page["total"], [r["period_start"][:10] for r in page["records"]]) == (5, ["2024-01-03", "2024-01-04"])
    for bad in ("status=lost", "sort=password", "order=up", "limit=0", "limit=x"):
        answer = get(f"{viewer.base}/api/records?{bad}", viewer.token)
        assert answer.status == 400 and answer.json()["error"], bad

    one = get(f"{viewer.base}/api/records/{by_rows[0]['destination']}/{by_rows[0]['key']}", viewer.token).json()
    assert one["key"] == by_rows[0]["key"] and one["sha256"] == by_rows[0]["sha256"]
    assert get(f"{viewer.base}/api/records/{by_rows[0]['destination']}/no/such.key", viewer.token).status == 404


def test_no_secret_reaches_any_response(archive: Archive, tmp_path: Path) -> None:
    secret_url = "s3://bucket/?endpoint=https://admin:hunter2-pw@s3.internal:9000&access_key=AKIAABCDEFGHIJKLMNOP"
    cache = open_cache(secret_url, str(archive.cache_dir))
    record = Record("k/one.jsonl.zst", "public", "events", "2024-02-01T00:00:00", "2024-02-02T00:00:00", "daily",
                    "failed")
    cache.record_failure(record, "connection to postgresql://app:hunter2-pw@db/app failed: password=hunter2-pw")
    cache.close()
    live = LiveState("archive", str(archive.cache_dir))
    live(RunStarted(1, 1, 0, "s3://bucket/?endpoint=https://admin:hunter2-pw@s3.internal", False))
    live.write()
    viewer = ViewerProcess(archive.cache_dir)
    try:
        bodies = [get(viewer.base + path, viewer.token).body for path in PATHS]
        bodies.append(get(f"{viewer.base}/api/records/{cache_path(secret_url).stem}/k/one.jsonl.zst",
                          viewer.token).body)
        stream = EventStream(viewer.base, viewer.token)
        bodies.append(json.dumps(stream.next()).encode())
        stream.close()
    finally:
        viewer.stop()
        live.close()
    runs = json.loads(bodies[PATHS.index("/api/runs")])["runs"]
    assert runs and "s3.internal" in runs[0]["destination"], "the run is shown, masked"
    records = json.loads(bodies[PATHS.index("/api/records")])["records"]
    failed = next(r for r in records if r["key"] == "k/one.jsonl.zst")
    assert failed["state"] == "failed" and "db/app failed" in failed["error"]
    for body in bodies:
        assert b"hunter2" not in body and b"AKIAABCDEFGHIJKLMNOP" not in body and viewer.token.encode() not in body


def test_changes_by_other_processes_are_pushed(viewer: ViewerProcess, archive: Archive) -> None:
    stream = EventStream(viewer.base, viewer.token)
    try:
        assert stream.next()[0] == "hello"
        cache = open_cache(archive.local_dir.resolve().as_uri() + "/", str(archive.cache_dir))
        victim = cache.records()[0].key
        cache.forget(victim)  # what a purge does to the cache
        removed = stream.until("records", lambda d: victim in d["removed"])
        assert removed["changed"] == []
        cache.record_verified(cache.records()[0].key, "ok")
        changed = stream.until("records", lambda d: bool(d["changed"]))
        assert changed["changed"][0]["state"] == "verified"
        live = LiveState("verify", str(archive.cache_dir))
        live(RunStarted(4, 1, 1200, archive.local_dir.resolve().as_uri() + "/", False))
        started = stream.until("runs", lambda d: bool(d["runs"]))
        assert started["runs"][0]["command"] == "verify" and started["runs"][0]["jobs"] == 4
        live.close()
        assert stream.until("runs")["runs"] == []
        cache.close()
    finally:
        stream.close()
