"""Object-store servers for the tests, each started on a free loopback port and stopped at the end.

s3rver and Azurite are Node packages installed by `.ci/node-servers.sh` into .ci/node (the first test that needs
one runs it when npm is there; CI runs it first);
gcp-storage-emulator comes from PyPI with the test extra. A server that is not installed fails the tests that
need it, loudly, with the command that installs it.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NODE_BIN = REPO / ".ci" / "node" / "node_modules" / ".bin"
INSTALL = "run `bash .ci/node-servers.sh` (installs s3rver and azurite from the npm registry into .ci/node)"
START_SECONDS = 60

S3RVER_KEY = "S3RVER"  # s3rver's fixed access key and secret
AZURITE_ACCOUNT = "devstoreaccount1"  # Azure's documented development account and key, which Azurite serves
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    port: int
    output: list[str] = field(default_factory=list)
    directory: Path | None = None  # where it keeps its data, when on disk

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_INSTALLING = threading.Lock()


def node_tool(name: str) -> str:
    """The Node server's command; installed first from the npm registry (`.ci/node-servers.sh`) when npm is
    there and it is not, so that the README's test command works on a fresh clone."""
    path = NODE_BIN / name
    with _INSTALLING:
        if not path.exists() and shutil.which("npm") is not None:
            done = subprocess.run(["bash", str(REPO / ".ci" / "node-servers.sh")], capture_output=True, text=True,
                                  timeout=600)
            if done.returncode != 0:
                raise RuntimeError(f"installing {name} failed ({(done.stderr or done.stdout).strip()[-300:]}); "
                                   f"{INSTALL}")
    if not path.exists():
        raise RuntimeError(f"{name} is not installed at {path} and npm is missing to install it: "
                           f"apt-get install nodejs npm, then {INSTALL}")
    if shutil.which("node") is None:
        raise RuntimeError(f"{name} needs Node.js: apt-get install nodejs npm, then {INSTALL}")
    return str(path)


def start(name: str, argv: list[str], ready: str, port: int | None = None) -> Server:
    """Run `argv` in its own process group; wait for the line matching `ready` (its group 1: the port)."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:  # keeps reading for the server's whole life, so its pipe never fills
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name=f"{name}-output", daemon=True).start()
    pattern = re.compile(ready)
    while True:
        try:
            line = lines.get(timeout=START_SECONDS)
        except queue.Empty:
            os.killpg(process.pid, signal.SIGKILL)
            raise RuntimeError(f"{name} did not start within {START_SECONDS}s: {''.join(output)}") from None
        if line is None:
            raise RuntimeError(f"{name} exited ({process.wait()}) before it was ready: {''.join(output)}")
        match = pattern.search(line)
        if match:
            found = int(match.group(1)) if match.groups() else port
            assert found, f"{name}: no port in {line!r}"
            return Server(name, process, found, output)


def start_s3rver(directory: Path) -> Server:
    server = start("s3rver", [node_tool("s3rver"), "-d", str(directory), "-a", "127.0.0.1", "-p", "0", "--silent"],
                   r"listening on 127\.0\.0\.1:(\d+)")
    server.directory = directory
    return server


def start_azurite(directory: Path) -> Server:
    # --disableTelemetry: Azurite otherwise reports to a host on the internet
    return start("azurite", [node_tool("azurite-blob"), "--blobHost", "127.0.0.1", "--blobPort", "0",
                             "--location", str(directory), "--loose", "--skipApiVersionCheck",
                             "--disableTelemetry", "--silent"],
                 r"successfully listens on http://127\.0\.0\.1:(\d+)")


def start_gcs_emulator() -> Server:
    port = free_port()
    program = Path(sys.executable).with_name("gcp-storage-emulator")
    if not program.exists():
        raise RuntimeError(f"gcp-storage-emulator is not installed beside {sys.executable}; pip install -e '.[test]'")
    return start("gcp-storage-emulator", [str(program), "start", "--host", "127.0.0.1", "--port", str(port),
                                          "--in-memory"], r"All services started", port)


def azurite_connection_string(endpoint: str) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};")
