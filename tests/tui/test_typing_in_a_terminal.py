"""Typing into the connection form in a real terminal (tmux, 80×24) at paste speed: nothing is lost.

tmux sends each string to the app in one write, as a terminal does with a paste or with keys typed faster
than the app draws, and once more as a bracketed paste. What the screen shows afterwards must be exactly what
was typed. Pilot's side of the same check is in test_connection.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DSN = "postgresql://archiver@db1.example.com:5432/shop?sslmode=require"


class Terminal:
    """An 80×24 tmux session of its own (a private server socket), running one command."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        if shutil.which("tmux") is None:
            raise AssertionError("tmux is needed for this test: apt-get install tmux")
        self.socket = f"pgarchiver-test-{uuid.uuid4().hex[:8]}"
        self.tmux("new-session", "-d", "-s", "app", "-x", "80", "-y", "24", "-c", str(REPO),
                  "-e", f"HOME={env['HOME']}", "-e", "TERM=xterm-256color", " ".join(command))

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app")

    def showing(self, text: str) -> bool:
        """The screen shows `text`; False once the session is gone (it ends when its one command exits)."""
        try:
            return text in self.screen()
        except subprocess.CalledProcessError:
            return False

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "app", *keys)

    def type(self, text: str) -> None:
        """The whole text in one write: a paste, or keys typed faster than the app draws."""
        self.tmux("send-keys", "-t", "app", "-l", text)

    def paste(self, text: str) -> None:
        """A bracketed paste, as a terminal sends it when the app asked for them (Textual does)."""
        self.tmux("set-buffer", "-b", "clip", text)
        self.tmux("paste-buffer", "-p", "-b", "clip", "-t", "app")

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed; the screen:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def form(tmp_path: Path) -> Iterator[Terminal]:
    env = {"HOME": str(tmp_path)}  # no config file of the user's: an empty form
    terminal = Terminal([sys.executable, "-m", "pgarchiver_tui", "--local-dir", str(tmp_path / "archive"),
                         "--cache-dir", str(tmp_path / "cache")], env)
    try:
        terminal.wait_for("DSN")
        yield terminal
    finally:
        terminal.close()


def field_line(screen: str, label: str) -> str:
    return next(line for line in screen.splitlines() if line.startswith(label)).removeprefix(label).strip()


def test_nothing_typed_at_paste_speed_is_lost(form: Terminal) -> None:
    for attempt in range(4):  # the loss reported came three times in four
        form.type(DSN)  # the cursor starts in the DSN field
        screen = form.wait_for(DSN[-20:])
        assert field_line(screen, "DSN") == DSN, (attempt, screen)
        form.keys("C-u")  # Textual's Input: delete to the start
        form.wait_for("postgresql://user@host/db (optional)")  # the placeholder again: the field is empty
    form.keys("C-NPage", "C-NPage")  # the job tab (Escape then 3, sent as one write, reads as Alt+3)
    form.wait_for("Date column")
    form.keys("Tab", "Tab")  # table → schema → start date
    for day in ("2024-01-15", "2023-12-31", "2024-02-29"):
        form.type(day)
        screen = form.wait_for(day)
        assert field_line(screen, "Start date") == day, screen
        form.keys("C-u")
    form.keys("Tab")
    for character in "2024-01-31":  # one write per key, as fast as tmux goes
        form.type(character)
    assert field_line(form.wait_for("2024-01-31"), "End date") == "2024-01-31"


def test_a_bracketed_paste_arrives_whole(form: Terminal) -> None:
    form.paste(DSN)
    screen = form.wait_for(DSN[-20:])
    assert field_line(screen, "DSN") == DSN, screen
    form.keys("C-q")
    deadline = time.monotonic() + 30
    while form.showing("DSN"):  # until the app left (its session ends with it)
        assert time.monotonic() < deadline, "Ctrl+Q did not quit"
        time.sleep(0.1)


def test_no_terminal_no_ui() -> None:
    """`pgarchiver-tui --table events </dev/null | cat` (a cron line that forgot --no-ui): one line, exit 2."""
    result = subprocess.run([sys.executable, "-m", "pgarchiver_tui", "--table", "events"], cwd=REPO,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "TERM": "xterm-256color"})
    assert result.returncode == 2
    assert result.stdout == ""  # no escape codes into the pipe
    [line] = result.stderr.splitlines()
    assert line.startswith("pgarchiver-tui: error: no terminal") and "add --no-ui" in line
