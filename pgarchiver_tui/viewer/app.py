"""The viewer's ASGI application (Starlette): the page, its static files, a read-only JSON API, live events.

Every request needs the token: `?token=…` (the URL printed at start), `Authorization: Bearer …`, or the
cookie set when a page was opened with the right `?token=`. Only GET and HEAD exist. Changes reach the page
as server-sent events; the page then asks the API again for what it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgarchiver_tui import __version__
from pgarchiver_tui.viewer.query import BadQuery, RecordQuery, table_totals
from pgarchiver_tui.viewer.state import Changes, Snapshot

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
QUEUE_LIMIT = 256  # events waiting for one slow page; past that it is told to reload everything
STATIC = Path(str(resources.files("pgarchiver_tui.viewer") / "static"))

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                 b"base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the token is in the URL: never send it elsewhere
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class TokenGate:
    """ASGI middleware: 401 without the token, 405 for anything but GET/HEAD, security headers on all."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    def cookie_name(self, scope: Scope) -> str:
        server = scope.get("server") or ("", 0)
        return f"pgarchiver_viewer_{server[1]}"  # cookies ignore ports: one name per viewer

    def _given(self, scope: Scope) -> tuple[str, bool]:
        """The token the request carries, and whether it came in the query string."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0], True
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        cookie = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
        morsel = cookie.get(self.cookie_name(scope))
        return (morsel.value if morsel else ""), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given, from_query = self._given(scope)
        ok = hmac.compare_digest(given.encode(), self.token.encode())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                if ok and from_query:
                    headers.append((b"set-cookie", f"{self.cookie_name(scope)}={self.token}; Path=/; HttpOnly; "
                                                   "SameSite=Strict".encode()))
                message = {**message, "headers": headers}
            await send(message)

        if not ok:
            response: Response = _unauthorized(scope)
        elif scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("405: the viewer is read-only\n", 405, headers={"Allow": "GET, HEAD"})
        else:
            await self.app(scope, receive, send_with_headers)
            return
        await response(scope, receive, send_with_headers)


def _unauthorized(scope: Scope) -> Response:
    message = ("this viewer needs its token: open the URL it printed at start (…/?token=…), or send "
               "Authorization: Bearer <token>")
    if scope["path"].startswith("/api/"):
        return JSONResponse({"error": message}, 401, headers={"WWW-Authenticate": "Bearer"})
    return PlainTextResponse(f"401: {message}\n", 401, headers={"WWW-Authenticate": "Bearer"})


class Hub:
    """Polls the snapshot in a thread and fans its changes out to every open event stream."""

    def __init__(self, snapshot: Snapshot, poll_seconds: float = POLL_SECONDS) -> None:
        self.snapshot, self.poll_seconds = snapshot, poll_seconds
        self.subscribers: set[asyncio.Queue[str | None]] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.snapshot.poll)  # the first answers already hold the data
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for queue in self.subscribers:
            queue.put_nowait(None)  # ends each stream, so the server can shut down
        self.snapshot.close()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            changes = await asyncio.to_thread(self.snapshot.poll)
            if changes:
                self.publish(changes)

    def publish(self, changes: Changes) -> None:
        version = self.snapshot.version
        messages = [_sse("records", version, {"destination": dest, "changed": changed, "removed": removed})
                    for dest, (changed, removed) in changes.records.items()]
        if changes.runs is not None:
            messages.append(_sse("runs", version, {"runs": changes.runs}))
        for queue in list(self.subscribers):
            if queue.qsize() + len(messages) > QUEUE_LIMIT:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(_sse("resync", version, {}))
                continue
            for message in messages:
                queue.put_nowait(message)

    async def stream(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.subscribers.add(queue)
        try:
            yield "retry: 2000\n" + _sse("hello", self.snapshot.version, {"version": __version__})
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if message is None:
                    return
                yield message
        finally:
            self.subscribers.discard(queue)


def _sse(event: str, version: int, data: dict[str, Any]) -> str:
    return f"event: {event}\nid: {version}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def create_app(cache_dir: Path, token: str, poll_seconds: float = POLL_SECONDS) -> ASGIApp:
    hub = Hub(Snapshot(cache_dir), poll_seconds)
    snapshot = hub.snapshot

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def favicon(request: Request) -> Response:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    async def destinations(request: Request) -> Response:
        return JSONResponse({"destinations": snapshot.destinations(), "version": snapshot.version})

    async def records(request: Request) -> Response:
        try:
            query = RecordQuery.parse(request.query_params)
        except BadQuery as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({**query.run(snapshot.all_records()), "version": snapshot.version})

    async def one_record(request: Request) -> Response:
        record = snapshot.record(request.path_params["destination"], request.path_params["key"])
        if record is None:
            return JSONResponse({"error": "no such record in the cache"}, 404)
        return JSONResponse(record)

    async def tables(request: Request) -> Response:
        return JSONResponse({"tables": table_totals(snapshot.all_records()), "version": snapshot.version})

    async def runs(request: Request) -> Response:
        return JSONResponse({"runs": snapshot.runs, "version": snapshot.version})

    async def events(request: Request) -> Response:
        return StreamingResponse(hub.stream(), media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = Starlette(routes=[
        Route("/", index),
        Route("/favicon.ico", favicon),
        Route("/api/destinations", destinations),
        Route("/api/records", records),
        Route("/api/records/{destination}/{key:path}", one_record),
        Route("/api/tables", tables),
        Route("/api/runs", runs),
        Route("/api/events", events),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ], lifespan=lifespan)
    app.state.hub = hub
    return TokenGate(app, token)
