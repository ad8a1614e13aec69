"""A run started in the TUI is published for the web viewer like a headless one, and unpublished at its end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.render.live_state import LiveState, runs_dir
from tests.tui.support import make_app, wait_until
from tests.tui.test_run import start_run


async def test_a_tui_archive_run_is_published_while_it_runs(tui_settings: Settings, monkeypatch: Any) -> None:
    written: list[dict] = []
    original = LiveState.write

    def spy(self: LiveState) -> None:
        original(self)
        with self._lock:
            written.append(json.loads(json.dumps(self.state)))

    monkeypatch.setattr(LiveState, "write", spy)
    app = make_app(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        run = await start_run(pilot, app)
        await wait_until(pilot, lambda: run.report is not None)
        await pilot.press("ctrl+q")
    assert written and written[0]["command"] == "archive" and written[0]["jobs"] == 5
    assert written[0]["destination"] == Path(tui_settings.local_dir).resolve().as_uri() + "/"  # type: ignore[arg-type]
    assert not list(runs_dir(tui_settings.cache_dir).glob("*.json")), "the end of the run removed its file"
