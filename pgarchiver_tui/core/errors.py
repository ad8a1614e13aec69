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


class DatabaseError(ArchiverError):
    category = "database"


class PrivilegeError(ArchiverError):
    category = "permission"


class StorageError(ArchiverError):
    category = "storage"


class WriteConflict(StorageError):
    """Another run claimed or wrote the same object: not a failure of this run."""


class IntegrityError(ArchiverError):
    """What was stored is not what was written, or does not decode."""

    category = "integrity"


class CacheError(ArchiverError):
    """The local cache cannot be read or written (a full disk, say); the destination stays the truth."""

    category = "cache"


class Cancelled(ArchiverError):
    """The run was asked to stop."""

    category = "cancelled"


# Exit codes: what a script or cron alerting reads.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
