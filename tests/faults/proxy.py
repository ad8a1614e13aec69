"""A fault-injecting HTTP proxy on loopback, in front of the moto S3 server.

It forwards every request unchanged and counts them by S3 operation, key and status, so a test can assert
that each key was completed exactly once. Rules make it misbehave the way real stores do: answer the Nth
UploadPart with a 5xx or SlowDown, answer CompleteMultipartUpload with HTTP 200 and an <Error> body, reset
the connection, deny everything from now on (revoked credentials), or hold a request until the test lets
it through (to kill a process while its upload is open).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

# headers that belong to one hop, not to the request: never forwarded
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
               "expect", "content-length"}

ERROR = "error"  # answer with `status` and an S3 <Error> body carrying `code`
ERROR_IN_200 = "error-in-200"  # HTTP 200 whose body is an <Error> (CompleteMultipartUpload does this)
RESET = "reset"  # drop the TCP connection with a RST, no answer
HOLD = "hold"  # keep the request until `release` is set, then forward it
CORRUPT = "corrupt"  # flip one byte of the body on its way to the store (headers unchanged), then forward it


@dataclass
class Rule:
    """Misbehave on requests of `op` (an S3 operation name, or "*"), optionally only for keys ending so.

    The first `after` matching requests pass; the next `times` are faulted (None: every one from then on).
    """

    op: str
    action: str = ERROR
    status: int = 500
    code: str = "InternalError"
    after: int = 0
    times: int | None = 1
    key_suffix: str = ""
    min_body: int = 0  # only requests carrying at least this many bytes (a part, a block, a chunk)
    matched: int = 0
    faulted: int = 0
    reached: threading.Event = field(default_factory=threading.Event)  # a request was faulted/held
    release: threading.Event = field(default_factory=threading.Event)  # for HOLD: let held requests go

    def wants(self, op: str, key: str, size: int = 0) -> bool:
        """Whether this request is one to fault; counts it. Called under the proxy's lock."""
        if self.op not in ("*", op) or not key.endswith(self.key_suffix) or size < self.min_body:
            return False
        self.matched += 1
        if self.matched <= self.after or (self.times is not None and self.faulted >= self.times):
            return False
        self.faulted += 1
        return True


@dataclass(frozen=True)
class Seen:
    op: str
    key: str
    status: int  # 0: the connection was reset


def operation(method: str, path: str, query: str) -> tuple[str, str]:
    """The S3 operation and object key of a path-style request."""
    _bucket, _, key = unquote(path).lstrip("/").partition("/")
    q = parse_qs(query, keep_blank_values=True)
    if method == "PUT":
        return ("UploadPart" if "uploadId" in q else "PutObject" if key else "CreateBucket"), key
    if method == "POST":
        if "uploads" in q:
            return "CreateMultipartUpload", key
        return ("CompleteMultipartUpload" if "uploadId" in q else "DeleteObjects" if "delete" in q else "POST"), key
    if method == "DELETE":
        return ("AbortMultipartUpload" if "uploadId" in q else "DeleteObject" if key else "DeleteBucket"), key
    if method == "HEAD":
        return ("HeadObject" if key else "HeadBucket"), key
    if not key:
        return ("ListMultipartUploads" if "uploads" in q else "ListObjects"), key
    return ("ListParts" if "uploadId" in q else "GetObject"), key


