"""Errors by category: the category decides the exit code and is shown in logs and reports."""

from __future__ import annotations


class ArchiverError(Exception):
    category = "error"
    retryable = False


class ConfigError(ArchiverError):
    """Bad usage or configuration: found before anything is written (exit 2)."""

    category = "configuration"


class DatabaseError(ArchiverError):
    category = "database"


class PrivilegeError(ArchiverError):
    category = "permission"


class StorageError(ArchiverError):
    category = "storage"


class IntegrityError(ArchiverError):
    """What was stored is not what was written, or does not decode."""

    category = "integrity"


class Cancelled(ArchiverError):
    """The run was asked to stop."""

    category = "cancelled"
