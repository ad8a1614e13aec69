"""The page in a real browser (Debian's Chromium driven by Playwright) against the real `viewer` command."""

from __future__ import annotations

import os
import re
import signal
from typing import Any

from playwright.sync_api import expect

from pgarchiver_tui.render.live_state import runs_dir
from tests.support.waiting import wait_until
from tests.viewer.support import Archive, ViewerProcess

TIMEOUT = 20_000  # ms: how long the page may take to show what the test waits for


def records(page: Any) -> Any:
    return page.locator("#records tbody tr")


def chip(page: Any, name: str) -> Any:
    """A button of the status filter."""
    return page.locator("#status").get_by_role("button", name=name, exact=True)


def test_it_shows_the_records_of_a_real_archive_run(viewer: ViewerProcess, page: Any) -> None:
    icons: list[int] = []
    page.on("response", lambda r: icons.append(r.status) if "favicon" in r.url else None)
    response = page.goto(viewer.url)
    assert response.status == 200
    expect(records(page)).to_have_count(5, timeout=TIMEOUT)
    expect(page.locator("#count")).to_have_text("5 records")
    periods = records(page).locator("td[data-label=Period]").all_text_contents()
    assert periods == [f"2024-01-0{day}" for day in range(5, 0, -1)], "newest period first"
    assert set(records(page).locator("td[data-label=Rows]").all_text_contents()) == {"300"}
    totals = page.locator("#totals tbody tr")
    expect(totals).to_have_count(1)
    expect(totals.locator("td").nth(0)).to_have_text("public.events")
    expect(totals.locator("td[data-label=Rows]")).to_have_text("1,500")
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=TIMEOUT)
    assert icons and all(status == 200 for status in icons), "the favicon is served"
    assert page.console_errors == []


def test_without_the_token_the_page_is_refused(viewer: ViewerProcess, page: Any) -> None:
    response = page.goto(viewer.base + "/")
    assert response.status == 401
    assert "needs its token" in page.content()
    response = page.goto(viewer.base + "/?token=guessed-token-123")
    assert response.status == 401


def test_filters_sorting_and_the_detail_live_in_the_url(viewer: ViewerProcess, page: Any) -> None:
    page.goto(viewer.url)
    expect(records(page)).to_have_count(5, timeout=TIMEOUT)
    chip(page, "Archived").click()
    page.fill("#q", "2024-01-03")
    expect(records(page)).to_have_count(1, timeout=TIMEOUT)
    expect(page).to_have_url(re.compile(r"q=2024-01-03"))
    assert "status=archived" in page.url and f"token={viewer.token}" in page.url
    chip(page, "Verified").click()
    expect(page.locator("#empty")).to_be_visible()
    page.go_back()  # back to the archived filter, as the URL says
    expect(records(page)).to_have_count(1, timeout=TIMEOUT)
    shared = page.url

    other = page.context.new_page()  # a link opened elsewhere shows the same
    other.goto(shared)
    expect(other.locator("#records tbody tr")).to_have_count(1, timeout=TIMEOUT)
    expect(other.locator("#q")).to_have_value("2024-01-03")
    expect(chip(other, "Archived")).to_have_attribute("aria-pressed", "true")
    other.close()

    records(page).first.click()
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(detail.locator("dd code.hash").first).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect(detail).to_contain_text("public.events_20240103")
    expect(page).to_have_url(re.compile(r"record="), timeout=TIMEOUT)
    page.reload()
    expect(page.locator("#detail")).to_be_visible(timeout=TIMEOUT)
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    expect(page).not_to_have_url(re.compile(r"record="), timeout=TIMEOUT)  # the URL follows the page

    page.fill("#q", "")
    expect(records(page)).to_have_count(5, timeout=TIMEOUT)
    page.locator("th[data-sort=period_start] button").click()
    expect(page.locator("th[data-sort=period_start]")).to_have_attribute("aria-sort", "ascending")
    expect(records(page).first.locator("td[data-label=Period]")).to_have_text("2024-01-01")
    expect(page).to_have_url(re.compile(r"order=asc"), timeout=TIMEOUT)
    assert page.console_errors == []


def test_it_updates_live_while_a_second_process_archives(viewer: ViewerProcess, second_table: Archive,
                                                         page: Any) -> None:
    page.goto(viewer.url)
    expect(records(page)).to_have_count(5, timeout=TIMEOUT)
    expect(page.locator("#runs")).to_be_hidden()
    run = second_table.spawn("orders", "2024-01-01", "2024-01-03", "--pause", "1")
    runs = runs_dir(str(second_table.cache_dir))
    try:
        wait_until(lambda: any(path.name.startswith(f"{run.pid}-") for path in runs.glob("*.json")),
                   "the second process to publish its run", timeout=60)
        os.kill(run.pid, signal.SIGSTOP)  # hold the run where it is, however fast this machine is
        card = page.locator("#runs article.run")
        expect(card).to_have_count(1, timeout=TIMEOUT)
        expect(card).to_contain_text(f"pid {run.pid}")
        expect(card.locator(".command")).to_have_text("archive")
        expect(card.locator(".overall-text")).to_contain_text("/ 3 objects")
    finally:
        os.kill(run.pid, signal.SIGCONT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    expect(records(page)).to_have_count(8, timeout=TIMEOUT)
    expect(page.locator("#totals tbody tr")).to_have_count(2)
    expect(page.locator("#totals")).to_contain_text("public.orders")
    expect(page.locator("#runs")).to_be_hidden(timeout=TIMEOUT)
    assert page.console_errors == []


def test_it_fits_a_phone(viewer: ViewerProcess, page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(viewer.url)
    expect(records(page)).to_have_count(5, timeout=TIMEOUT)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the screen"
    expect(page.locator("#records thead")).to_be_hidden()
    label = records(page).first.locator("td[data-label=Rows]")
    assert page.evaluate("(td) => getComputedStyle(td, '::before').content", label.element_handle()) == '"Rows"'
    records(page).first.click()
    expect(page.locator("#detail")).to_be_visible()
    box = page.locator("#detail").bounding_box()
    assert box is not None and box["width"] <= 390
    assert page.console_errors == []
