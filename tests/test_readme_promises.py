"""The README says what the code does: its exit-code tables and the documented timeouts come from the code."""

from __future__ import annotations

import re
from pathlib import Path

from pgarchiver_tui.core import errors, schema
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.interrupts import GRACE_SECONDS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
CODES = {errors.EXIT_OK, errors.EXIT_FAILED, errors.EXIT_USAGE, errors.EXIT_UNAVAILABLE, errors.EXIT_INTERRUPTED}


def table_after(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after `heading`, as cells."""
    text = README[README.index(heading):]
    rows = re.findall(r"^\|(.+)\|$", text[text.index("\n|"):].split("\n\n")[0], re.M)
    return [[cell.strip() for cell in row.split("|")] for row in rows if not set(row) <= set("-| ")]


def test_the_exit_code_tables_list_every_code_the_tool_uses() -> None:
    headless = table_after("### Headless output and exit codes")
    assert {int(row[0]) for row in headless[1:]} == CODES
    per_command = table_after("### Exit codes of every command")
    assert {int(row[0]) for row in per_command[1:]} == CODES


def test_the_documented_timeouts_are_the_defaults() -> None:
    defaults = Settings()
    assert f"else `PGCONNECT_TIMEOUT`, else {schema.DEFAULT_DB_CONNECT_TIMEOUT})" in README
    assert f"to connect (default {defaults.s3_connect_timeout:g}), to hear an answer (default " \
           f"{defaults.s3_read_timeout:g})" in README
    assert f"this long on it (default {defaults.retry_budget:g})" in README
    assert f"the process leaves {GRACE_SECONDS:g} s" in README
    assert f"({defaults.s3_connect_timeout:g} s / {defaults.s3_read_timeout:g} s per attempt" in README
