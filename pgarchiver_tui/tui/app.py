"""The terminal UI: a face on the engine's events and calls, with no archiving logic of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import platformdirs
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.screen import Screen

from pgarchiver_tui import startup
from pgarchiver_tui.commands.archive.prepare import Prepared, prepare
from pgarchiver_tui.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ArchiverError
from pgarchiver_tui.core.events import RunReport
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.core.settings import Settings, default_config_path
from pgarchiver_tui.db.throwaway import stop_all
from pgarchiver_tui.tui import keys
from pgarchiver_tui.tui.screens.cache import CacheScreen
from pgarchiver_tui.tui.screens.confirm import ConfirmScreen
from pgarchiver_tui.tui.screens.connection import ConnectionScreen
from pgarchiver_tui.tui.screens.help import HelpScreen, screen_commands
from pgarchiver_tui.tui.screens.partitions import Loader, PartitionsScreen
from pgarchiver_tui.tui.screens.run import RunScreen, WatchScreen
from pgarchiver_tui.tui.wording import for_screen

CACHE_REFRESH_SECONDS = 2.0
GRACE_SECONDS = 15.0  # after a termination signal, how long a run may take to stop cleanly


def ready_to_archive(settings: Settings) -> bool:
    """Everything needed to list partitions is given: open straight on them."""
    try:
        settings.validate()
    except ArchiverError:
        return False
    return True


def leave_now_function() -> Callable[[], None]:
    """What leaves at once when a signal comes twice or a run will not stop: child processes (the demo's
    PostgreSQL) stopped, the terminal put back as it was, exit code 130."""
    try:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        fd, saved = -1, None

    def leave_now() -> None:
        stop_all()
        if saved is not None:
            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(fd, termios.TCSANOW, saved)
                sys.stderr.write("\x1b[?1049l\x1b[?25h\n")  # leave the alternate screen, show the cursor
                sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)

    return leave_now


def crash_log_path() -> Path:
    return Path(platformdirs.user_state_dir("pgarchiver-tui")) / "crash.log"


class ArchiverApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "pgarchiver-tui"
    BINDINGS = keys.APP
    TEXT_ACTIONS = keys.text_actions(keys.APP)

    def __init__(self, settings: Settings, *, loader: Loader = prepare,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC),
                 config_path: Path | None = None, cache_refresh_seconds: float = CACHE_REFRESH_SECONDS,
                 start_screen: str | None = None, detach_only: bool = False) -> None:
        super().__init__()
        self.settings = settings
        self.loader = loader
        self.clock = clock
        self.wall = wall
        self.config_path = config_path or default_config_path()
        self.cache_refresh_seconds = cache_refresh_seconds
        self.start_screen = start_screen
        self.detach_only = detach_only  # `purge --detach-only` opened the app
        self.last_finished: RunReport | None = None
        self.last_purge_code: int | None = None
        self.interrupted = False
        self.crash: str | None = None
        self.signals = 0  # termination signals received
        self.last_resort: Callable[[], None] = lambda: None  # run_app: leave now, children stopped
        try:
            self.sub_title = settings.database_label()
        except ArchiverError:
            self.sub_title = "no database"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not keys.gives_way(self, action, self.TEXT_ACTIONS)  # `q` and `?` are letters in a field

    def on_mount(self) -> None:
        self.listen_for_signals()
        self.push_screen(ConnectionScreen(self.settings))
        wanted = self.start_screen or ("partitions" if ready_to_archive(self.settings) else "connection")
        if wanted == "purge" and not ready_to_archive(self.settings):
            wanted = "connection"  # the question needs a table, a range and a destination first
        if wanted in ("partitions", "purge"):
            self.open_partitions(self.settings)
        if wanted == "purge":  # `pgarchiver-tui purge`: the question over the partitions, for the whole range
            from pgarchiver_tui.tui.screens.purge import PurgeScreen

            self.push_screen(PurgeScreen(self.settings, detach_only=self.detach_only))
        elif wanted == "connection" and not ready_to_archive(self.settings) and self.settings.table:
            self.notify("fill in what is missing, then Ctrl+N", title="Not ready to archive yet")

    # -- navigation --------------------------------------------------------------------------------------
    def open_partitions(self, settings: Settings) -> None:
        self.settings = settings
        self.sub_title = settings.database_label()
        self.push_screen(PartitionsScreen(settings, self.loader))

    def open_run(self, prepared: Prepared, jobs: list[Job], dry_run: bool) -> None:
        self.push_screen(RunScreen(prepared, jobs, dry_run))

    def action_help_key(self) -> None:
        self.action_help()

    async def action_quit_key(self) -> None:
        await self.action_quit()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_cache(self) -> None:
        if isinstance(self.screen, CacheScreen):
            return
        settings = self.settings
        connection = next((s for s in self.screen_stack if isinstance(s, ConnectionScreen)), None)
        if connection is not None:
            try:
                settings = connection.form_settings()
            except ValueError:
                pass  # the form shows its own problem; browse what we had
        self.push_screen(CacheScreen(settings))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: each of pgarchiver-tui's commands on this screen once, with its key; none of
        Textual's own (themes, screenshots, maximising) that an operator never needs."""
        for command in screen_commands(screen):
            yield SystemCommand(command.description, f"key: {command.key}",
                                partial(self.run_action, command.action, command.node))
    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification in this interface's words: the engine's messages name command-line flags."""
        super().notify(for_screen(message), title=title, severity=severity, timeout=timeout, markup=markup)

    # -- leaving -----------------------------------------------------------------------------------------
    def running_screen(self) -> WatchScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, WatchScreen) and s.running), None)

    async def action_quit(self) -> None:
        running = self.running_screen()
        if running is None:
            self.leave(self.exit_code_now())
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.interrupted = True
                running.cancel_run()
                self.quit_when_stopped(running)

        await self.push_screen(ConfirmScreen(
            "Quit during a run?", "The run is cancelled cleanly first: running queries stop and unfinished "
            "uploads are removed.", yes="Cancel and quit", no="Keep running"), answered)

    def quit_when_stopped(self, running: WatchScreen, leave: Callable[[], None] | None = None) -> None:
        async def wait_then_exit() -> None:
            for worker in [w for w in self.workers if w.group == "run"]:
                await worker.wait()
            (leave or partial(self.leave, EXIT_INTERRUPTED))()

        self.run_worker(wait_then_exit(), group="quit")

    def leave(self, code: int) -> None:
        self.exit(code, return_code=code)

    # -- signals: a closed terminal (SIGHUP), kill (SIGTERM), kill -INT -----------------------------------
    def listen_for_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.signalled, signum)

    def signalled(self, signum: int) -> None:
        """Leave as a confirmed quit does (a run is cancelled cleanly first, the demo's server stopped after);
        a second signal, or a run that will not stop within GRACE_SECONDS, leaves at once."""
        self.signals += 1
        if self.signals > 1:
            self.last_resort()
            return
        watchdog = threading.Timer(GRACE_SECONDS, self.last_resort)
        watchdog.daemon = True
        watchdog.start()
        self.interrupted = True
        # the terminal is gone with SIGHUP: restoring it would wait on a dead tty, so leave straight away
        # once the run has stopped (the servers stopped, the exit code 130 all the same)
        leave = self.last_resort if signum == signal.SIGHUP else None
        running = self.running_screen()
        if running is None:
            (leave or partial(self.leave, EXIT_INTERRUPTED))()
        else:
            running.cancel_run()
            self.quit_when_stopped(running, leave)

    def exit_code_now(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        codes = [self.last_finished.exit_code if self.last_finished else EXIT_OK]
        if self.last_purge_code is not None:
            codes.append(self.last_purge_code)
        return max(codes)  # 130 > 2 > 1 > 0: the worst of what this session did

    def _fatal_error(self) -> None:
        """An unexpected error: leave cleanly with one line, the traceback goes to a file, not the screen.

        The one hook into Textual that is not public (App has none for unhandled errors); Textual's own
        version prints a traceback with local variables, which may hold a password."""
        self.crash = traceback.format_exc()
        self.exit(return_code=EXIT_FAILED)


def run_app(settings: Settings, app: ArchiverApp | None = None) -> int:
    """Run the TUI until the user leaves; the terminal is restored by Textual on every way out."""
    app = app or ArchiverApp(settings)
    app.last_resort = leave_now_function()
    startup.over()  # the collector back on before the first frame (startup.py)
    code = app.run()
    if app.crash:
        path = crash_log_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(app.crash)
            where = f"details in {path}"
        except OSError:
            where = "no crash log could be written"
        last = app.crash.strip().splitlines()[-1] if app.crash.strip() else "unknown error"
        print(f"pgarchiver-tui: internal error: {last} ({where}); please report it", file=sys.stderr)
        return EXIT_FAILED
    return code if code is not None else EXIT_OK