def error_body(code: str, message: str = "injected by the test proxy") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>fault-proxy</RequestId></Error>").encode()


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self._armed: list[tuple[str, int, Rule]] = []  # rules that start once a request was seen n times
        self._changed = threading.Condition()
        self.rewrite_etag: Callable[[str], str] | None = None  # the store's ETags as another store gives them
        # check each PutObject/UploadPart body against its Content-MD5 as AWS does (BadDigest), and refuse a body
        # that comes without one (MissingContentMD5, the test's own demand): moto and s3rver check neither
        self.checks_content_md5 = False
        self.headers_seen: list[tuple[str, dict[str, str]]] = []  # (operation, lower-cased headers) of each request
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- control -------------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        for rule in self.rules:
            rule.release.set()
        self._server.shutdown()
        self._server.server_close()

    def add(self, rule: Rule) -> Rule:
        with self._changed:
            self.rules.append(rule)
        return rule

    def arm(self, after_op: str, n: int, rule: Rule) -> Rule:
        """Add `rule` the moment the `n`th `after_op` request has been answered successfully."""
        with self._changed:
            self._armed.append((after_op, n, rule))
        return rule

    def clear(self) -> None:
        """Behave again: drop every rule and let held requests go."""
        with self._changed:
            for rule in self.rules:
                rule.release.set()
            self.rules.clear()
            self._armed.clear()

    def count(self, op: str, key: str | None = None, ok: bool | None = None) -> int:
        """Requests seen of `op` (for `key`); `ok`: only those answered 2xx (True) or not (False)."""
        with self._changed:
            return sum(1 for s in self.seen if s.op == op and (key is None or s.key == key)
                       and (ok is None or (200 <= s.status < 300) == ok))

    def keys(self, op: str, ok: bool = True) -> list[str]:
        with self._changed:
            return [s.key for s in self.seen if s.op == op and (200 <= s.status < 300) == ok]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Block until `condition()` holds (re-checked whenever a request finishes); fail after `timeout`."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise AssertionError(f"the proxy did not see what was awaited within {timeout}s: {self.seen}")

    # -- serving -------------------------------------------------------------------------------------------
    def _fault_for(self, op: str, key: str, size: int = 0) -> Rule | None:
        with self._changed:
            return next((rule for rule in self.rules if rule.wants(op, key, size)), None)

    def _digest_refusal(self, op: str, content_md5: str | None, body: bytes) -> str:
        """The error code a store checking Content-MD5 answers this request with, or "" to forward it."""
        if not self.checks_content_md5 or op not in ("PutObject", "UploadPart"):
            return ""
        if content_md5 is None:
            return "MissingContentMD5"
        return "" if content_md5 == base64.b64encode(hashlib.md5(body).digest()).decode() else "BadDigest"

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _record(self, op: str, key: str, status: int) -> None:
        with self._changed:
            self.seen.append(Seen(op, key, status))
            for armed in list(self._armed):
                after_op, n, rule = armed
                if sum(1 for s in self.seen if s.op == after_op and 200 <= s.status < 300) >= n:
                    self._armed.remove(armed)
                    self.rules.append(rule)
            self._changed.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, and 100-continue answered for boto's PUTs
            upstream: http.client.HTTPConnection | None = None

            def log_message(self, *args: object) -> None:
                return None

            def _relay(self) -> None:
                path, _, query = self.path.partition("?")
                op, key = operation(self.command, path, query)
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    raise AssertionError("the proxy forwards Content-Length bodies only")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rule = proxy._fault_for(op, key, len(body))
                with proxy._changed:
                    proxy.headers_seen.append((op, {n.lower(): v for n, v in self.headers.items()}))
                if rule is not None and rule.action == CORRUPT:
                    rule.reached.set()
                    body = bytes([body[0] ^ 0xFF]) + body[1:] if body else body
                    rule = None
                refusal = proxy._digest_refusal(op, self.headers.get("Content-MD5"), body)
                if refusal:
                    self._answer(400, [("Content-Type", "application/xml")], error_body(refusal))
                    proxy._record(op, key, 400)
                    return
                if rule is not None and rule.action == RESET:
                    rule.reached.set()
                    proxy._record(op, key, 0)
                    self._reset()
                    return
                if rule is not None and rule.action == HOLD:
                    rule.reached.set()
                    proxy._notify()
                    rule.release.wait()
                    rule = None
                if rule is not None:
                    rule.reached.set()
                    status = 200 if rule.action == ERROR_IN_200 else rule.status
                    self._answer(status, [("Content-Type", "application/xml")], error_body(rule.code))
                    proxy._record(op, key, rule.status if rule.action == ERROR else 500)
                    return
                status, headers, answer = self._forward(body)
                if proxy.rewrite_etag is not None and op != "UploadPart":
                    headers, answer = _rewritten(proxy.rewrite_etag, headers, answer)
                proxy._record(op, key, status)  # the store did it, whether or not the client hears of it
                try:
                    self._answer(status, headers, answer)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client died meanwhile (killed on purpose)

            def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                for attempt in (1, 2):  # the upstream may have closed an idle keep-alive connection
                    if self.upstream is None:
                        self.upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                    try:
                        self.upstream.putrequest(self.command, self.path, skip_host=True,
                                                 skip_accept_encoding=True)
                        for name, value in self.headers.items():
                            if name.lower() not in _HOP_BY_HOP:
                                self.upstream.putheader(name, value)
                        self.upstream.putheader("Content-Length", str(len(body)))
                        self.upstream.endheaders(body)
                        response = self.upstream.getresponse()
                        answer = response.read()
                        headers = [(n, v) for n, v in response.getheaders() if n.lower() not in _HOP_BY_HOP]
                        if self.command == "HEAD" and response.getheader("Content-Length"):
                            headers.append(("Content-Length", response.getheader("Content-Length")))
                        return response.status, headers, answer
                    except (ConnectionError, http.client.HTTPException):
                        self.upstream.close()
                        self.upstream = None
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

            def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response_only(status)
                for name, value in headers:
                    self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                self.wfile.flush()

            def _reset(self) -> None:
                # SO_LINGER with a zero timeout: close() sends RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

            def finish(self) -> None:
                if self.upstream is not None:
                    self.upstream.close()
                try:
                    super().finish()
                except OSError:
                    pass  # the connection was reset on purpose

        return Handler


def _rewritten(rewrite: Callable[[str], str], headers: list[tuple[str, str]],
               body: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """Every object ETag of an answer (a header, or <ETag> in XML) passed through `rewrite`, quotes kept."""
    def one(tag: str) -> str:
        for quote in ('"', "&quot;", "&#34;"):
            if tag.startswith(quote) and tag.endswith(quote) and len(tag) >= 2 * len(quote):
                return quote + rewrite(tag[len(quote):-len(quote)]) + quote
        return rewrite(tag)

    headers = [(name, one(value) if name.lower() == "etag" else value) for name, value in headers]
    body = re.sub(rb"<ETag>(.*?)</ETag>", lambda m: b"<ETag>" + one(m[1].decode()).encode() + b"</ETag>", body)
    return headers, body


@contextmanager
def running_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
