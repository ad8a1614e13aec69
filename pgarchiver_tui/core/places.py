"""The local places settings name — directories, files, a port — checked before anything is created.

Only looks: stat, access(2) and a bind that is released at once. Each check answers with the problem in a few
words ('' when fine); the schema in settings.py turns it into one line that names the option and the fix.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from functools import wraps
from pathlib import Path


def _answers(check: Callable[..., str]) -> Callable[..., str]:
    """A check that answers for any text: an unknown ~user or a name too long is a problem, not a traceback."""
    @wraps(check)
    def answer(text: str, *args: object) -> str:
        try:
            return check(text, *args)
        except RuntimeError:  # Path.expanduser: ~name of no user
            return "names the home directory of an unknown user"
        except (OSError, ValueError) as exc:
            return f"cannot be checked ({getattr(exc, 'strerror', None) or exc})"
    return answer


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path("/")


def _unwritable(directory: Path) -> str:
    """Why no file can be created in `directory`, '' when one can (access(2) answers EROFS too)."""
    if os.access(directory, os.W_OK | os.X_OK):
        return ""
    try:
        read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return f"{directory} is on a read-only file system" if read_only else f"{directory} is not writable by this user"


@_answers
def directory_problem(text: str, writable: bool = True) -> str:
    """A directory that exists, or can be created (and is writable when asked)."""
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            return "is not a directory (a file of that name exists)"
        problem = _unwritable(path) if writable else ""
        return f"cannot be written: {problem}" if problem else ""
    existing = _nearest_existing(path)
    if not existing.is_dir():
        return f"cannot be created: {existing} is not a directory"
    problem = _unwritable(existing)
    return f"cannot be created: {problem}" if problem else ""


@_answers
def output_file_problem(text: str) -> str:
    """A file that can be written: its directory exists and is writable, and it is no directory itself."""
    path = Path(text).expanduser()
    if path.is_dir():
        return "is a directory; give a file name"
    parent = path.parent
    if not parent.is_dir():
        return f"cannot be written: directory {parent} does not exist"
    problem = _unwritable(parent)
    return f"cannot be written: {problem}" if problem else ""


@_answers
def input_file_problem(text: str) -> str:
    """A file that exists and can be read."""
    path = Path(text).expanduser()
    if not path.exists():
        return "does not exist"
    if path.is_dir():
        return "is a directory; give a file"
    if not os.access(path, os.R_OK):
        return "cannot be read by this user"
    return ""


def port_problem(port: int, host: str = "127.0.0.1") -> str:
    """'' when `port` can be listened on at `host` now (as the metrics server will: address reuse on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"is in use on {host}; choose another port"
            if exc.errno == errno.EACCES:
                return f"cannot be listened on at {host} without privileges; use a port above 1023"
            return f"cannot be listened on at {host} ({exc.strerror or exc})"
    return ""
