"""Write screenshots/<size>/*.svg from the app itself, one per screen and dialog, at 80×24 and 120×40:
`python -m tests.tui.make_screenshots [DIR]` (what `nox -s screenshots` runs).

The same fixed scenes as the snapshot tests: what the README shows is what the tests check.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from tests.tui.scenes import SCENES, scene_app
from tests.tui.test_snapshots import SIZES


async def shoot(name: str, size: tuple[int, int], target: Path, scratch: Path) -> Path:
    _, before = SCENES[name]
    app = scene_app(name, scratch / name)
    async with app.run_test(size=size) as pilot:
        await before(pilot)
        await pilot.pause()
        path = target / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(target))
    return path


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "screenshots")
    with tempfile.TemporaryDirectory() as scratch:
        for label, size in SIZES.items():
            target = root / label
            target.mkdir(parents=True, exist_ok=True)
            for name in SCENES:
                print(asyncio.run(shoot(name, size, target, Path(scratch) / label)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
