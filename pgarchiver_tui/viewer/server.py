"""Serving the viewer with uvicorn: in the foreground (`viewer`) or beside a run (`archive --viewer`).

The listening socket is bound here, before uvicorn starts, so that the URL printed is already reachable (the
kernel queues connections until the server accepts them) and port 0 gets a free port.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from pgarchiver_tui.core.errors import ConfigError

TOKEN_ENV = "PGARCHIVER_VIEWER_TOKEN"
MIN_TOKEN_LENGTH = 8


def choose_token(given: str | None) -> str:
    """--token, else PGARCHIVER_VIEWER_TOKEN, else a fresh random one."""
    token = given or os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
    if len(token) < MIN_TOKEN_LENGTH or not token.isprintable() or " " in token:
        raise ConfigError(f"the viewer token must be at least {MIN_TOKEN_LENGTH} printable characters without "
                          f"spaces; pass a longer --token or {TOKEN_ENV}, or leave both out for a random one")
    return token


def bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve viewer host {host!r} ({exc}); use an address such as 127.0.0.1") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port "
                          "(0 picks a free one)") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass
class Viewer:
    """A bound, not yet serving viewer: its URL is final."""

    cache_dir: Path
    host: str
    token: str
    sock: socket.socket

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/?token={self.token}"

    def banner(self) -> str:
        lines = [f"viewer of {self.cache_dir}: {self.url}"]
        if not is_loopback(self.host):
            lines.append(f"warning: the viewer listens on {self.host}, beyond this machine, over plain HTTP: "
                         "anyone who can reach it and learns the token can read the cache")
        return "\n".join(lines)

    def _server(self):  # type: ignore[no-untyped-def]
        import uvicorn

        from pgarchiver_tui.viewer.app import create_app

        config = uvicorn.Config(create_app(self.cache_dir, self.token), log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=2, server_header=False)
        return uvicorn.Server(config)

    def serve_forever(self) -> None:
        """Serve until SIGINT/SIGTERM (uvicorn's own handlers)."""
        self._server().run(sockets=[self.sock])

    def start_in_thread(self) -> ViewerThread:
        server = self._server()  # off the main thread uvicorn leaves the signals to the run
        thread = threading.Thread(target=server.run, kwargs={"sockets": [self.sock]}, name="viewer",
                                  daemon=True)
        thread.start()
        return ViewerThread(server, thread)


@dataclass
class ViewerThread:
    server: object  # uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True  # type: ignore[attr-defined]
        self.thread.join(timeout=10)


def open_viewer(cache_dir: Path, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> Viewer:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigError("the web viewer needs the `viewer` extra: pip install 'pgarchiver-tui[viewer]'") from exc
    chosen = choose_token(token)
    return Viewer(cache_dir, host, chosen, bind(host, port))
