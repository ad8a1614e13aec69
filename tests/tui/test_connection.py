"""The connection screen: inline validation, Test against real services, profiles, moving on."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.widgets import Input, Static

from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui.screens.connection import ConnectionScreen
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen
from pgarchiver_tui.tui.widgets.form_field import FormField
from tests.tui.support import make_app, wait_until


def answer(app, which: str) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(f"#test-{which}", Static).render())


async def test_fields_are_checked_once_typing_pauses(tmp_path: Path) -> None:
    app = make_app(Settings(local_dir=str(tmp_path)), start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.click("#tab-bar Tab#tab-job")
        field = screen.query_one("#field-start_date", FormField)
        field.control.focus()
        await pilot.press(*"2024-13-01")
        await wait_until(pilot, lambda: field.has_class("-invalid"))
        assert "not a date" in str(field.query_one(".field-error", Static).render())
        await pilot.press(*["backspace"] * 5)
        await pilot.press(*"01-01")
        await wait_until(pilot, lambda: not field.has_class("-invalid"))
        template = screen.query_one("#field-path_template", FormField)
        template.control.value = "{nope}/x"
        await wait_until(pilot, lambda: "unknown placeholder" in str(template.query_one(".field-error", Static).render()))


async def test_problems_name_fields_not_command_line_flags(tmp_path: Path) -> None:
    app = make_app(Settings(local_dir=str(tmp_path)), start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        for name, value in (("table", "events"), ("start_date", "2024-02-01"), ("end_date", "2024-01-01")):
            screen.query_one(f"#input-{name}", Input).value = value
        await pilot.press("ctrl+n")
        messages = [str(n.message) for n in app._notifications]
        assert any("End date 2024-01-01 is before Start date 2024-02-01" in m for m in messages), messages
        dsn = screen.query_one("#field-dsn", FormField)
        dsn.control.value = "not a dsn"
        await wait_until(pilot, lambda: dsn.has_class("-invalid"))
        problem = str(dsn.query_one(".field-error", Static).render())
        assert problem.startswith("DSN is not a valid connection string") and "--" not in problem


async def test_tab_goes_field_by_field_across_the_tabs_and_escape_reaches_them(tmp_path: Path) -> None:
    app = make_app(Settings(local_dir=str(tmp_path)), start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConnectionScreen)
        assert app.focused is screen.query_one("#input-dsn")  # type straight away
        await pilot.press(*["tab"] * 7)  # the database tab's seven fields
        assert screen.shown_tab == "destination" and app.focused is screen.query_one("#input-dest")  # its first
        await pilot.press("shift+tab")
        assert screen.shown_tab == "database" and app.focused is screen.query_one("#input-db_sslmode")
        await pilot.press("escape")  # out of the text: the tab bar
        await pilot.press("3")  # a tab by its number
        assert screen.shown_tab == "job" and app.focused is screen.query_one("#input-table")
        await pilot.press(*"q1")  # in a field, q and digits are text
        assert screen.query_one("#input-table", Input).value == "q1" and app.return_code is None
        await pilot.press("ctrl+pageup")
        assert screen.shown_tab == "destination" and app.focused is screen.query_one("#input-dest")
        await pilot.click("#tab-bar Tab#tab-database")
        assert screen.shown_tab == "database"
        await pilot.press("escape")
        await pilot.press("q")  # out of the text, q quits
        await wait_until(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0


async def test_keys_typed_across_the_tabs_faster_than_the_app_draws_land_where_they_were_aimed(
        tmp_path: Path) -> None:
    """Every key posted at once, none awaited: the tab switches and focus moves happen in key order."""
    from textual import events

    app = make_app(Settings(local_dir=str(tmp_path)), start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        keys = ["ctrl+pagedown", "ctrl+pagedown", "tab", "tab", *"2024-01-15", "tab", *"2024-01-31",
                "ctrl+pageup", *"/srv/x"]
        for key in keys:
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await wait_until(pilot, lambda: screen.query_one("#input-dest", Input).value.endswith("/srv/x"))
        assert screen.query_one("#input-start_date", Input).value == "2024-01-15"
        assert screen.query_one("#input-end_date", Input).value == "2024-01-31"
        assert screen.shown_tab == "destination"


async def test_nothing_typed_at_paste_speed_is_lost(tmp_path: Path) -> None:
    """Keys posted as fast as a terminal delivers a paste (no wait between them), and a bracketed paste."""
    from textual import events

    app = make_app(Settings(local_dir=str(tmp_path)), start_screen="connection")
    dsn = "postgresql://archiver@db1.example.com:5432/shop?sslmode=require&application_name=x"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        box = app.screen.query_one("#input-dsn", Input)
        for _ in range(5):
            box.value = ""
            await pilot.pause()
            for character in dsn:
                app.post_message(events.Key(character, character))
            await wait_until(pilot, lambda: len(box.value) >= len(dsn), timeout=10)
            assert box.value == dsn
        box.value = ""
        await pilot.pause()
        app.post_message(events.Paste("2024-01-15"))
        await wait_until(pilot, lambda: box.value == "2024-01-15")


async def test_editing_keys_typed_ahead_edit_in_order(tmp_path: Path) -> None:
    """Backspace, Ctrl+U, Home typed in one burst with the characters around them: each edit lands where
    it was typed (Input's editing keys used to run after the characters behind them)."""
    from textual import events

    app = make_app(Settings(local_dir=str(tmp_path)), start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        box = app.screen.query_one("#input-dsn", Input)
        burst = [*"postgresx", "backspace", *"ql://db", "ctrl+u", *"postgresql://h/x", "home", *"  "]
        for key in burst:
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await wait_until(pilot, lambda: box.value.endswith("h/x"))
        assert box.value == "  postgresql://h/x"


async def test_next_refuses_an_incomplete_form_and_goes_on_when_complete(tui_settings: Settings) -> None:
    app = make_app(Settings(dsn=tui_settings.dsn, local_dir=tui_settings.local_dir,
                            cache_dir=tui_settings.cache_dir), start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, ConnectionScreen)
        assert any("Table" in str(n.message) for n in app._notifications)
        screen = app.screen
        for name, value in (("table", "events"), ("start_date", "2024-01-01"), ("end_date", "2024-01-03")):
            screen.query_one(f"#input-{name}", Input).value = value
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
        assert len(app.screen.entries) == 3


async def test_test_checks_the_database_and_a_local_directory(tui_settings: Settings) -> None:
    app = make_app(tui_settings, start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: "checking" not in answer(app, "database") + answer(app, "destination"))
        assert "✓ PostgreSQL" in answer(app, "database")
        assert "SELECT on public.events granted" in answer(app, "database")
        assert "reachable and writable" in answer(app, "destination")
        assert not any(p.name.startswith(".pgarchiver-probe") for p in Path(tui_settings.local_dir).iterdir())


async def test_test_reports_problems_inline(pg_dsn: str, s3_bucket, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(dsn=pg_dsn, table="missing", s3_bucket="no-such-bucket", s3_endpoint=s3_bucket.endpoint,
                        s3_region="us-east-1")
    app = make_app(settings, start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.click("#test")
        await wait_until(pilot, lambda: "checking" not in answer(app, "database") + answer(app, "destination"))
        assert "✗ table public.missing does not exist" in answer(app, "database")
        assert "✗ bucket 'no-such-bucket' does not exist" in answer(app, "destination")
        app.screen.query_one("#input-s3_bucket", Input).value = s3_bucket.name
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: "checking" not in answer(app, "destination"))
        assert f"s3://{s3_bucket.name}/" in answer(app, "destination") and "writable" in answer(app, "destination")


async def test_profiles_save_without_secrets_and_load_back(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    settings = Settings(db_host="db1", db_user="arch", db_password="s3cret", table="events",
                        local_dir=str(tmp_path / "a"), workers=3)
    app = make_app(settings, config_path=config, start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press(*"prod", "enter")
        await pilot.pause()
        saved = tomllib.loads(config.read_text())["profiles"]["prod"]
        assert saved["db_host"] == "db1" and saved["workers"] == 3 and "db_password" not in saved
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        screen = app.screen
        screen.query_one("#input-db_host", Input).value = "elsewhere"
        await pilot.press("ctrl+l")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.query_one("#input-db_host", Input).value == "db1"
        assert app.sub_title == "db1:5432/arch"


async def test_the_destination_url_is_checked_as_it_is_typed(tmp_path: Path) -> None:
    app = make_app(Settings(dest=str(tmp_path)), start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.click("#tab-bar Tab#tab-destination")
        field = screen.query_one("#field-dest", FormField)
        assert field.value == str(tmp_path)
        field.control.value = "ftp://host/dir"  # checked once typing pauses (CHECK_DELAY)
        await wait_until(pilot, lambda: field.has_class("-invalid"))
        assert "unknown scheme" in str(field.query_one(".field-error", Static).render())
        field.control.value = "az://archives/prod"
        await wait_until(pilot, lambda: not field.has_class("-invalid"))
        assert screen.form_settings().dest == "az://archives/prod"
