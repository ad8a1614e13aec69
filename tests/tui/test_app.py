"""The app as a whole: where it opens, what is always visible, help, palette, leaving."""

from __future__ import annotations

import io
import subprocess
import sys

from rich.console import Console

from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui.screens.connection import ConnectionScreen
from pgarchiver_tui.tui.screens.help import HelpScreen
from pgarchiver_tui.tui.screens.partitions import PartitionsScreen
from tests.tui.support import make_app, wait_until


async def test_opens_on_partitions_when_connection_and_table_are_given(tui_settings: Settings) -> None:
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
        assert app.sub_title == tui_settings.database_label()
        header = app.screen.query_one("Header")
        assert tui_settings.database_label() in str(header.screen_sub_title)
        await pilot.press("ctrl+q")
    assert app.return_code == 0


async def test_opens_on_connection_when_the_table_is_missing(tmp_path) -> None:
    app = make_app(Settings(db_host="db.example.com", db_name="shop", local_dir=str(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ConnectionScreen)
        assert app.sub_title == "db.example.com:5432/shop"
        await pilot.press("ctrl+c")
    assert app.return_code == 0


def rendered(renderable: object) -> str:
    console = Console(width=100, file=io.StringIO())
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


async def test_help_opens_on_question_mark_and_escape_backs_out(tmp_path) -> None:
    app = make_app(Settings(local_dir=str(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = rendered(app.screen.keys)
        assert "Test" in text and "Partitions" in text and "Quit" in text
        await pilot.press("escape")
        assert isinstance(app.screen, ConnectionScreen)


async def test_command_palette_reaches_the_screen_actions(tui_settings: Settings) -> None:
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PartitionsScreen) and app.screen.prepared)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Archive", "Dry run", "Mark", "Filter", "Count rows exactly", "Cache", "Help", "Open"} <= titles
        commands = list(app.get_system_commands(app.screen))
        assert len(commands) == len(titles)  # each once
        assert not titles & {"Theme", "Keys", "Screenshot", "Maximize", "Minimize"}  # none of Textual's own
        assert all(c.help.startswith("key: ") for c in commands)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"
        await pilot.press(*"cache", "enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CacheScreen"


def test_the_core_never_imports_textual() -> None:
    code = ("import sys, pgarchiver_tui.commands.archive.prepare, pgarchiver_tui.commands.inventory, pgarchiver_tui.commands.preflight, "
            "pgarchiver_tui.cli; assert 'textual' not in sys.modules, 'textual imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
