"""No process left behind: the demo's PostgreSQL ends with the app on every signal that ends it, for real.

The demo runs in a child process (in a pseudo-terminal of its own for the TUI); the test finds its server by
the owner record in the server's directory, ends the demo the way a user or the system would, and checks that
neither the postmaster nor the directory is left. SIGKILL cannot be caught: there the next start's sweep must
remove what was left.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pgarchiver_tui.db import leftovers
from pgarchiver_tui.db.throwaway import ThrowawayPostgres

REPO = Path(__file__).resolve().parent.parent
# become the leader of a new session whose controlling terminal is stdin (the pty), then be the demo
IN_A_TERMINAL = ("import fcntl, os, sys, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                 "os.execv(sys.executable, [sys.executable, '-m', 'pgarchiver_tui', *sys.argv[1:]])")


@pytest.fixture
def base() -> Iterator[Path]:
    """Where the child's servers go (its TMPDIR): a directory of this test alone, which the postgres user
    can traverse when the tests run as root."""
    directory = Path(tempfile.mkdtemp(prefix="pgarchiver-children-", dir="/tmp"))
    directory.chmod(0o755)
    yield directory
    for left in directory.glob(f"{leftovers.PREFIX}*"):  # a failed test must not leave a server either
        leftovers.stop_server(left / "data")
    shutil.rmtree(directory, ignore_errors=True)


class Demo:
    """`pgarchiver-tui demo` in a child process, in a pseudo-terminal of 80×24 or headless."""

    def __init__(self, base: Path, ui: bool) -> None:
        home = base / "home"
        home.mkdir()
        env = {**os.environ, "TMPDIR": str(base), "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"),
               "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"), "TERM": "xterm-256color"}
        args = ["demo", "--local-dir", str(base / "archive")]
        self.output = bytearray()
        self.master: int | None = None
        if ui:
            self.master, slave = os.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            self.process = subprocess.Popen([sys.executable, "-c", IN_A_TERMINAL, *args], stdin=slave,
                                            stdout=slave, stderr=slave, cwd=REPO, env=env)
            os.close(slave)
            threading.Thread(target=self.drain, daemon=True).start()
        else:
            self.process = subprocess.Popen([sys.executable, "-m", "pgarchiver_tui", *args, "--no-ui"],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, cwd=REPO, env=env)
        self.base = base

    def drain(self) -> None:
        """Read what the app draws, as a terminal would: a full pty would block its writes."""
        master = self.master
        assert master is not None
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def type(self, keys: str) -> None:
        assert self.master is not None
        os.write(self.master, keys.encode())

    def hang_up(self) -> None:
        """Close the terminal, as a dropped SSH session does: the kernel sends SIGHUP."""
        assert self.master is not None
        os.close(self.master)
        self.master = None

    def server_dir(self) -> Path:
        """The directory of the server this demo owns, once the server is up."""
        found: list[Path] = []

        def started() -> bool:
            found[:] = [d for d in self.base.glob(f"{leftovers.PREFIX}*")
                        if (d / leftovers.OWNER_FILE).exists()
                        and (d / leftovers.OWNER_FILE).read_text().split()[0] == str(self.process.pid)
                        and leftovers.postmaster_pid(d / "data") is not None]
            return bool(found)

        wait_for(started, "the demo's server to start", 120, self.process)
        return found[0]

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)


def wait_for(condition: Callable[[], bool], what: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the demo ended ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def assert_gone(directory: Path, postmaster: int) -> None:
    assert leftovers.start_time(postmaster) is None or leftovers.postmaster_pid(directory / "data") is None, \
        "the demo's PostgreSQL is still running"
    assert not directory.exists(), f"{directory} was left behind"


@pytest.mark.slow
@pytest.mark.parametrize("end", ["hang up", "SIGTERM", "SIGINT"])
def test_the_tui_demo_takes_its_server_along_however_it_ends(base: Path, end: str) -> None:
    demo = Demo(base, ui=True)
    directory = demo.server_dir()
    postmaster = leftovers.postmaster_pid(directory / "data")
    assert postmaster is not None
    wait_for(lambda: b"events_2024" in demo.output, "the partitions to show", 120, demo.process)
    demo.type("ary")  # mark all, archive, yes: the terminal goes away in the middle of a run
    if end == "hang up":
        demo.hang_up()
    else:
        demo.process.send_signal(signal.SIGTERM if end == "SIGTERM" else signal.SIGINT)
    code = demo.wait()
    assert code != 0 or end == "hang up"  # interrupted (a hang-up may find nothing left to report)
    assert_gone(directory, postmaster)
    if demo.master is not None:
        os.close(demo.master)


@pytest.mark.slow
def test_the_headless_demo_takes_its_server_along_on_sigterm(base: Path) -> None:
    demo = Demo(base, ui=False)
    directory = demo.server_dir()
    postmaster = leftovers.postmaster_pid(directory / "data")
    assert postmaster is not None
    demo.process.send_signal(signal.SIGTERM)
    assert demo.wait() == 130
    assert_gone(directory, postmaster)


@pytest.mark.slow
def test_a_server_left_by_sigkill_is_swept_at_the_next_start(base: Path) -> None:
    demo = Demo(base, ui=False)
    directory = demo.server_dir()
    postmaster = leftovers.postmaster_pid(directory / "data")
    assert postmaster is not None
    demo.process.kill()
    demo.wait()
    assert leftovers.postmaster_pid(directory / "data") == postmaster  # SIGKILL: nothing could stop it
    assert leftovers.owner_alive(directory) is False
    other = base / f"{leftovers.PREFIX}in-use-elsewhere"  # no owner record: never touched
    other.mkdir()
    with ThrowawayPostgres(base_dir=base) as fresh:  # the start-up sweep
        assert fresh.directory is not None and fresh.directory.exists()
        assert_gone(directory, postmaster)
        assert other.exists()
