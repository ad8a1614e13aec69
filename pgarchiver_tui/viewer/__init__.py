"""The web viewer: the archive caches and the runs in progress, read-only, in a browser (extra `viewer`).

`server.open_viewer(...)` binds and returns a `Viewer` whose URL carries its token; `app.create_app` is the
ASGI application; `state` reads the caches and the live run files without Starlette.
"""
