"""The core never imports Textual: headless runs from cron must not pay for (or depend on) the TUI."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pgarchiver_tui

REPO = Path(__file__).resolve().parent.parent


def core_modules() -> list[str]:
    # __main__ runs the program when imported; what it imports is cli's
    return sorted(info.name for info in pkgutil.walk_packages(pgarchiver_tui.__path__, "pgarchiver_tui.")
                  if not info.name.startswith("pgarchiver_tui.tui") and info.name != "pgarchiver_tui.__main__")


def test_the_core_is_every_module_outside_tui() -> None:
    names = core_modules()
    for expected in ("pgarchiver_tui.cli", "pgarchiver_tui.commands.archive.run", "pgarchiver_tui.commands.archive.prepare",
                     "pgarchiver_tui.storage.s3", "pgarchiver_tui.pipeline.formats", "pgarchiver_tui.render.report"):
        assert expected in names


def test_importing_every_core_module_leaves_textual_out() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "textual" not in json.loads(done.stdout)


def test_the_tui_package_does_import_textual() -> None:
    """The check above can fail: the same probe sees Textual when the TUI is imported."""
    script = "import sys, pgarchiver_tui.tui.app; print('textual' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, timeout=60)
    assert done.stdout.strip() == "True", done.stderr
