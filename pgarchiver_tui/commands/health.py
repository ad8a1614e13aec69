"""`pgarchiver-tui health`: is everything a run needs reachable and usable? A line per check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pgarchiver_tui.core.errors import ArchiverError
from pgarchiver_tui.storage import Finding


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # works, with a limit the operator should know of (a store lacking a feature)


def run_checks(settings, probe_prefix: str = ".pgarchiver-health/") -> list[Check]:
    from pgarchiver_tui.cache import open_cache
    from pgarchiver_tui.db.connection import connect, scalar
    from pgarchiver_tui.db.discovery import check_privileges, discover
    from pgarchiver_tui.storage.destination import open_destination
    from pgarchiver_tui.storage.probe import probe_store

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

    learned: list[Finding] = []

    def destination() -> str:
        # the calls an archive makes, a small multipart upload and an interrupted one included
        storage = open_destination(settings)
        try:
            done = probe_store(storage, probe_prefix)
        finally:
            learned.extend(storage.findings.items)
        return f"{storage.url}: {'; '.join(done)} (under {probe_prefix})"

    def cache() -> str:
        # the cache is local: it is checked even when the destination is not reachable
        store = open_cache(open_destination(settings, check=False).url, settings.cache_dir)
        try:
            store.note("last_health_check")
            for _key, _upload_id, noted, advice in store.leftovers():
                checks.append(Check("leftover", True, f"noted {noted}: {advice}", warning=True))
            return f"{store.path} writable" + (f" ({store.warning})" if store.warning else "")
        finally:
            store.close()

    attempt("database", database)
    attempt("destination", destination)
    checks.extend(Check(f"store:{f.feature}", True, f.message, warning=True) for f in learned)
    attempt("cache", cache)
    return checks
