"""The one schema of every option: its kind, its range, and one line saying what is wrong and how to fix it.

The command line, the PGARCHIVER_* environment, the TOML config file (and its profiles), `validate` and the
TUI's connection form all read values through `parse` (text or a TOML value → the setting's type) and check
them with `check` (ranges, finite numbers, dates, URLs, templates, paths). Each answers with a ConfigError of
one line that names where the value came from; values are shown with repr (control characters escaped),
secrets never.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from pgarchiver_tui.core import places
from pgarchiver_tui.core.choices import CODEC_CHOICES, FORMAT_NAMES
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.periods import Duration, TemplateError, check_template

SECRET_OPTIONS = ("db_password", "s3_secret_key", "s3_access_key", "dsn", "token")
DEFAULT_DB_CONNECT_TIMEOUT = 10  # seconds, per host address tried (libpq's connect_timeout)
MAX_INT32 = 2**31 - 1
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER = re.compile(r"[+-]?\d+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Option:
    """What one option accepts."""

    name: str
    kind: str  # text | name | int | float | bool | date | choice | template | url | dir | out_file | in_file | port
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    empty_ok: bool = False  # '' is a meaningful value (an empty path template: keys at the top)
    writable: bool = True  # a directory this tool writes into (verify and restore only read --local-dir)
    example: str = ""  # a good value, for the fix

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _options(*options: Option) -> dict[str, Option]:
    return {option.name: option for option in options}


SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SESSION_ATTRS = ("any", "read-write", "read-only", "primary", "standby", "prefer-standby")

OPTIONS = _options(
    # database
    Option("dsn", "text"),
    Option("db_host", "text"),
    Option("db_port", "int", 1, 65535, example="5432"),
    Option("db_user", "text"),
    Option("db_password", "text", empty_ok=True),
    Option("db_name", "text"),
    Option("db_sslmode", "choice", choices=SSLMODES),
    Option("db_sslrootcert", "in_file"),
    Option("db_sslcert", "in_file"),
    Option("db_sslkey", "in_file"),
    Option("db_target_session_attrs", "choice", choices=SESSION_ATTRS),
    Option("db_connect_timeout", "int", 2, 3600, example="10"),  # libpq takes values below 2 as 2
    Option("statement_timeout", "int", 0, MAX_INT32, example="60000"),
    Option("lock_timeout", "int", 0, MAX_INT32, example="5000"),
    # what
    Option("table", "name", example="events"),
    Option("schema", "name", example="public"),
    Option("start_date", "date"),
    Option("end_date", "date"),
    Option("date_column", "name", example="created_at"),
    Option("output_duration", "choice", choices=tuple(d.value for d in Duration)),
    Option("include_current", "bool"),
    # output
    Option("output_format", "choice", choices=FORMAT_NAMES),
    Option("compression", "choice", choices=tuple(CODEC_CHOICES)),
    Option("compression_level", "int", example="3"),  # its range is the codec's: checked by Settings.validate
    Option("zstd_threads", "int", 0, 256, example="2"),
    Option("split", "int", 1, 64, example="4"),
    Option("path_template", "template", empty_ok=True),
    # where
    Option("s3_endpoint", "url"),
    Option("s3_bucket", "text"),
    Option("s3_region", "text"),
    Option("s3_access_key", "text"),
    Option("s3_secret_key", "text"),
    Option("s3_profile", "text"),
    Option("s3_sse", "choice", choices=("AES256", "aws:kms")),
    Option("s3_sse_kms_key_id", "text"),
    Option("s3_connect_timeout", "float", 0.1, 3600, example="10"),
    Option("s3_read_timeout", "float", 0.1, 3600, example="20"),
    Option("dest", "text", example="s3://bucket/prefix"),  # its form is checked by storage.destination
    Option("azure_account_url", "url"),
    Option("local_dir", "dir", writable=False),  # archive checks it writable when it opens it
    Option("cache_dir", "dir"),
    # how
    Option("workers", "int", 1, 1000, example="4"),
    Option("retries", "int", 1, 100, example="3"),
    Option("retry_budget", "float", 0, 7 * 86400, example="300"),
    Option("max_rate", "float", 0, 1e6, example="50"),
    Option("pause", "float", 0, 86400, example="2"),
    Option("dry_run", "bool"),
    Option("force", "bool"),
    Option("json", "bool"),
    Option("log_format", "choice", choices=("text", "json")),
    Option("no_ui", "bool"),
    Option("metrics_file", "out_file"),
    Option("metrics_port", "port", 1, 65535, example="9187"),
    # options of one command, not settings
    Option("target_table", "name", example="audit.events_copy"),
    Option("probe_prefix", "text", empty_ok=True),
    Option("config", "in_file"),
    Option("profile", "text"),
    Option("viewer", "bool"),
    Option("viewer_port", "int", 0, 65535, example="8765"),
    Option("host", "text", example="127.0.0.1"),
    Option("port", "int", 0, 65535, example="8765"),
    Option("token", "text"),
    Option("yes", "bool"),
    Option("append", "bool"),
    Option("allow_unverified", "bool"),
    Option("detach_only", "bool"),
    Option("batch_rows", "int", 1, 10_000_000, example="10000"),
)


def where_flag(name: str) -> str:
    return OPTIONS[name].flag if name in OPTIONS else "--" + name.replace("_", "-")


def shown(name: str, value: Any) -> str:
    """A value as it may appear in a message: secrets hidden, control characters escaped, long ones cut."""
    if name in SECRET_OPTIONS:
        return "(hidden)"
    text = repr(value) if isinstance(value, str) else _plain(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _plain(value: Any) -> str:
    text = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def _fail(said: str, problem: str) -> ConfigError:
    return ConfigError(f"{said} {problem}")


# -- parsing: a raw value (text, or what TOML gave) → the setting's type ------------------------------------------
def parse(name: str, value: Any, said: str) -> Any:
    """`value` as the option's type. `said` names where it came from ("--workers 2.7", "PGARCHIVER_WORKERS='x'",
    "config.toml: workers = 2.7"); TOML values must already have the right type, text is converted."""
    option = OPTIONS[name]
    kind = option.kind
    if kind == "bool":
        return _parse_bool(value, said)
    if kind in ("int", "port"):
        return _parse_int(option, value, said)
    if kind == "float":
        return _parse_float(option, value, said)
    if kind == "date" and isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()  # a TOML date literal: start_date = 2024-01-01
    if not isinstance(value, str):
        raise _fail(said, f"is not text; write it in quotes, e.g. {option.name} = \"{option.example or '…'}\"")
    if "\x00" in value:
        raise _fail(said, "contains a NUL character")
    return value


def _parse_bool(value: Any, said: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
    raise _fail(said, "is not true or false")


def _parse_int(option: Option, value: Any, said: str) -> int:
    example = f"; give a whole number, e.g. {option.example}" if option.example else ""
    if isinstance(value, bool):
        raise _fail(said, f"is not a whole number{example}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    raise _fail(said, f"is not a whole number{example}")


def _parse_float(option: Option, value: Any, said: str) -> float:
    example = f"; give a number, e.g. {option.example}" if option.example else ""
    if isinstance(value, bool):
        raise _fail(said, f"is not a number{example}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _fail(said, f"is not a number{example}") from None
    else:
        raise _fail(said, f"is not a number{example}")
    if not math.isfinite(number):
        raise _fail(said, f"is not a finite number{example}")
    return number


# -- checking a typed value ----------------------------------------------------------------------------------------
def check(name: str, value: Any, said: str | None = None) -> None:
    """Raise ConfigError when `value` (already of the option's type) is outside what the option accepts."""
    option = OPTIONS[name]
    said = said or f"{option.flag} {shown(name, value)}"
    if value is None:
        return
    if isinstance(value, str) and not value and not option.empty_ok:
        raise _fail(said, "is empty; give a value or leave the option out")
    if isinstance(value, str) and "\x00" in value:
        raise _fail(said, "contains a NUL character")
    problem = _problem(option, value)
    if problem:
        raise _fail(said, problem)


def _problem(option: Option, value: Any) -> str:
    kind = option.kind
    if kind in ("int", "float", "port"):
        return _range_problem(option, value)
    if kind == "choice":
        return "" if value in option.choices else f"is unknown; use one of {', '.join(option.choices)}"
    if kind == "date":
        return date_problem(value)
    if kind == "template":
        try:
            check_template(value)
        except TemplateError as exc:  # its message starts by naming the template, which `said` does already
            return str(exc).removeprefix(f"path template {value!r} ")
        return ""
    if kind == "url":
        return url_problem(value)
    if kind == "name":
        return "" if value.strip() else "is blank"
    if kind == "dir":
        return places.directory_problem(value, option.writable)
    if kind == "out_file":
        return places.output_file_problem(value)
    if kind == "in_file":
        if option.name == "db_sslrootcert" and value == "system":
            return ""  # libpq 16: the operating system's trusted roots
        return places.input_file_problem(value)
    return ""


def _range_problem(option: Option, value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    low, high = option.low, option.high
    outside = (low is not None and value < low) or (high is not None and value > high)
    if outside and option.kind == "port":
        return f"is out of range; use {_number(low)}..{_number(high)}"
    if low is not None and value < low:
        return f"must be at least {_number(low)}"
    if high is not None and value > high:
        return f"must be at most {_number(high)}"
    if option.kind == "port":
        return places.port_problem(int(value))
    return ""


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else f"{int(value or 0)}"


def date_problem(text: str) -> str:
    if not _DATE.fullmatch(text):  # fromisoformat also takes 20240101 and 2024-W01-1
        return "is not a date; use YYYY-MM-DD, e.g. 2024-01-31"
    try:
        date.fromisoformat(text)
    except ValueError:
        return "is not a date; use YYYY-MM-DD, e.g. 2024-01-31"
    return ""


def url_problem(text: str) -> str:
    fix = "give the store's URL, e.g. https://s3.example.com or http://127.0.0.1:9000"
    if _CONTROL.search(text) or " " in text:
        return f"is not a URL (it holds spaces or control characters); {fix}"
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port that is no number or out of range
    except ValueError as exc:
        return f"is not a URL ({exc}); {fix}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"is not an http(s) URL; {fix}"
    if port == 0:
        return f"has port 0; {fix}"
    if parts.query or parts.fragment:
        return f"must not have a query string or fragment; {fix}"
    return ""


def parse_text(name: str, text: str, label: str | None = None) -> Any:
    """A form field's text → the setting's value, checked; None for an empty field that may stay unset."""
    option = OPTIONS[name]
    said = f"{option.flag if label is None else label} {shown(name, text)}".strip()
    if not text and not option.empty_ok:
        return None
    value = parse(name, text, said)
    check(name, value, said)
    return value
