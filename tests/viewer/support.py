"""Helpers of the viewer tests: an archive run into a cache dir, the viewer as a real process, HTTP calls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgarchiver_tui.cli import main

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "viewer-test-token-0123456789"


@dataclass
class Archive:
    dsn: str
    local_dir: Path
    cache_dir: Path

    def args(self, table: str, start: str, end: str, *extra: str) -> list[str]:
        return ["archive", "--no-ui", "--dsn", self.dsn, "--table", table, "--start-date", start,
                "--end-date", end, "--local-dir", str(self.local_dir), "--cache-dir", str(self.cache_dir), *extra]

    def run(self, table: str, start: str, end: str, *extra: str) -> None:
        code = main(self.args(table, start, end, *extra))
        assert code == 0, f"archive of {table} exited {code}"

    def spawn(self, table: str, start: str, end: str, *extra: str) -> subprocess.Popen[str]:
        """The same archive in a second process (the tool's own entry point)."""
        return subprocess.Popen([sys.executable, "-m", "pgarchiver_tui", *self.args(table, start, end, *extra)],
                                cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    return env


class ViewerProcess:
    """`pgarchiver-tui viewer --port 0 …` as a child process; its URL read from the banner it prints."""

    def __init__(self, cache_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pgarchiver_tui", "viewer", "--port", "0", "--cache-dir", str(cache_dir), *args],
            cwd=ROOT, env=env or child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        self.banner = self.proc.stderr.readline().strip()  # blocks until the viewer is listening
        if "http://" not in self.banner:
            self.stop()
            raise AssertionError(f"the viewer did not start: {self.banner}{self.proc.stderr.read()}")
        self.url = self.banner[self.banner.index("http://"):]
        self.base = self.url.split("/?", 1)[0]
        self.token = self.url.split("token=", 1)[1]

    def stop(self) -> str:
        """SIGINT, as Ctrl-C would; what it wrote on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"the viewer did not stop on SIGINT: {err}") from None
        return err


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def get(url: str, token: str | None = None, method: str = "GET", cookie: str | None = None) -> Answer:
    request = urllib.request.Request(url, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


class EventStream:
    """/api/events read as a client would: one server-sent event at a time (blocking, with a timeout)."""

    def __init__(self, base: str, token: str) -> None:
        request = urllib.request.Request(f"{base}/api/events", headers={"Authorization": f"Bearer {token}"})
        self.response = urllib.request.urlopen(request, timeout=20)

    def next(self) -> tuple[str, dict[str, Any]]:
        name, data = "", ""
        while True:
            line = self.response.readline().decode()
            if not line:
                raise AssertionError("the event stream ended")
            line = line.rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and name:
                return name, json.loads(data)

    def until(self, wanted: str, condition: Any = lambda data: True, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {wanted} event as expected within {timeout} s")
            name, data = self.next()
            if name == wanted and condition(data):
                return data

    def close(self) -> None:
        self.response.close()
