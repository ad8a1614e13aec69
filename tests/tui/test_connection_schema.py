"""The connection form checks its fields with the same schema as the command line and the config file."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.tui.widgets.form_field import FormField
from tests.tui.support import make_app, wait_until

CASES = [
    ("workers", "2.7", "is not a whole number"),
    ("workers", "0", "must be at least 1"),
    ("s3_endpoint", "notaurl", "is not an http(s) URL"),
    ("path_template", "{table:>300}", "placeholders take no format spec"),
    ("end_date", "10000-01-01", "is not a date"),
    ("db_port", "70000", "must be at most 65535"),
    ("local_dir", "a-file", "is not a directory"),
]


@pytest.mark.parametrize(("name", "text", "problem"), CASES)
async def test_a_field_shows_the_schemas_problem(name: str, text: str, problem: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("x")
    app = make_app(Settings(local_dir=str(tmp_path / "archive")), start_screen="connection")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        field = app.screen.query_one(f"#field-{name}", FormField)
        field.control.value = text  # checked once typing pauses (CHECK_DELAY), never on every key
        await wait_until(pilot, lambda: field.has_class("-invalid"))
        assert problem in str(field.query_one(".field-error", Static).render())
        field.control.value = ""
        await wait_until(pilot, lambda: not field.has_class("-invalid"))
