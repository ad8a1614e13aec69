"""Errors by category: the category decides the exit code and is shown in logs and reports."""

from __future__ import annotations


class ArchiverError(Exception):
    category = "error"

    def __init__(self, message: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable  # transient: the same work may well succeed if tried again


class ConfigError(ArchiverError):
    """Bad usage or configuration: found before anything is written (exit 2)."""

    category = "configuration"


class Unavailable(ArchiverError):
    """A service that is down, unreachable, silent past its timeout or refusing work for now (its connection
    limit reached, starting up): nothing is wrong with the configuration; retry later (exit 3)."""

    category = "unavailable"


class DatabaseError(ArchiverError):
    category = "database"


class PrivilegeError(ArchiverError):
    category = "permission"


class StorageError(ArchiverError):
    category = "storage"


class WriteConflict(StorageError):
    """Another run claimed or wrote the same object: not a failure of this run."""


class CacheError(ArchiverError):
    """The local cache cannot be opened or written (a full disk, say; it is never taken for a lost one while
    merely busy); the destination stays the truth."""

    category = "cache"


class IntegrityError(ArchiverError):
    """What was stored is not what was written, or does not decode."""

    category = "integrity"


class Cancelled(ArchiverError):
    """The run was asked to stop."""

    category = "cancelled"


# Exit codes: what a script or cron alerting reads, each asking for a different action.
EXIT_OK = 0  # nothing to do
EXIT_FAILED = 1  # objects failed: read the failures, rerun to retry them
EXIT_USAGE = 2  # the command line or configuration is wrong: fix it, nothing was written
EXIT_UNAVAILABLE = 3  # the database or the store is down, unreachable or refusing: retry later
EXIT_INTERRUPTED = 130  # SIGINT or SIGTERM: stopped cleanly


def up_front_exit_code(exc: ArchiverError) -> int:
    """The exit code of an error met before any object was handled."""
    if exc.category in ("configuration", "permission"):
        return EXIT_USAGE
    if exc.category == "unavailable":
        return EXIT_UNAVAILABLE
    if exc.category == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_FAILED
