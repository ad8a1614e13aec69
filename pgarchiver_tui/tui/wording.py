"""Messages in the words of this interface: the engine's one-line errors name command-line flags
(`--end-date`, `--target-table`), which a TUI user never typed; here they name the field or key instead."""

from __future__ import annotations

import re

# a flag → what the TUI calls it (the connection form's labels; a few things only the command line sets)
LABELS = {
    "dsn": "DSN", "db-host": "Host", "db-port": "Port", "db-user": "User", "db-password": "Password",
    "db-name": "Database", "db-sslmode": "SSL mode", "db-sslrootcert": "SSL root certificate",
    "db-sslcert": "SSL certificate", "db-sslkey": "SSL key", "db-target-session-attrs": "target session attrs",
    "db-*": "the database fields", "local-dir": "Local directory", "s3-bucket": "S3 bucket",
    "s3-endpoint": "S3 endpoint", "s3-region": "S3 region", "s3-access-key": "Access key",
    "s3-secret-key": "Secret key", "s3-profile": "AWS profile", "s3-sse": "server-side encryption",
    "s3-sse-kms-key-id": "KMS key", "table": "Table", "schema": "Schema", "start-date": "Start date",
    "end-date": "End date", "date-column": "Date column", "output-format": "Format",
    "compression": "Compression", "compression-level": "Level", "output-duration": "Output period",
    "path-template": "Path template", "workers": "Workers", "retries": "retries", "max-rate": "rate limit",
    "pause": "pause", "include-current": "the include-current setting", "force": "force",
    "target-table": "target table", "deep": "a deep verify", "cache-dir": "cache directory",
    "zstd-threads": "zstd threads", "statement-timeout": "statement timeout", "lock-timeout": "lock timeout",
    "dry-run": "dry run",
}
_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9*]+)*(?:-\*)?)")
_GIVE = re.compile(r"\b(give|use|set)( both)? --")  # "give --date-column" → "fill in Date column"


def for_screen(message: str) -> str:
    """`message` with every known flag replaced by the name this interface gives it."""
    message = _GIVE.sub(lambda m: f"fill in{m[2] or ''} --", message)

    def label(match: re.Match[str]) -> str:
        return LABELS.get(match[1], match[0])

    return _FLAG.sub(label, message)
