"""Command line: parse arguments → Settings → run a command, headless or in the TUI."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import FrameType
from typing import Any, NoReturn

from pgarchiver_tui import __version__
from pgarchiver_tui.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, ArchiverError
from pgarchiver_tui.core.events import Event
from pgarchiver_tui.core.settings import Settings, load_settings
from pgarchiver_tui.render.metrics import RunMetrics, serve, write_textfile
from pgarchiver_tui.render.report import (
    HeadlessReporter,
    exit_code,
    json_report,
)

PROG = "pgarchiver-tui"
Handler = Callable[[argparse.Namespace], int]


def add_database_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("database (libpq's PG* variables and ~/.pgpass apply too)")
    group.add_argument("--dsn", help="connection URL or conninfo string")
    group.add_argument("--db-host")
    group.add_argument("--db-port", type=int)
    group.add_argument("--db-user")
    group.add_argument("--db-password", help="prefer PGPASSWORD or ~/.pgpass: flags show up in `ps`")
    group.add_argument("--db-name")
    group.add_argument("--db-sslmode")
    group.add_argument("--db-sslrootcert", metavar="FILE")
    group.add_argument("--db-sslcert", metavar="FILE")
    group.add_argument("--db-sslkey", metavar="FILE")
    group.add_argument("--db-target-session-attrs", metavar="ATTRS",
                       help="libpq's target_session_attrs, e.g. prefer-standby to read from a replica")
    group.add_argument("--statement-timeout", type=int, metavar="MS")
    group.add_argument("--lock-timeout", type=int, metavar="MS")


def add_table_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("what")
    group.add_argument("--table", help="base table name, or schema.table")
    group.add_argument("--schema", help="schema of --table (default public)")
    group.add_argument("--start-date", metavar="YYYY-MM-DD", help="first day, inclusive")
    group.add_argument("--end-date", metavar="YYYY-MM-DD", help="last day, inclusive")
    group.add_argument("--date-column", help="column that dates each row: splits partitions and plain tables")
    group.add_argument("--output-duration", choices=["hourly", "daily", "weekly", "monthly", "yearly"])
    group.add_argument("--include-current", action="store_true", default=None,
                       help="also archive the current, still-open period")


def add_destination_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where (the AWS credential chain, AWS_PROFILE and AWS_ENDPOINT_URL_S3 apply)")
    group.add_argument("--s3-endpoint", help="URL of an S3-compatible store; omit for AWS")
    group.add_argument("--s3-bucket")
    group.add_argument("--s3-region")
    group.add_argument("--s3-access-key")
    group.add_argument("--s3-secret-key", help="prefer AWS_SECRET_ACCESS_KEY or a profile: flags show up in `ps`")
    group.add_argument("--s3-profile", help="a profile of ~/.aws/config (default: AWS_PROFILE)")
    group.add_argument("--s3-sse", choices=["AES256", "aws:kms"], help="server-side encryption")
    group.add_argument("--s3-sse-kms-key-id", metavar="KEY", help="KMS key for --s3-sse aws:kms")
    group.add_argument("--local-dir", metavar="DIR", help="write to a directory instead of S3")
    group.add_argument("--path-template", help="object key prefix, e.g. 'archives/{table}/{YYYY}/{MM}'")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("how")
    group.add_argument("--no-ui", action="store_true", default=None, help="run headless (for cron and scripts)")
    group.add_argument("--workers", type=int, metavar="N", help="objects archived at once (default 1)")
    group.add_argument("--retries", type=int, metavar="N",
                       help="attempts per object for transient failures, the first included (default 3)")
    group.add_argument("--max-rate", type=float, metavar="MB_S", help="read at most this many MB/s in all")
    group.add_argument("--pause", type=float, metavar="SECONDS", help="pause between objects, per worker")
    group.add_argument("--dry-run", action="store_true", default=None, help="read and compress, write nothing")
    group.add_argument("--json", action="store_true", default=None, help="print a JSON run report on stdout")
    group.add_argument("--log-format", choices=["text", "json"])
    group.add_argument("--config", metavar="FILE", help="TOML config file (default: the user config dir)")
    group.add_argument("--profile", help="a [profiles.NAME] table of the config file")
    group.add_argument("--cache-dir", metavar="DIR", help="where the archive cache lives")
    group.add_argument("--metrics-file", metavar="PATH",
                       help="write Prometheus metrics there at the end (node_exporter textfile collector)")
    group.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on 127.0.0.1")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--output-format", help="jsonl (default), csv or parquet")
    group.add_argument("--compression", help="zstd (default), gzip, lz4 or none")
    group.add_argument("--compression-level", type=int)
    group.add_argument("--zstd-threads", type=int, metavar="N", help="zstd worker threads (0: none)")
    group.add_argument("--force", action="store_true", default=None,
                       help="archive again what the cache says is done")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line that names the problem and where to look, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description="Archive PostgreSQL date partitions to S3-compatible storage or a directory.",
        epilog="exit codes: 0 all archived or skipped, 1 a failure, 2 bad usage or configuration, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    archive = commands.add_parser("archive", help="archive partitions (the default command)")
    for add in (add_database_options, add_table_options, add_output_options, add_destination_options,
                add_run_options):
        add(archive)
    archive.set_defaults(handler=run_archive_command)
    demo = commands.add_parser("demo", help="archive a seeded table of a throwaway PostgreSQL into a directory")
    demo.add_argument("--no-ui", action="store_true", default=None, help="run headless")
    demo.add_argument("--local-dir", metavar="DIR", help="where the demo archive goes")
    demo.add_argument("--workers", type=int, default=2, metavar="N")
    demo.add_argument("--json", action="store_true", default=None)
    demo.set_defaults(handler=run_demo_command)
    health = commands.add_parser("health", help="check database, destination and cache; exit 0 or 1")
    for add in (add_database_options, add_table_options, add_destination_options, add_run_options):
        add(health)
    health.add_argument("--probe-prefix", default=".pgarchiver-health/",
                        help="where the destination probe object is written and removed")
    health.set_defaults(handler=run_health_command)
    validate = commands.add_parser("validate", help="check the configuration without connecting; exit 0 or 2")
    for add in (add_database_options, add_table_options, add_output_options, add_destination_options,
                add_run_options):
        add(validate)
    validate.set_defaults(handler=run_validate_command)
    verify = commands.add_parser("verify", help="read archived objects back and prove them; exit 0 clean, 1 problems")
    for add in (add_database_options, add_table_options, add_destination_options, add_run_options):
        add(verify)
    verify.add_argument("--deep", action="store_true",
                        help="also compare every row with the live table (order-independent row fingerprints)")
    verify.set_defaults(handler=run_verify_command)
    restore = commands.add_parser("restore", help="put archived periods back into PostgreSQL")
    for add in (add_database_options, add_table_options, add_destination_options, add_run_options):
        add(restore)
    restore.add_argument("--target-table", metavar="NAME",
                         help="restore into this table (schema.name) instead of the archived one")
    restore.set_defaults(handler=run_restore_command)
    return parser


COMMANDS = ("archive", "demo", "health", "validate", "verify", "restore")


SECRET_FLAGS = ("--db-password", "--s3-secret-key", "--s3-access-key", "--dsn")


def masked_argv(args: Sequence[str]) -> list[str]:
    """The command line with the values of secret flags (and a DSN's password) replaced."""
    from pgarchiver_tui.core.settings import MASK, mask_dsn

    shown, hide_next = [], ""
    for arg in args:
        flag, eq, value = arg.partition("=")
        if hide_next:
            shown.append(mask_dsn(arg) if hide_next == "--dsn" else MASK)
            hide_next = ""
        elif flag in SECRET_FLAGS and eq:
            shown.append(f"{flag}={mask_dsn(value) if flag == '--dsn' else MASK}")
        else:
            shown.append(arg)
            hide_next = arg if arg in SECRET_FLAGS else ""
    return shown


def hide_secrets_from_ps(args: Sequence[str]) -> None:
    """Rewrite the process title (what `ps` and /proc/PID/cmdline show) when a secret was given as a flag."""
    shown = masked_argv(args)
    if shown == list(args):
        return
    import setproctitle

    setproctitle.setproctitle(" ".join([PROG, *shown]))


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        hide_secrets_from_ps(sys.argv[1:])
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in COMMANDS and args_list[0] not in ("-h", "--help", "--version")):
        args_list.insert(0, "archive")
    args = build_parser().parse_args(args_list)
    handler: Handler = args.handler
    try:
        with _interrupt_on(signal.SIGTERM, signal.SIGHUP):
            return handler(args)
    except KeyboardInterrupt:  # before a run took the signals over: every `finally` has run, servers stopped
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


