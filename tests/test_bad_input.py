"""Every bad input is answered by one line on stderr and exit 2, before anything is created or written.

The table holds the inputs of issue 15 (tracebacks, values silently accepted, wrong exit codes) and more, for
every layer a value can come from: flags, PGARCHIVER_* variables, the TOML config file and its profiles. Each
case runs the real command line (`cli.main`) in a scratch directory whose whole tree is compared before and
after. The database named is a closed port: an input that slipped through validation would end in exit 3
(database unreachable), not 2.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pgarchiver_tui.cli import main

REPO = Path(__file__).resolve().parent.parent
NO_DATABASE = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens on port 1: connecting fails at once
SECRET = "pw-Zq8xK2vNr7"


def tree(root: Path) -> dict[str, tuple[bool, int]]:
    """Every path under `root` with whether it is a directory and its size: what was created or written."""
    return {p.relative_to(root).as_posix(): (p.is_dir(), 0 if p.is_dir() else p.stat().st_size)
            for p in sorted(root.rglob("*"))}


@dataclass
class Case:
    changes: dict[str, str | None]  # flags to set (None: leave the flag out)
    message: str  # a part of the one line
    command: str = "archive"
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # written into the scratch directory first
    extra: list[str] = field(default_factory=list)
    code: int = 2


def argv(case: Case) -> list[str]:
    options: dict[str, str | None] = {"--dsn": NO_DATABASE, "--table": "events", "--start-date": "2024-01-01",
                                      "--end-date": "2024-01-02", "--local-dir": "archive", **case.changes}
    args = [case.command, "--no-ui"]
    for flag, value in options.items():
        if value is not None:
            args += [flag, value]
    return args + case.extra


S3 = {"--local-dir": None, "--s3-bucket": "archive"}

CASES: dict[str, Case] = {
    # path templates: placeholders only, and no way out of the prefix
    "format spec {table:>300}": Case({"--path-template": "{table:>300}"}, "placeholders take no format spec"),
    "format spec {YYYY:d}": Case({"--path-template": "{YYYY:d}"}, "write {YYYY}"),
    "conversion {table!r}": Case({"--path-template": "{table!r}"}, "placeholders take no format spec or conversion"),
    "padding spells ..": Case({"--path-template": "{table:.<2.0}/{schema:.<2.0}/x"}, "no format spec"),
    "validate: format spec": Case({"--path-template": "{table:>300}"}, "no format spec", command="validate"),
    "template with a . segment": Case({"--path-template": "a/./{table}"}, "'.' or '..' segments"),
    "template with ..": Case({"--path-template": "{table}/../x"}, "'.' or '..' segments"),
    "absolute template": Case({"--path-template": "/etc/{table}"}, "must be relative"),
    "template with //": Case({"--path-template": "a//{table}"}, "empty segment"),
    "template with a newline": Case({"--path-template": "a\nb/{table}"}, "control character"),
    "template with a backslash": Case({"--path-template": "a\\..\\{table}"}, "backslash"),
    "index placeholder": Case({"--path-template": "{0}"}, "unknown placeholder {0}"),
    "attribute placeholder": Case({"--path-template": "{table.upper}"}, "unknown placeholder"),
    # URLs
    "endpoint notaurl": Case({**S3, "--s3-endpoint": "notaurl"}, "--s3-endpoint 'notaurl' is not an http(s) URL"),
    "validate: endpoint notaurl": Case({**S3, "--s3-endpoint": "notaurl"}, "not an http(s) URL", command="validate"),
    "endpoint ftp": Case({**S3, "--s3-endpoint": "ftp://store"}, "not an http(s) URL"),
    "endpoint without host": Case({**S3, "--s3-endpoint": "http://"}, "not an http(s) URL"),
    "endpoint port out of range": Case({**S3, "--s3-endpoint": "http://h:99999"}, "is not a URL (Port out of range"),
    "endpoint with a query": Case({**S3, "--s3-endpoint": "http://h/?x=1"}, "must not have a query string"),
    "endpoint with a space": Case({**S3, "--s3-endpoint": "http://h x"}, "spaces or control characters"),
    # local places: found before --local-dir is created
    "cache dir is a file": Case({"--cache-dir": "a-file"}, "--cache-dir 'a-file' is not a directory",
                                files={"a-file": b"x"}),
    "cache dir under a file": Case({"--cache-dir": "a-file/cache"}, "cannot be created: a-file is not a directory",
                                   files={"a-file": b"x"}),
    "local dir is a file": Case({"--local-dir": "a-file"}, "--local-dir 'a-file' is not a directory",
                                files={"a-file": b"x"}),
    "metrics file in a missing dir": Case({"--metrics-file": "/nonexistent/x.prom"},
                                          "--metrics-file '/nonexistent/x.prom' cannot be written: directory "
                                          "/nonexistent does not exist"),
    "metrics file is a directory": Case({"--metrics-file": "a-dir"}, "is a directory", files={"a-dir/x": b""}),
    "metrics port -1": Case({"--metrics-port": "-1"}, "--metrics-port '-1' is out of range; use 1..65535"),
    "metrics port 0": Case({"--metrics-port": "0"}, "out of range"),
    "metrics port 65536": Case({"--metrics-port": "65536"}, "out of range"),
    "metrics port text": Case({"--metrics-port": "http"}, "is not a whole number"),
    "missing TLS root certificate": Case({"--db-sslrootcert": "/nonexistent/root.crt"}, "does not exist"),
    "unknown home": Case({"--local-dir": "~no-such-user-x/archive"}, "unknown user"),
    # numbers: types, finite, ranges
    "max rate nan": Case({"--max-rate": "nan"}, "--max-rate 'nan' is not a finite number"),
    "max rate inf": Case({"--max-rate": "inf"}, "not a finite number"),
    "max rate 1e309": Case({"--max-rate": "1e309"}, "not a finite number"),
    "max rate negative": Case({"--max-rate": "-1"}, "must be at least 0"),
    "max rate words": Case({"--max-rate": "fast"}, "is not a number"),
    "pause negative": Case({"--pause": "-0.5"}, "must be at least 0"),
    "workers 2.7": Case({"--workers": "2.7"}, "--workers '2.7' is not a whole number"),
    "workers 0": Case({"--workers": "0"}, "must be at least 1"),
    "workers huge": Case({"--workers": "99999999999999999999"}, "must be at most 1000"),
    "retries 0": Case({"--retries": "0"}, "must be at least 1"),
    "retry budget negative": Case({"--retry-budget": "-1"}, "must be at least 0"),
    "zstd threads -3": Case({"--zstd-threads": "-3"}, "--zstd-threads '-3' must be at least 0"),
    "statement timeout -5": Case({"--statement-timeout": "-5"}, "--statement-timeout '-5' must be at least 0"),
    "statement timeout past int4": Case({"--statement-timeout": str(2**31)}, "must be at most 2147483647"),
    "lock timeout text": Case({"--lock-timeout": "5s"}, "is not a whole number"),
    "connect timeout 0": Case({"--db-connect-timeout": "0"}, "must be at least 2"),
    "S3 read timeout 0": Case({**S3, "--s3-read-timeout": "0"}, "must be at least 0.1"),
    "db port 0": Case({"--db-port": "0"}, "must be at least 1"),
    "db port 70000": Case({"--db-port": "70000"}, "must be at most 65535"),
    "compression level 99": Case({"--compression-level": "99"}, "out of range for zstd; use 1..22"),
    # names and choices
    "empty table": Case({"--table": ""}, "--table '' is empty"),
    "table without name": Case({"--table": "public."}, "has an empty schema or table name"),
    "blank schema": Case({"--schema": "  "}, "is blank"),
    "table with NUL": Case({"--table": "ev\x00ents"}, "NUL"),
    "unknown sslmode": Case({"--db-sslmode": "sometimes"}, "is unknown; use one of disable"),
    "unknown duration": Case({"--output-duration": "fortnightly"}, "invalid choice: 'fortnightly'"),
    "KMS key without aws:kms": Case({**S3, "--s3-sse-kms-key-id": "k"}, "needs --s3-sse aws:kms"),
    "both destinations": Case({"--s3-bucket": "archive"}, "give one destination"),
    # dates
    "February 30": Case({"--start-date": "2024-02-30"}, "--start-date '2024-02-30' is not a date"),
    "year 10000": Case({"--end-date": "10000-01-01"}, "is not a date"),
    "verify: year 10000": Case({"--end-date": "10000-01-01"}, "is not a date", command="verify"),
    "date with a space": Case({"--start-date": " 2024-01-01"}, "is not a date"),
    "end before start": Case({"--start-date": "2024-01-02", "--end-date": "2024-01-01"}, "is before"),
    # restore's own options
    "restore into ''": Case({}, "argument --target-table: '' is empty", command="restore",
                            extra=["--target-table", ""]),
    "restore into 'public.'": Case({"--local-dir": "a-dir"}, "--target-table 'public.' has an empty", command="restore",
                                   extra=["--target-table", "public."], files={"a-dir/x": b""}),
    "health probe prefix with NUL": Case({}, "NUL", command="health", extra=["--probe-prefix", "a\x00"]),
    # the environment
    "env workers 2.7": Case({}, "PGARCHIVER_WORKERS='2.7' is not a whole number", env={"PGARCHIVER_WORKERS": "2.7"}),
    "env max rate nan": Case({}, "PGARCHIVER_MAX_RATE='nan' is not a finite number", env={"PGARCHIVER_MAX_RATE": "nan"}),
    "env dry run maybe": Case({}, "PGARCHIVER_DRY_RUN='maybe' is not true or false",
                              env={"PGARCHIVER_DRY_RUN": "maybe"}),
    "env template": Case({}, "PGARCHIVER_PATH_TEMPLATE='{table!s}'", env={"PGARCHIVER_PATH_TEMPLATE": "{table!s}"}),
    "env profile missing": Case({}, "profile 'nope' asked for", env={"PGARCHIVER_PROFILE": "nope"}),
    # the config file
    "config not UTF-8": Case({"--config": "c.toml"}, "is not UTF-8 text (byte 0xff on line 2)",
                             files={"c.toml": b"workers = 2\n# \xff\xfe\n"}),
    "config not TOML": Case({"--config": "c.toml"}, "is not valid TOML", files={"c.toml": b"workers = \n"}),
    "config is a directory": Case({"--config": "a-dir"}, "cannot be read", files={"a-dir/x": b""}),
    "config missing": Case({"--config": "nope.toml"}, "does not exist"),
    "profiles = 3": Case({"--config": "c.toml"}, "profiles must be tables like [profiles.NAME], not 3",
                         files={"c.toml": b"profiles = 3\n"}),
    "profile p1 = 5": Case({"--config": "c.toml", "--profile": "p1"}, "profile 'p1' must be a table",
                           files={"c.toml": b"[profiles]\np1 = 5\n"}),
    "profile p1 = 5, another chosen": Case({"--config": "c.toml"}, "profile 'p1' must be a table",
                                           files={"c.toml": b"[profiles]\np1 = 5\n"}),
    "config workers = 2.7": Case({"--config": "c.toml"}, "c.toml: workers = 2.7 is not a whole number",
                                 files={"c.toml": b"workers = 2.7\n"}),
    "config workers = true": Case({"--config": "c.toml"}, "workers = True is not a whole number",
                                  files={"c.toml": b"workers = true\n"}),
    "config local_dir list": Case({"--config": "c.toml", "--local-dir": None}, "local_dir = ['a', 'b'] is not text",
                                  files={"c.toml": b'local_dir = ["a", "b"]\n'}),
    "config local_dir list, dry run": Case({"--config": "c.toml", "--local-dir": None}, "is not text",
                                           files={"c.toml": b'local_dir = ["a", "b"]\n'}, extra=["--dry-run"]),
    "config max_rate nan": Case({"--config": "c.toml"}, "max_rate = nan is not a finite number",
                                files={"c.toml": b"max_rate = nan\n"}),
    "config unknown key": Case({"--config": "c.toml"}, "unknown setting 'wrokers'", files={"c.toml": b"wrokers = 2\n"}),
    "config table for a value": Case({"--config": "c.toml"}, "unknown setting 's3'",
                                     files={"c.toml": b"[s3]\nbucket = 'x'\n"}),
    "profile value": Case({"--config": "c.toml", "--profile": "p"}, "[profiles.p]: zstd_threads = -3 must be at least 0",
                          files={"c.toml": b"[profiles.p]\nzstd_threads = -3\n"}),
    "config date": Case({"--config": "c.toml", "--start-date": None}, "start_date = '2024-13-01' is not a date",
                        files={"c.toml": b"start_date = '2024-13-01'\n"}),
}


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory of the command: relative paths land here, and nothing may."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def refused(capsys: pytest.CaptureFixture[str], root: Path, args: list[str], message: str, code: int = 2) -> str:
    """Run the command; one line naming the problem, exit `code`, and nothing created anywhere under `root`."""
    before = tree(root)
    capsys.readouterr()
    try:
        result = main(args)
    except SystemExit as exit:  # argparse's own refusals (choices) leave this way
        result = exit.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert (result, len(lines)) == (code, 1), err
    assert lines[0].startswith("pgarchiver-tui") and message in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    assert tree(root) == before
    return lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_nothing_written(name: str, scratch: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    for path, data in case.files.items():
        (scratch / path).parent.mkdir(parents=True, exist_ok=True)
        (scratch / path).write_bytes(data)
    for variable, value in case.env.items():
        monkeypatch.setenv(variable, value)
    refused(capsys, tmp_path, argv(case), case.message, case.code)


@pytest.fixture
def port_in_use() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize("command", ["archive", "validate"])
def test_a_metrics_port_in_use_is_found_up_front(command: str, port_in_use: int, scratch: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    refused(capsys, tmp_path, argv(Case({"--metrics-port": str(port_in_use)}, "", command=command)),
            f"--metrics-port '{port_in_use}' is in use on 127.0.0.1")


@pytest.mark.parametrize("flag", ["--db-pass", "--ds", "--s3-secret", "--s3-access"])
def test_abbreviated_secret_flags_are_refused_without_echoing_the_value(
        flag: str, scratch: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, tmp_path, argv(Case({}, "", extra=[flag, SECRET])), f"unrecognized option(s) {flag}")
    assert SECRET not in line
    line = refused(capsys, tmp_path, argv(Case({}, "", extra=[f"{flag}={SECRET}"])), "unrecognized option(s)")
    assert SECRET not in line


def test_masking_covers_every_spelling_of_a_secret_flag() -> None:
    from pgarchiver_tui.cli import masked_argv

    shown = masked_argv(["--db-pass", SECRET, f"--s3-secret={SECRET}", "--ds", f"postgresql://u:{SECRET}@h/db",
                         "--db-password", SECRET, "--table", "events"])
    assert SECRET not in " ".join(shown), shown
    assert shown[-2:] == ["--table", "events"]


def test_a_cache_dir_on_a_read_only_file_system_is_refused_before_the_local_dir_is_made(tmp_path: Path) -> None:
    """A read-only tmpfs mounted in a private mount namespace (unshare): the real EROFS, nothing faked."""
    read_only = tmp_path / "ro"
    read_only.mkdir()
    archive = tmp_path / "archive"
    namespace = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--mount", "--map-root-user"]
    command = (f"mount -t tmpfs -o ro,size=1m none {read_only} && exec {sys.executable} -m pgarchiver_tui --no-ui "
               f"--dsn {NO_DATABASE} --table events --start-date 2024-01-01 --end-date 2024-01-02 "
               f"--local-dir {archive} --cache-dir {read_only}/cache")
    done = subprocess.run([*namespace, "sh", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=60)
    lines = done.stderr.splitlines()
    assert (done.returncode, len(lines)) == (2, 1), done.stderr
    assert f"--cache-dir '{read_only}/cache' cannot be created: {read_only} is on a read-only file system" \
        in lines[0], lines[0]
    assert not archive.exists()


# -- inputs at the edges that are no error ------------------------------------------------------------------------

@pytest.mark.parametrize("changes", [{"--end-date": "9999-12-31"}, {"--start-date": "0001-01-01"},
                                     {"--start-date": "9999-12-31", "--end-date": "9999-12-31"},
                                     {"--path-template": ""}, {"--db-sslrootcert": "system"}])
def test_validate_accepts_the_edges(changes: dict[str, str], scratch: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(tmp_path)
    capsys.readouterr()
    assert main(argv(Case(changes, "", command="validate"))) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == "configuration is valid\n"
    assert tree(tmp_path) == before


def test_toml_dates_and_profiles_are_read(scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (scratch / "c.toml").write_text("start_date = 2024-01-01\nend_date = 2024-01-02\n\n[profiles.p]\nworkers = 2\n")
    capsys.readouterr()
    code = main(["validate", "--config", "c.toml", "--profile", "p", "--dsn", NO_DATABASE, "--table", "events",
                 "--local-dir", "archive"])
    assert code == 0, capsys.readouterr().err


def test_an_empty_variable_leaves_the_setting_unset(scratch: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGARCHIVER_WORKERS", "")
    monkeypatch.setenv("PGARCHIVER_S3_ENDPOINT", "")
    capsys.readouterr()
    assert main(argv(Case({}, "", command="validate"))) == 0, capsys.readouterr().err


def test_every_setting_has_its_place_in_the_schema() -> None:
    from dataclasses import fields

    from pgarchiver_tui.core.schema import OPTIONS
    from pgarchiver_tui.core.settings import Settings

    assert {f.name for f in fields(Settings)} <= set(OPTIONS)


def test_every_option_of_the_command_line_is_in_the_schema() -> None:
    from pgarchiver_tui.cli import build_parser
    from pgarchiver_tui.core.schema import OPTIONS

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices  # noqa: SLF001
    flags = {option for sub in commands.values() for action in sub._actions  # noqa: SLF001
             for option in action.option_strings if option.startswith("--")}
    unchecked = {flag for flag in flags if flag[2:].replace("-", "_") not in OPTIONS}
    assert unchecked <= {"--help", "--version", "--deep"}, unchecked



@pytest.mark.parametrize("duration", ["daily", "weekly", "monthly", "yearly"])
def test_the_last_period_before_the_year_10000_is_archived_whole_and_verified(
        duration: str, pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.archive_support import archive_args, command, execute, run_cli

    execute(pg_dsn, "CREATE TABLE far (id int, at timestamp NOT NULL)",
            "INSERT INTO far VALUES (1, '9999-12-31 00:00'), (2, '9999-12-31 23:59:59.999999'), "
            "(3, '10000-01-01'), (4, '2024-01-01')")
    where = ["--local-dir", str(tmp_path / "archive"), "--cache-dir", str(tmp_path / "cache")]
    run = run_cli(capsys, *archive_args(pg_dsn, "far", "9999-12-31", "9999-12-31", date_column="at",
                                        output_duration=duration, include_current=True), *where)
    assert run.code == 0, run.err
    [archived] = run.objects("archived")
    assert archived["rows"] == 2 and archived["period_end"] == "9999-12-31T23:59:59.999999", archived
    verified = command(capsys, "verify", "--dsn", pg_dsn, "--table", "far", "--date-column", "at", "--end-date",
                       "9999-12-31", "--start-date", "9999-01-01", *where)
    assert verified.code == 0, verified.err
