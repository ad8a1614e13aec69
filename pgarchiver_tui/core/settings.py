"""Settings, layered: flags > PGARCHIVER_* environment > TOML config profile > defaults.

Every value is read and checked by the one schema in schema.py, in the layer it comes from (so a message names
the flag, the variable or the config file's key); `Settings.validate` then checks the whole: every value again
(settings built in code or by the TUI), their combinations, and the local places they name.
"""

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

from pgarchiver_tui.core import places, schema
from pgarchiver_tui.core.choices import codec_choice
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.periods import Duration, Period, day_range

ENV_PREFIX = "PGARCHIVER_"
SECRET_FIELDS = ("db_password", "s3_secret_key", "s3_access_key")
MASK = "********"


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
    db_connect_timeout: int | None = None  # seconds per address tried; None: the DSN's, PGCONNECT_TIMEOUT or 10
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
    zstd_threads: int | None = None  # None: one thread beside the reading up to level 12 (codecs.zstd_threads)
    split: int = 1  # connections reading one partition at once
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
    s3_connect_timeout: float = 10.0  # seconds per request attempt: a store that never answers is given up
    s3_read_timeout: float = 20.0
    local_dir: str | None = None
    # one URL for any store: s3://BUCKET/PREFIX, az://CONTAINER/PREFIX, gs://BUCKET/PREFIX, file:///DIR or DIR
    # (parsed by storage/destination.py); Azure by AZURE_STORAGE_CONNECTION_STRING or this URL + credential chain
    dest: str | None = None
    azure_account_url: str | None = None
    cache_dir: str | None = None
    # how
    workers: int = 1
    retries: int = 3  # attempts per object for transient failures, the first included
    retry_budget: float = 300.0  # seconds: no new attempt of an object starts after this long on it
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
            conninfo = make_conninfo(self.dsn or "", host=self.db_host, port=self.db_port, user=self.db_user,
                                     password=self.db_password, dbname=self.db_name, sslmode=self.db_sslmode,
                                     sslrootcert=self.db_sslrootcert, sslcert=self.db_sslcert,
                                     sslkey=self.db_sslkey, target_session_attrs=self.db_target_session_attrs,
                                     connect_timeout=self.db_connect_timeout)
            if "connect_timeout" not in conninfo_to_dict(conninfo) and not os.environ.get("PGCONNECT_TIMEOUT"):
                # libpq waits forever by default: a server that accepts and never answers would hang a cron run
                conninfo = make_conninfo(conninfo, connect_timeout=schema.DEFAULT_DB_CONNECT_TIMEOUT)
            return conninfo
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

        if not self.table:
            raise ConfigError("no table given; use --table NAME (or schema.name)")
        return checked_table_name("--table", self.table, self.schema)

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
        """Check everything that needs no connection; raise ConfigError with one line naming the fix.

        Nothing is created or written: the local places are only looked at.
        """
        for f in fields(self):
            schema.check(f.name, getattr(self, f.name))
        self.qualified_table()
        self.requested_range()
        self.duration()
        if self.compression_level is not None:
            try:
                codec_choice(self.compression).check_level(self.compression_level)
            except ValueError as exc:
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
        if self.s3_sse_kms_key_id and self.s3_sse != "aws:kms":
            raise ConfigError("--s3-sse-kms-key-id needs --s3-sse aws:kms")
        given = [flag for flag, value in (("--dest", self.dest), ("--local-dir", self.local_dir),
                                          ("--s3-bucket", self.s3_bucket)) if value]
        if len(given) > 1:
            raise ConfigError(f"give one destination: {' and '.join(given)} both name one; keep --dest")
        if not given:
            raise ConfigError("no destination; give --dest URL (s3://BUCKET/PREFIX, az://CONTAINER/PREFIX, "
                              "gs://BUCKET/PREFIX or a directory)")
        if self.cache_dir is None and not self.dry_run:
            default = default_cache_dir()
            problem = places.directory_problem(str(default))
            if problem:
                raise ConfigError(f"the cache directory {default} {problem}; give --cache-dir DIR")
        self.conninfo()


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("pgarchiver-tui"))


