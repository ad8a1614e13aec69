"""`pgarchiver-tui health`: is everything a run needs reachable and usable? A line per check."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pgarchiver_tui.core.errors import ArchiverError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(settings, probe_prefix: str = ".pgarchiver-health/") -> list[Check]:
    from pgarchiver_tui.cache import open_cache
    from pgarchiver_tui.db.connection import connect, scalar
    from pgarchiver_tui.db.discovery import check_privileges, discover
    from pgarchiver_tui.storage.destination import open_destination

    checks: list[Check] = []

    def attempt(name: str, body: Callable[[], str]) -> object:
        try:
            detail = body()
        except ArchiverError as exc:
            checks.append(Check(name, False, str(exc)))
            return None
        except Exception as exc:  # noqa: BLE001 - a health check reports, never crashes
            checks.append(Check(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))
            return None
        checks.append(Check(name, True, detail))
        return True

    def database() -> str:
        with connect(settings.conninfo(), snapshot=False) as conn:
            version = scalar(conn, "SHOW server_version")
            where = settings.database_label()
            if not settings.table:
                return f"{where}, PostgreSQL {version} (no --table: SELECT not checked)"
            schema, table = settings.qualified_table()
            found = discover(conn, schema, table, settings.date_column)
            check_privileges(conn, found.sources)
            return (f"{where}, PostgreSQL {version}; SELECT on {schema}.{table} and its "
                    f"{len(found.sources)} source(s)")

    def destination() -> str:
        storage = open_destination(settings)
        key = f"{probe_prefix.rstrip('/')}/probe-{uuid.uuid4().hex}"
        storage.put_bytes(key, b"pgarchiver-tui health probe\n")
        try:
            if storage.head(key) is None:
                raise ArchiverError(f"probe {key} was written but cannot be found")
        finally:
            storage.delete(key)
        return f"{storage.url} reachable and writable (probe under {probe_prefix} written and removed)"

    def cache() -> str:
        # the cache is local: it is checked even when the destination is not reachable
        store = open_cache(open_destination(settings, check=False).url, settings.cache_dir)
        try:
            store.note("last_health_check")
            return f"{store.path} writable" + (f" ({store.warning})" if store.warning else "")
        finally:
            store.close()

    attempt("database", database)
    attempt("destination", destination)
    attempt("cache", cache)
    return checks
