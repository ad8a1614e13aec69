"""Throwaway servers whose owner is gone: found and removed at the next start.

A throwaway PostgreSQL (the demo's, the tests', the benchmark's) runs detached from the process that started
it — `pg_ctl` puts the postmaster in a session of its own, so neither a closed terminal nor the owner's death
reaches it. The owner stops it on every way out it can catch (a normal exit, SIGINT, SIGTERM, SIGHUP); SIGKILL
and power cuts it cannot. So each server's directory records its owner (`owner`: pid and the kernel's start
time of that process, which tells a reused pid apart), and every start first removes the servers, and the
`pgarchiver-pg-*` directories, of owners that no longer run.

A directory without an owner record is never touched: it may be in use by a version that wrote none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

PREFIX = "pgarchiver-pg-"
OWNER_FILE = "owner"
STOP_SECONDS = 10.0


def start_time(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since boot (field 22 of /proc/PID/stat); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from its closing parenthesis
    return stat[stat.rindex(")") + 2:].split()[19]


def write_owner(directory: Path, pid: int | None = None) -> None:
    pid = pid or os.getpid()
    (directory / OWNER_FILE).write_text(f"{pid} {start_time(pid) or '?'}\n")


def owner_alive(directory: Path) -> bool | None:
    """True while the process that owns `directory` runs; None when no owner is recorded."""
    try:
        pid_text, started = (directory / OWNER_FILE).read_text().split()
    except (OSError, ValueError):
        return None
    try:
        pid = int(pid_text)
    except ValueError:
        return None
    return start_time(pid) == started


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the server running on `data_dir`, if one does (checked against its command line)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return None
    return pid if str(data_dir) in command else None


def stop_server(data_dir: Path, timeout: float = STOP_SECONDS) -> None:
    """Stop the server on `data_dir` at once (SIGQUIT: immediate shutdown), SIGKILL if it will not go."""
    pid = postmaster_pid(data_dir)
    if pid is None:
        return
    for signum in (signal.SIGQUIT, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if start_time(pid) is None or postmaster_pid(data_dir) is None:
                return
            time.sleep(0.05)


def sweep(base_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the throwaway servers (and directories) under `base_dir` whose owner is gone; what was removed."""
    base = Path(base_dir) if base_dir is not None else Path(tempfile.gettempdir())
    removed = []
    for directory in sorted(base.glob(f"{PREFIX}*")):
        if not directory.is_dir() or owner_alive(directory) is not False:
            continue
        stop_server(directory / "data")
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
    return removed
