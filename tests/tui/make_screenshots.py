"""Write screenshots/*.svg from the app itself, one per screen: `python -m tests.tui.make_screenshots DIR`.

The same fixed scenes as the snapshot tests, at 100×30: what the README shows is what the tests check.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from tests.tui.scenes import SCENES, scene_app

SIZE = (100, 30)


async def shoot(name: str, target: Path, scratch: Path) -> Path:
    _, before = SCENES[name]
    app = scene_app(name, scratch / name)
    async with app.run_test(size=SIZE) as pilot:
        await before(pilot)
        await pilot.pause()
        path = target / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(target))
    return path


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name in SCENES:
            print(asyncio.run(shoot(name, target, Path(scratch))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
