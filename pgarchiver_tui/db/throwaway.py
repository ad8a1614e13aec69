"""A private, disposable PostgreSQL server for tests and the demo mode.

``ThrowawayPostgres`` runs ``initdb`` into a fresh temporary directory, starts the server on a free
loopback port with durability switched off (it's disposable, so speed matters more), and deletes
everything again on :meth:`ThrowawayPostgres.stop` (or at interpreter exit, if the caller forgot or crashed).
Each server's directory records its owner; every start first removes servers whose owner is gone (killed with
SIGKILL, say), see ``leftovers.py``. ``stop_all()`` stops every server this process started, for a signal
handler that must leave at once.

``initdb`` and ``postgres`` refuse to run as root. When we are root, the temporary directory is handed to the
``postgres`` system user and the server binaries are run as that user through ``runuser`` (or ``su``).

If no server binaries can be found, the optional ``pgserver`` package (``pip install pgarchiver-tui[demo]``)
is used instead; it bundles its own PostgreSQL build and talks over a Unix socket.

This module must not import Textual.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from pgarchiver_tui.db import leftovers

__all__ = [
    "stop_all",
    "ThrowawayPostgres",
    "ThrowawayPostgresError",
    "find_pg_bindir",
    "dsn_with_dbname",
]

INSTALL_HINT = (
    "install PostgreSQL server binaries (apt-get install postgresql) or `pip install pgarchiver-tui[demo]`"
)

#: Glob used to find Debian/Ubuntu-style versioned installs; a module attribute so tests can point it elsewhere.
PG_VERSIONED_GLOB = "/usr/lib/postgresql/*/bin"

#: The system user that owns the cluster when we run as root.
SERVER_OS_USER = "postgres"

_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; leave room for "/.s.PGSQL.NNNNN" + NUL


class ThrowawayPostgresError(RuntimeError):
    """The throwaway server could not be found, initialised, started or reached."""


_RUNNING: set[ThrowawayPostgres] = set()  # started by this process and not stopped yet


def stop_all() -> None:
    """Stop every throwaway server this process started (a signal handler's last act before leaving)."""
    for server in list(_RUNNING):
        server.stop()


# --------------------------------------------------------------------------------------------------------------
# Locating server binaries
# --------------------------------------------------------------------------------------------------------------


def _has_initdb(bindir: str | os.PathLike[str]) -> bool:
    p = Path(bindir) / "initdb"
    return p.is_file() and os.access(p, os.X_OK)


def _version_key(path: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); /usr/lib/postgresql/9.6/bin -> (9, 6)
    name = Path(path).parent.name
    return tuple(int(x) for x in re.findall(r"\d+", name)) or (0,)


def find_pg_bindir() -> Path | None:
    """Directory holding ``initdb``/``pg_ctl``/``postgres``, or None if no server binaries were found.

    Order: ``$PGARCHIVER_PG_BINDIR`` (an error if set but without initdb), ``pg_config --bindir`` if it
    holds initdb, the highest ``/usr/lib/postgresql/*/bin``, then ``initdb`` on PATH (symlinks resolved,
    so that pg_ctl finds its ``postgres`` sibling).
    """
    env = os.environ.get("PGARCHIVER_PG_BINDIR")
    if env:
        if _has_initdb(env):
            return Path(env)
        raise ThrowawayPostgresError(f"PGARCHIVER_PG_BINDIR={env} does not contain an executable initdb")

    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_initdb(out):
            return Path(out)

    candidates = sorted((d for d in glob.glob(PG_VERSIONED_GLOB) if _has_initdb(d)), key=_version_key)
    if candidates:
        return Path(candidates[-1])

    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    return None


# --------------------------------------------------------------------------------------------------------------
# DSN helpers
# --------------------------------------------------------------------------------------------------------------


def dsn_with_dbname(dsn: str, dbname: str) -> str:
    """Return a ``postgresql://`` URL equal to *dsn* (URL or key=value conninfo) but for database *dbname*."""
    from psycopg.conninfo import conninfo_to_dict

    params: dict[str, Any] = {k: v for k, v in conninfo_to_dict(dsn).items() if v is not None}
    params["dbname"] = dbname
    return conninfo_to_url(params)


def conninfo_to_url(params: dict[str, Any]) -> str:
    """Build a ``postgresql://`` URL from libpq keyword parameters."""
    params = {k: str(v) for k, v in params.items() if v is not None}
    user = params.pop("user", None)
    password = params.pop("password", None)
    host = params.pop("host", None)
    port = params.pop("port", None)
    dbname = params.pop("dbname", None)

    netloc = ""
    if user is not None:
        netloc = quote(user, safe="")
        if password is not None:
            netloc += ":" + quote(password, safe="")
        netloc += "@"
    query: dict[str, str] = {}
    # Unix socket directories and multi-host lists don't fit in the authority part; pass them as parameters.
    if host and not host.startswith("/") and "," not in host and (port is None or "," not in port):
        netloc += f"[{host}]" if ":" in host else host
        if port:
            netloc += f":{port}"
    else:
        if host:
            query["host"] = host
        if port:
            query["port"] = port
    query.update(params)
    url = "postgresql://" + netloc + "/" + (quote(dbname, safe="") if dbname else "")
    if query:
        url += "?" + urlencode(query, quote_via=quote, safe="/")
    return url


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------------------


class ThrowawayPostgres:
    """A disposable PostgreSQL server on 127.0.0.1; a context manager.

    >>> with ThrowawayPostgres() as pg:          # doctest: +SKIP
    ...     dsn = pg.create_database("demo")

    ``start()`` is called by ``__enter__``; it may also be called directly. ``stop()`` is idempotent and is
    registered with :mod:`atexit`.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        bindir: str | os.PathLike[str] | None = None,
        start_timeout: int = 60,
    ) -> None:
        self._base_dir = os.fspath(base_dir) if base_dir is not None else None
        self._bindir_override = Path(bindir) if bindir is not None else None
        self._start_timeout = start_timeout
        self._lock = threading.Lock()
        self._tmpdir: Path | None = None
        self._port: int | None = None
        self._bindir: Path | None = None
        self._pgserver: Any = None  # pgserver.PostgresServer when using the fallback
        self._pgserver_uri: str | None = None
        self._started = False
        self._atexit_registered = False
        self.startup_seconds: float | None = None

    # -- context manager -------------------------------------------------------------------------------------

    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._started else "stopped"
        where = self._pgserver_uri or (f"{self.host}:{self._port}" if self._port else "-")
        return f"<ThrowawayPostgres {state} {where} dir={self._tmpdir}>"

    # -- properties -----------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._started

    @property
    def port(self) -> int | None:
        """TCP port on 127.0.0.1 (None for the pgserver fallback, which only listens on a Unix socket)."""
        self._require_started()
        return self._port

    @property
    def dsn(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres``."""
        return self.dsn_for("postgres")

    @property
    def directory(self) -> Path | None:
        """The temporary directory holding the data directory and the server log."""
        return self._tmpdir

    @property
    def data_dir(self) -> Path | None:
        return self._tmpdir / "data" if self._tmpdir else None

    @property
    def log_path(self) -> Path | None:
        return self._tmpdir / "server.log" if self._tmpdir else None

    def dsn_for(self, dbname: str) -> str:
        """A ``postgresql://`` URL for database *dbname* on this server."""
        self._require_started()
        if self._pgserver is not None:
            return dsn_with_dbname(self._pgserver_uri or "", dbname)
        return f"postgresql://postgres@{self.host}:{self._port}/{quote(dbname, safe='')}"

    def create_database(self, name: str, *, template: str = "template0") -> str:
        """``CREATE DATABASE name TEMPLATE template``; returns the new database's DSN."""
        create_database(self.dsn, name, template=template)
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        drop_database(self.dsn, name)

    def _require_started(self) -> None:
        if not self._started:
            raise ThrowawayPostgresError("the throwaway PostgreSQL server is not running (call start())")

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> ThrowawayPostgres:
        with self._lock:
            if self._started:
                return self
            t0 = time.monotonic()
            with contextlib.suppress(OSError):
                leftovers.sweep(self._base_dir)  # servers of owners that are gone (SIGKILL leaves them)
            bindir = self._bindir_override or find_pg_bindir()
            if bindir is None:
                try:
                    import pgserver  # type: ignore[import-not-found]
                except ImportError:
                    raise ThrowawayPostgresError(
                        f"No PostgreSQL server binaries found: {INSTALL_HINT}"
                    ) from None
                self._start_pgserver(pgserver)
            else:
                if not _has_initdb(bindir):
                    raise ThrowawayPostgresError(f"{bindir} does not contain an executable initdb")
                self._bindir = Path(bindir)
                self._start_binaries()
            self._started = True
            _RUNNING.add(self)
            if not self._atexit_registered:
                atexit.register(self.stop)
                self._atexit_registered = True
            self.startup_seconds = time.monotonic() - t0
            return self

    def stop(self) -> None:
        """Stop the server immediately and delete its directory. Safe to call more than once."""
        with self._lock:
            self._started = False
            _RUNNING.discard(self)
            if self._atexit_registered:
                atexit.unregister(self.stop)
                self._atexit_registered = False
            if self._pgserver is not None:
                srv, self._pgserver = self._pgserver, None
                with contextlib.suppress(Exception):
                    srv.cleanup()
            elif self._tmpdir is not None and self._bindir is not None:
                self._stop_binaries()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None

    # -- implementation: system binaries --------------------------------------------------------------------

    def _as_server_user(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    def _command(self, argv: list[str]) -> list[str]:
        """Wrap *argv* so it runs as the ``postgres`` system user when we are root."""
        if not self._as_server_user():
            return argv
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", SERVER_OS_USER, "--", *argv]
        su = shutil.which("su")
        if su:
            return [su, SERVER_OS_USER, "-s", "/bin/sh", "-c", shlex.join(argv)]
        raise ThrowawayPostgresError(
            "running as root, but neither runuser nor su is available to run PostgreSQL as the postgres user"
        )

    def _env(self) -> dict[str, str]:
        # Keep the caller's PG* settings (PGDATA, PGPORT, PGHOST, ...) away from initdb/pg_ctl.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env.pop("LANG", None)
        env.pop("LANGUAGE", None)
        return env

    def _run(self, argv: list[str], what: str, timeout: float) -> subprocess.CompletedProcess[str]:
        assert self._tmpdir is not None
        cmd = self._command(argv)
        try:
            proc = subprocess.run(
                cmd,
                cwd=self._tmpdir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise ThrowawayPostgresError(f"{what} timed out after {timeout:.0f}s{self._log_tail()}") from None
        except OSError as exc:
            raise ThrowawayPostgresError(f"{what} could not be run: {exc}") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise ThrowawayPostgresError(
                f"{what} failed (exit {proc.returncode}): {' | '.join(detail)}{self._log_tail()}"
            )
        return proc

    def _log_tail(self, lines: int = 20) -> str:
        log = self.log_path
        if log is None or not log.exists():
            return ""
        try:
            tail = log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"\n--- last lines of {log} ---\n" + "\n".join(tail) if tail else ""

    def _prepare_dir(self) -> Path:
        tmp = Path(tempfile.mkdtemp(prefix=leftovers.PREFIX, dir=self._base_dir)).resolve()
        self._tmpdir = tmp
        leftovers.write_owner(tmp)
        if self._as_server_user():
            try:
                pw = pwd.getpwnam(SERVER_OS_USER)
            except KeyError:
                raise ThrowawayPostgresError(
                    f"running as root, but there is no '{SERVER_OS_USER}' system user to run PostgreSQL as"
                ) from None
            os.chmod(tmp, 0o755)
            os.chown(tmp, pw.pw_uid, pw.pw_gid)
            # Every ancestor must be traversable by the postgres user.
            probe = subprocess.run(
                self._command(["test", "-w", str(tmp)]), cwd="/", env=self._env(), capture_output=True
            )
            if probe.returncode != 0:
                raise ThrowawayPostgresError(
                    f"the '{SERVER_OS_USER}' user cannot write to {tmp}: choose a base_dir whose parents are "
                    "world-traversable (e.g. under /tmp)"
                )
        return tmp

    def _start_binaries(self) -> None:
        assert self._bindir is not None
        try:
            tmp = self._prepare_dir()
            data = tmp / "data"
            log = tmp / "server.log"
            self._run(
                [
                    str(self._bindir / "initdb"),
                    "-D", str(data),
                    "-A", "trust",
                    "-U", "postgres",
                    "--no-sync",
                    "-E", "UTF8",
                    "--locale=C",
                ],
                "initdb",
                timeout=120,
            )  # fmt: skip
            socket_dir = str(data) if len(str(data)) <= _SOCKET_PATH_MAX else ""
            # A port picked by binding to 0 can be taken by someone else before postgres binds it: retry.
            for attempt in range(5):
                self._port = _free_port(self.host)
                self._write_conf(data, socket_dir)
                try:
                    self._run(
                        [
                            str(self._bindir / "pg_ctl"),
                            "-D", str(data),
                            "-l", str(log),
                            "-w", "-t", str(self._start_timeout),
                            "start",
                        ],
                        "pg_ctl start",
                        timeout=self._start_timeout + 30,
                    )  # fmt: skip
                    return
                except ThrowawayPostgresError as exc:
                    if attempt < 4 and "could not bind" in str(exc):
                        continue
                    raise
        except BaseException:
            self._stop_binaries()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None
            raise

    def _write_conf(self, data: Path, socket_dir: str) -> None:
        conf = data / "postgresql.auto.conf"
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self._port),
            "unix_socket_directories": socket_dir,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "shared_buffers": "32MB",
            "max_wal_size": "1GB",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "log_timezone": "UTC",
            "timezone": "UTC",
            "datestyle": "iso, mdy",
        }
        lines = ["# written by pgarchiver_tui.db.throwaway"]
        for key, value in settings.items():
            lines.append(f"{key} = '{value}'")
        # Truncating an existing file keeps it owned by the postgres user; a port retry rewrites it.
        with open(conf, "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def _stop_binaries(self) -> None:
        if self._tmpdir is None or self._bindir is None:
            return
        data = self._tmpdir / "data"
        pidfile = data / "postmaster.pid"
        if not pidfile.exists():
            return
        with contextlib.suppress(Exception):
            subprocess.run(
                self._command(
                    [str(self._bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),
                cwd=self._tmpdir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
            )
        # If pg_ctl could not stop it, signal the postmaster directly (SIGQUIT = immediate shutdown).
        if pidfile.exists():
            with contextlib.suppress(Exception):
                pid = int(pidfile.read_text().splitlines()[0])
                os.kill(pid, signal.SIGQUIT)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)

    # -- implementation: pgserver fallback ------------------------------------------------------------------

    def _start_pgserver(self, pgserver: Any) -> None:
        tmp = Path(tempfile.mkdtemp(prefix=leftovers.PREFIX, dir=self._base_dir)).resolve()
        self._tmpdir = tmp
        leftovers.write_owner(tmp)
        try:
            data = tmp / "data"
            srv = pgserver.get_server(str(data), cleanup_mode="delete")
            self._pgserver = srv
            self._pgserver_uri = srv.get_uri()
            self._port = None
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            self._tmpdir = None
            self._pgserver = None
            raise ThrowawayPostgresError(f"pgserver could not start PostgreSQL: {exc}") from exc


# --------------------------------------------------------------------------------------------------------------
# Database helpers (any server)
# --------------------------------------------------------------------------------------------------------------


def create_database(admin_dsn: str, name: str, *, template: str = "template0") -> str:
    """Create database *name* on the server *admin_dsn* points at; returns a URL DSN for it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=30) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    return dsn_with_dbname(admin_dsn, name)


def drop_database(admin_dsn: str, name: str) -> None:
    """``DROP DATABASE IF EXISTS name WITH (FORCE)`` (terminates open connections to it)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=30) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
