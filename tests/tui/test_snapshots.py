"""Snapshots of every screen at 80×24 and at 120×36, from fixed data and a fixed clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.scenes import SCENES, scene_app

SIZES = {"small": (80, 24), "large": (120, 36)}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scene", SCENES)
def test_screen(scene: str, size: str, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, before = SCENES[scene]
    assert snap_compare(scene_app(scene, tmp_path / "cache"), terminal_size=SIZES[size], run_before=before)
