"""Settings, layered: flags > PGARCHIVER_* environment > TOML config profile > defaults."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import platformdirs
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgarchiver_tui.core.choices import check_format, codec_choice
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.periods import Duration, Period, TemplateError, check_template, day_range

ENV_PREFIX = "PGARCHIVER_"
SECRET_FIELDS = ("db_password", "s3_secret_key", "s3_access_key")
MASK = "********"
MAX_PAUSE_SECONDS = 86_400  # longer is surely a typo (and from about 1e10 s no timer of the platform can wait)


@dataclass(frozen=True)
class Settings:
    # database
    dsn: str | None = None
    db_host: str | None = None
    db_port: int | None = None
    db_user: str | None = None
    db_password: str | None = None
    db_name: str | None = None
    db_sslmode: str | None = None
    db_sslrootcert: str | None = None
    db_sslcert: str | None = None
    db_sslkey: str | None = None
    db_target_session_attrs: str | None = None  # e.g. prefer-standby with several --db-host entries
    statement_timeout: int = 0  # milliseconds, 0 = none
    lock_timeout: int = 0
    # what
    table: str | None = None
    schema: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    date_column: str | None = None
    output_duration: str = "daily"
    include_current: bool = False
    # output
    output_format: str = "jsonl"
    compression: str = "zstd"
    compression_level: int | None = None
    zstd_threads: int = 0
    path_template: str = "{schema}/{table}/{YYYY}/{MM}"
    # where
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_profile: str | None = None
    s3_sse: str | None = None  # AES256 | aws:kms
    s3_sse_kms_key_id: str | None = None
    local_dir: str | None = None
    cache_dir: str | None = None
    # how
    workers: int = 1
    retries: int = 3  # attempts per object for transient failures, the first included
    max_rate: float = 0.0  # MB/s read from the database, all workers together; 0: unlimited
    pause: float = 0.0  # seconds between two objects of one worker
    dry_run: bool = False
    force: bool = False
    json: bool = False
    log_format: str = "text"
    no_ui: bool = False
    metrics_file: str | None = None
    metrics_port: int | None = None

    # -- derived -----------------------------------------------------------------------------------------
    def conninfo(self) -> str:
        """A libpq conninfo string: --dsn overlaid with --db-*; libpq adds PG* variables and ~/.pgpass."""
        try:
            return make_conninfo(self.dsn or "", host=self.db_host, port=self.db_port, user=self.db_user,
                                 password=self.db_password, dbname=self.db_name, sslmode=self.db_sslmode,
                                 sslrootcert=self.db_sslrootcert, sslcert=self.db_sslcert, sslkey=self.db_sslkey,
                                 target_session_attrs=self.db_target_session_attrs)
        except Exception as exc:  # noqa: BLE001 - psycopg raises ProgrammingError with libpq's text
            # libpq quotes the part it could not parse, which may be a password: never show the quoted text
            reason = re.sub(r'"([^"]*)"', lambda m: m[0] if len(m[1]) < 2 else '"…"', first_line(exc))
            raise ConfigError(f"--dsn is not a valid connection string or URL ({reason})") from None

    def database_label(self) -> str:
        """Where we are connected, for headers and logs: host:port/dbname, never a password."""
        params = conninfo_to_dict(self.conninfo())
        host = params.get("host") or os.environ.get("PGHOST") or "localhost"
        port = params.get("port") or os.environ.get("PGPORT") or "5432"
        name = params.get("dbname") or os.environ.get("PGDATABASE") or params.get("user") or "postgres"
        return f"{host}:{port}/{name}"

    def qualified_table(self) -> tuple[str, str]:
        from pgarchiver_tui.core.model import split_table_name

        if not self.table:
            raise ConfigError("no table given; use --table NAME (or schema.name)")
        return split_table_name(self.table, self.schema)

    def requested_range(self) -> Period:
        if not self.start_date or not self.end_date:
            raise ConfigError("give both --start-date and --end-date (YYYY-MM-DD, inclusive)")
        start, end = parse_date("--start-date", self.start_date), parse_date("--end-date", self.end_date)
        if end < start:
            raise ConfigError(f"--end-date {end} is before --start-date {start}; swap them")
        return day_range(start, end)

    def duration(self) -> Duration:
        try:
            return Duration(self.output_duration)
        except ValueError:
            raise ConfigError(f"unknown --output-duration {self.output_duration!r}; use one of "
                              f"{', '.join(d.value for d in Duration)}") from None

    def masked(self) -> dict[str, Any]:
        """Every setting, secrets replaced, for showing or logging."""
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in SECRET_FIELDS:
            if shown[name]:
                shown[name] = MASK
        if self.dsn:
            shown["dsn"] = mask_dsn(self.dsn)
        return shown

    def validate(self) -> None:
        """Check everything that needs no connection; raise ConfigError with one line naming the fix."""
        self.qualified_table()
        self.requested_range()
        self.duration()
        try:
            check_format(self.output_format)
            codec = codec_choice(self.compression)
            if self.compression_level is not None:
                codec.check_level(self.compression_level)
            check_template(self.path_template)
        except (ValueError, TemplateError) as exc:
            raise ConfigError(str(exc)) from None
        if self.output_format == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ConfigError("parquet needs pyarrow: pip install 'pgarchiver-tui[parquet]'") from None
        if self.metrics_file or self.metrics_port:
            try:
                import prometheus_client  # noqa: F401
            except ImportError:
                raise ConfigError("--metrics-file and --metrics-port need prometheus_client: "
                                  "pip install 'pgarchiver-tui[metrics]'") from None
        if self.workers < 1:
            raise ConfigError(f"--workers {self.workers} must be at least 1")
        if self.retries < 1:
            raise ConfigError(f"--retries {self.retries} must be at least 1 (1: no retry)")
        if self.max_rate < 0 or self.pause < 0:
            raise ConfigError("--max-rate and --pause must not be negative")
        if self.pause > MAX_PAUSE_SECONDS:
            raise ConfigError(f"--pause {self.pause:g} is more than a day between two objects; give at most "
                              f"{MAX_PAUSE_SECONDS} seconds")
        if self.s3_sse not in (None, "AES256", "aws:kms"):
            raise ConfigError(f"unknown --s3-sse {self.s3_sse!r}; use AES256 or aws:kms")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"unknown --log-format {self.log_format!r}; use text or json")
        if self.local_dir and self.s3_bucket:
            raise ConfigError("give either --local-dir or --s3-bucket, not both")
        if not self.local_dir and not self.s3_bucket:
            raise ConfigError("no destination; give --s3-bucket NAME (with --s3-endpoint for non-AWS stores) "
                              "or --local-dir DIR")
        self.conninfo()


def first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


def mask_dsn(dsn: str) -> str:
    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - an unparsable DSN is shown as nothing at all
        return MASK
    if "password" in params:
        params["password"] = MASK
    return make_conninfo("", **params)


def parse_date(flag: str, text: str) -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):  # fromisoformat also takes 20240101 and 2024-W01-1
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a date; use YYYY-MM-DD, e.g. 2024-01-31") from None


_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any, origin: str) -> Any:
    kind = _FIELD_TYPES[name]
    try:
        if "bool" in kind:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if "float" in kind:
            return float(value)
        if "int" in kind:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        return str(value)
    except ValueError:
        raise ConfigError(f"{origin}: {value!r} is not a valid value for {name}") from None


def with_text_values(settings: Settings, values: Mapping[str, str], labels: Mapping[str, str] | None = None,
                     ) -> Settings:
    """`settings` with fields given as typed text (a form's fields): blank means the default, the rest is read as
    the field's type. Raises ConfigError naming the field by its label."""
    defaults = Settings()
    read = {name: getattr(defaults, name) if text == "" else _coerce(name, text, (labels or {}).get(name, name))
            for name, text in values.items()}
    return replace(settings, **read)


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("pgarchiver-tui")) / "config.toml"


