"""Snapshots of every screen and dialog at 80×24 (what an SSH session often has) and 120×40, from fixed data,
a fixed clock and still cursors: any change to what a user sees shows up here.

After a deliberate change: `pytest tests/tui/test_snapshots.py --snapshot-update`, look at the report, and
regenerate the README's pictures with `nox -s screenshots`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.scenes import SCENES, scene_app

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scene", SCENES)
def test_screen(scene: str, size: str, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, before = SCENES[scene]
    assert snap_compare(scene_app(scene, tmp_path / "cache"), terminal_size=SIZES[size], run_before=before)