class _interrupt_on:
    """SIGTERM and SIGHUP (a closed terminal, a dropped SSH session) interrupt like Ctrl-C does, so that the
    `finally` blocks that stop child processes (the demo's PostgreSQL) run; a run in progress takes the
    signals over to stop cleanly (`_stop_on_signals`, the TUI's own handlers)."""

    def __init__(self, *signums: int) -> None:
        self.signums = signums
        self.previous: dict[int, object] = {}

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    def __enter__(self) -> _interrupt_on:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signums:
                self.previous[signum] = signal.signal(signum, self._raise)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


def terminal_problem() -> str | None:
    """Why the TUI cannot start here, or None: it needs a terminal to read keys from and to draw on."""
    streams = {"stdin": sys.stdin, "stdout": sys.stdout, "stderr": sys.stderr}
    missing = [name for name, stream in streams.items() if stream is None or not stream.isatty()]
    if missing:
        what = f"{missing[0]} is not a terminal" if len(missing) == 1 else f"{', '.join(missing)} are not terminals"
        return f"no terminal to show the UI on ({what}); add --no-ui to run headless, e.g. from cron"
    return None


def fail(message: str, code: int = EXIT_USAGE, as_json: bool = False) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"exit_code": code, "error": message}))
    return code


def usage_or_failure(exc: ArchiverError) -> int:
    """Bad input is 2; a failure met on the way (a lock timeout during discovery, say) is 1."""
    return EXIT_USAGE if exc.category in ("configuration", "permission") else EXIT_FAILED