def checked_table_name(flag: str, text: str, schema_name: str | None = None) -> tuple[str, str]:
    """(schema, table) of NAME or SCHEMA.NAME; one line naming `flag` when a part is empty."""
    from pgarchiver_tui.core.model import split_table_name

    schema.check("table", text, f"{flag} {schema.shown('table', text)}")
    qualified = split_table_name(text, schema_name)
    if not all(part.strip() for part in qualified):
        raise ConfigError(f"{flag} {schema.shown('table', text)} has an empty schema or table name; use NAME or "
                          "SCHEMA.NAME")
    return qualified


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
    problem = schema.date_problem(text)
    if problem:
        raise ConfigError(f"{flag} {schema.shown('start_date', text)} {problem}")
    return date.fromisoformat(text)


_FIELDS = frozenset(f.name for f in fields(Settings))


def _layer_value(name: str, value: Any, said: str) -> Any:
    """One layer's value, read and checked by the schema; `said` names where it came from."""
    typed = schema.parse(name, value, said)
    schema.check(name, typed, said)
    return typed


def with_text_values(settings: Settings, values: Mapping[str, str], labels: Mapping[str, str] | None = None,
                     ) -> Settings:
    """`settings` with fields given as typed text (a form's fields): blank means the default, the rest is read as
    the field's type. Raises ConfigError naming the field by its label."""
    defaults = Settings()
    read = {name: getattr(defaults, name) if text == "" else
            schema.parse_text(name, text, (labels or {}).get(name, name)) for name, text in values.items()}
    return replace(settings, **read)


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("pgarchiver-tui")) / "config.toml"


def read_config(path: Path, profile: str | None, explicit: bool) -> dict[str, Any]:
    """Top-level keys, overlaid with [profiles.NAME] when a profile is chosen; every value checked."""
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist; check --config")
        if profile:
            raise ConfigError(f"profile {profile!r} asked for, but there is no config file at {path}")
        return {}
    data = _parse_toml(path)
    profiles = data.pop("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"config file {path}: profiles must be tables like [profiles.NAME], not "
                          f"{schema.shown('profiles', profiles)}")
    for name, table in profiles.items():
        if not isinstance(table, dict):
            raise ConfigError(f"config file {path}: profile {name!r} must be a table [profiles.{name}] of "
                              f"settings, not {schema.shown('profile', table)}")
    values = _config_values(path, "", data)
    if profile:
        if profile not in profiles:
            raise ConfigError(f"profile {profile!r} is not in {path}; profiles there: "
                              f"{', '.join(map(repr, profiles)) or 'none'}")
        values.update(_config_values(path, f" [profiles.{profile}]", profiles[profile]))
    return values


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"config file {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
                          "save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {first_line(exc)}") from None


def _config_values(path: Path, section: str, table: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            raise ConfigError(f"config file {path}{section} has unknown setting {key!r}; the keys are the option "
                              "names, e.g. s3_bucket or workers")
        said = f"config file {path}{section}: {key} = {schema.shown(name, value)}"
        values[name] = _layer_value(name, value, said)
    return values


def load_settings(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                  config: str | None = None, profile: str | None = None) -> Settings:
    """Layer the sources; `flags` holds only what was given on the command line (text, or typed values)."""
    environ = os.environ if environ is None else environ
    profile = profile or environ.get(ENV_PREFIX + "PROFILE") or None
    config = config or environ.get(ENV_PREFIX + "CONFIG") or None
    config_path = Path(config or default_config_path()).expanduser()
    layered: dict[str, Any] = read_config(config_path, profile, explicit=bool(config))
    for name in sorted(_FIELDS):
        variable = ENV_PREFIX + name.upper()
        env_value = environ.get(variable)
        if env_value:  # VAR= (empty) leaves the setting unset, as a shell user expects
            layered[name] = _layer_value(name, env_value, f"{variable}={schema.shown(name, env_value)}")
    for name, value in flags.items():
        if value is not None and name in _FIELDS:
            flag = schema.where_flag(name)
            layered[name] = _layer_value(name, value, f"{flag} {schema.shown(name, value)}")
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