def read_config(path: Path, profile: str | None, explicit: bool) -> dict[str, Any]:
    """Top-level keys, overlaid with [profiles.NAME] when a profile is chosen."""
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist; check --config")
        if profile:
            raise ConfigError(f"profile {profile!r} asked for, but there is no config file at {path}")
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    profiles = data.pop("profiles", {})
    values = {k.replace("-", "_"): v for k, v in data.items()}
    if profile:
        if profile not in profiles:
            raise ConfigError(f"profile {profile!r} is not in {path}; profiles there: "
                              f"{', '.join(profiles) or 'none'}")
        values.update({k.replace("-", "_"): v for k, v in profiles[profile].items()})
    unknown = sorted(set(values) - set(_FIELD_TYPES))
    if unknown:
        raise ConfigError(f"config file {path} has unknown setting(s) {', '.join(unknown)}")
    return {k: _coerce(k, v, str(path)) for k, v in values.items()}


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                  config: str | None = None, profile: str | None = None) -> Settings:
    """Layer the sources; `flags` holds only what was given on the command line."""
    environ = os.environ if environ is None else environ
    profile = profile or environ.get(ENV_PREFIX + "PROFILE")
    config_path = Path(config or environ.get(ENV_PREFIX + "CONFIG") or default_config_path()).expanduser()
    explicit = bool(config or environ.get(ENV_PREFIX + "CONFIG"))
    layered: dict[str, Any] = read_config(config_path, profile, explicit)
    for name in _FIELD_TYPES:
        env_value = environ.get(ENV_PREFIX + name.upper())
        if env_value is not None:
            layered[name] = _coerce(name, env_value, ENV_PREFIX + name.upper())
    for name, value in flags.items():
        if value is not None and name in _FIELD_TYPES:
            layered[name] = value
    return replace(Settings(), **layered)


def save_profile(path: Path, profile: str, settings: Settings, include_secrets: bool = False) -> None:
    """Write `settings` as [profiles.NAME]; secrets only when asked. The file is made mode 0600."""
    import tomli_w

    data: dict[str, Any] = tomllib.loads(path.read_text()) if path.exists() else {}
    defaults = Settings()
    entry = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is None or value == getattr(defaults, f.name) or f.name in ("json", "no_ui", "dry_run", "force"):
            continue
        if f.name in SECRET_FIELDS and not include_secrets:
            continue
        if f.name == "dsn" and not include_secrets:
            value = _dsn_without_password(value)
        entry[f.name] = value
    data.setdefault("profiles", {})[profile] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        tomli_w.dump(data, out)
    os.replace(temp, path)


def _dsn_without_password(dsn: str) -> str:
    params = conninfo_to_dict(dsn)
    params.pop("password", None)
    return make_conninfo("", **params)