def settings_from(args: argparse.Namespace) -> Settings:
    flags = {k: v for k, v in vars(args).items() if k not in ("handler", "command", "config", "profile")}
    return load_settings(flags, config=getattr(args, "config", None), profile=getattr(args, "profile", None))


def run_archive_command(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
    except ArchiverError as exc:
        return fail(str(exc), as_json=bool(args.json))
    if not settings.no_ui:
        if problem := terminal_problem():
            return fail(problem)
        return open_tui(settings)
    return run_headless(settings)


def open_tui(settings: Settings) -> int:
    from pgarchiver_tui.tui.app import run_app

    return run_app(settings)


def run_headless(settings: Settings, reporter: HeadlessReporter | None = None) -> int:
    from pgarchiver_tui.commands.archive.prepare import prepare

    reporter = reporter or HeadlessReporter(log_format=settings.log_format)
    try:
        prepared = prepare(settings)
    except ArchiverError as exc:
        return fail(str(exc), usage_or_failure(exc), as_json=settings.json)
    metrics = RunMetrics(".".join(settings.qualified_table()))
    server = serve(metrics, settings.metrics_port) if settings.metrics_port else None
    def emit(event: Event) -> None:
        reporter(event)
        metrics(event)

    run = prepared.run(emit)
    try:
        with _stop_on_signals(run.cancel):
            finished = run.run()
    finally:
        if server is not None:
            server.shutdown()
    if settings.metrics_file:
        write_textfile(settings.metrics_file, metrics.render())
    if prepared.cache:
        prepared.cache.close()
    if settings.json:
        print(json_report(finished, {"destination": prepared.storage.url,
                                     "database": settings.database_label()}))
    return exit_code(finished)


class _stop_on_signals:
    """First SIGINT/SIGTERM/SIGHUP: stop cleanly (cancel queries, abort uploads). Second: leave at once,
    child processes stopped first."""

    def __init__(self, cancel: Callable[[], None]) -> None:
        self.cancel = cancel
        self.previous: dict[int, object] = {}
        self.count = 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            from pgarchiver_tui.db.throwaway import stop_all

            stop_all()
            os._exit(EXIT_INTERRUPTED)
        print(f"{PROG}: stopping: cancelling running queries and uploads (again to quit at once)",
              file=sys.stderr, flush=True)
        self.cancel()

    def __enter__(self) -> _stop_on_signals:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


def run_health_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.commands.health import run_checks

    try:
        settings = settings_from(args)
    except ArchiverError as exc:
        return fail(str(exc))
    checks = run_checks(settings, args.probe_prefix)
    for check in checks:
        print(f"{'ok  ' if check.ok else 'FAIL'} {check.name:<12} {check.detail}")
    return 0 if all(check.ok for check in checks) else 1


def run_validate_command(args: argparse.Namespace) -> int:
    try:
        settings_from(args).validate()
    except ArchiverError as exc:
        return fail(str(exc))
    print("configuration is valid")
    return 0


def run_demo_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.commands.demo import demo_database

    if not args.no_ui and (problem := terminal_problem()):
        return fail(problem)  # before a server is started for nothing
    try:
        with demo_database(args.local_dir, args.workers) as settings:
            if not args.no_ui:
                return open_tui(settings)
            code = run_headless(replace(settings, json=bool(args.json)))
            print(f"pgarchiver-tui demo: the archive is in {settings.local_dir}", file=sys.stderr, flush=True)
            return code
    except ArchiverError as exc:
        return fail(str(exc))


def run_verify_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.commands.verify import prepare_verify
    from pgarchiver_tui.render.result_log import VerifyLog

    return _run_reading_back(args, lambda settings, reporter: prepare_verify(
        settings, bool(args.deep), VerifyLog(reporter)))


def run_restore_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.commands.restore import prepare_restore
    from pgarchiver_tui.render.result_log import RestoreLog

    return _run_reading_back(args, lambda settings, reporter: prepare_restore(
        settings, args.target_table, RestoreLog(reporter)))


def _run_reading_back(args: argparse.Namespace, prepare: Callable[[Settings, HeadlessReporter], Any]) -> int:
    """verify and restore, headless (with or without --no-ui until the TUI offers them)."""
    try:
        settings = settings_from(args)
        reporter = HeadlessReporter(log_format=settings.log_format)
        run = prepare(settings, reporter)
    except ArchiverError as exc:
        return fail(str(exc), usage_or_failure(exc), as_json=bool(args.json))
    with _stop_on_signals(run.cancel):
        report = run.run()
    if settings.json:
        print(report.to_json())
    return report.exit_code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
