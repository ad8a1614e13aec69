"""Command line: parse arguments → Settings → run a command, headless or in the TUI."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NoReturn, Protocol

from pgarchiver_tui import __version__, startup
from pgarchiver_tui.allocator import keep_freed_blocks
from pgarchiver_tui.cache import cache_base
from pgarchiver_tui.core import schema
from pgarchiver_tui.core.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ArchiverError,
    ConfigError,
    up_front_exit_code,
)
from pgarchiver_tui.core.events import Emit, Event, RunReport
from pgarchiver_tui.core.settings import Settings, load_settings
from pgarchiver_tui.interrupts import Interrupted, StopSignals
from pgarchiver_tui.render.live_state import LiveState
from pgarchiver_tui.render.metrics import RunMetrics, serve, write_textfile
from pgarchiver_tui.render.report import HeadlessReporter, one_line

PROG = "pgarchiver-tui"
Handler = Callable[[argparse.Namespace], int]


class Runnable(Protocol):
    """A prepared run of any command (runner/run.py's ObjectRun)."""

    def run(self) -> RunReport: ...

    def cancel(self) -> None: ...


def add_database_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("database (libpq's PG* variables and ~/.pgpass apply too)")
    group.add_argument("--dsn", help="connection URL or conninfo string")
    group.add_argument("--db-host")
    group.add_argument("--db-port", metavar="PORT")
    group.add_argument("--db-user")
    group.add_argument("--db-password", help="prefer PGPASSWORD or ~/.pgpass: flags show up in `ps`")
    group.add_argument("--db-name")
    group.add_argument("--db-sslmode")
    group.add_argument("--db-sslrootcert", metavar="FILE")
    group.add_argument("--db-sslcert", metavar="FILE")
    group.add_argument("--db-sslkey", metavar="FILE")
    group.add_argument("--db-target-session-attrs", metavar="ATTRS",
                       help="libpq's target_session_attrs, e.g. prefer-standby to read from a replica")
    group.add_argument("--db-connect-timeout", metavar="SECONDS",
                       help="give up a connection attempt after this long (default: the DSN's, else 10)")
    group.add_argument("--statement-timeout", metavar="MS", help="per statement (default none)")
    group.add_argument("--lock-timeout", metavar="MS", help="per lock wait (default none)")


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
    group.add_argument("--s3-connect-timeout", metavar="SECONDS", help="per request attempt (default 10)")
    group.add_argument("--s3-read-timeout", metavar="SECONDS",
                       help="per request attempt, for an answer (default 20)")
    group.add_argument("--local-dir", metavar="DIR", help="write to a directory instead of S3")
    group.add_argument("--dest", metavar="URL", help="where archives go: s3://BUCKET/PREFIX, az://CONTAINER/PREFIX "
                       "(AZURE_STORAGE_CONNECTION_STRING), gs://BUCKET/PREFIX (application default credentials), "
                       "file:///DIR or DIR; replaces --s3-bucket and --local-dir")
    group.add_argument("--azure-account-url", metavar="URL",
                       help="https://ACCOUNT.blob.core.windows.net, signed in by the Azure credential chain")
    group.add_argument("--path-template", help="object key prefix, e.g. 'archives/{table}/{YYYY}/{MM}'")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("how")
    group.add_argument("--no-ui", action="store_true", default=None, help="run headless (for cron and scripts)")
    group.add_argument("--workers", metavar="N", help="objects archived at once (default 1)")
    group.add_argument("--retries", metavar="N",
                       help="attempts per object for transient failures, the first included (default 3)")
    group.add_argument("--retry-budget", metavar="SECONDS",
                       help="no new attempt of an object starts after this long on it (default 300)")
    group.add_argument("--max-rate", metavar="MB_S", help="read at most this many MB/s in all")
    group.add_argument("--pause", metavar="SECONDS", help="pause between objects, per worker")
    group.add_argument("--dry-run", action="store_true", default=None, help="read and compress, write nothing")
    group.add_argument("--json", action="store_true", default=None, help="print a JSON run report on stdout")
    group.add_argument("--log-format", choices=["text", "json"])
    group.add_argument("--config", metavar="FILE", help="TOML config file (default: the user config dir)")
    group.add_argument("--profile", help="a [profiles.NAME] table of the config file")
    group.add_argument("--cache-dir", metavar="DIR", help="where the archive cache lives")
    group.add_argument("--metrics-file", metavar="PATH",
                       help="write Prometheus metrics there at the end (node_exporter textfile collector)")
    group.add_argument("--metrics-port", metavar="PORT", help="serve Prometheus metrics on 127.0.0.1")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--output-format", help="jsonl (default), csv or parquet")
    group.add_argument("--compression", help="zstd (default), gzip, lz4 or none")
    group.add_argument("--compression-level", metavar="N")
    group.add_argument("--zstd-threads", metavar="N", help="zstd worker threads (default: 1 beside the reading "
                                                         "up to level 12, 0 above; 0: in the reading thread)")
    group.add_argument("--split", metavar="N", help="read each partition with N connections on one snapshot, "
                                                    "one object (JSONL and CSV; PostgreSQL 14+)")
    group.add_argument("--force", action="store_true", default=None,
                       help="archive again what the cache says is done")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line that names the problem and where to look, exit 2.

    No abbreviations: `--db-pass` must not reach --db-password past the masking of secrets in `ps`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(_mask_message(message))}; see {self.prog} --help\n")


def _mask_message(message: str) -> str:
    """argparse lists unrecognized arguments verbatim: the value after a mistyped secret flag among them."""
    head, marker, listed = message.partition("unrecognized arguments: ")
    if not marker:
        return message
    flags = [arg.partition("=")[0] for arg in listed.split() if arg.startswith("-")]
    return f"{head}unrecognized option(s) {' '.join(flags) or '(values without an option)'} (values not shown)"


def option_type(name: str) -> Callable[[str], Any]:
    """An argparse type for an option of one command that is no setting, read and checked by the schema."""
    def convert(text: str) -> Any:
        try:
            value = schema.parse(name, text, schema.shown(name, text))
            schema.check(name, value, schema.shown(name, value))
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value
    convert.__name__ = name
    return convert


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description="Archive PostgreSQL date partitions to S3-compatible storage or a directory.",
        epilog="exit codes: 0 all archived or skipped, 1 a failure, 2 bad usage or configuration, 3 the database "
               "or the store unavailable (retry later), 130 interrupted",
    )
    parser.add_argument("--version", action=VersionAction, nargs=0, help="show the version and which COPY reader "
                        "this install runs, and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    archive = commands.add_parser("archive", help="archive partitions (the default command)")
    for add in (add_database_options, add_table_options, add_output_options, add_destination_options,
                add_run_options):
        add(archive)
    viewing = archive.add_argument_group("web viewer (extra `viewer`)")
    viewing.add_argument("--viewer", action="store_true",
                         help="serve the web viewer on 127.0.0.1 while the run lasts (headless runs)")
    viewing.add_argument("--viewer-port", type=option_type("viewer_port"), default=0, metavar="PORT", help="its port (default: a free one)")
    archive.set_defaults(handler=run_archive_command)
    demo = commands.add_parser("demo", help="archive a seeded table of a throwaway PostgreSQL into a directory")
    demo.add_argument("--no-ui", action="store_true", default=None, help="run headless")
    demo.add_argument("--local-dir", metavar="DIR", help="where the demo archive goes")
    demo.add_argument("--workers", type=option_type("workers"), default=2, metavar="N")
    demo.add_argument("--json", action="store_true", default=None)
    demo.set_defaults(handler=run_demo_command)
    health = commands.add_parser("health", help="check database, destination and cache; exit 0 or 1")
    for add in (add_database_options, add_table_options, add_destination_options, add_run_options):
        add(health)
    health.add_argument("--probe-prefix", type=option_type("probe_prefix"), default=".pgarchiver-health/",
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
    restore.add_argument("--target-table", metavar="NAME", type=option_type("target_table"),
                         help="restore into this table (schema.name) instead of the archived one")
    restore.add_argument("--append", action="store_true",
                         help="add the rows even when the target already holds rows of the object's period")
    restore.add_argument("--allow-unverified", action="store_true",
                         help="also restore objects without their metadata (orphans), each named in the report")
    restore.set_defaults(handler=run_restore_command)
    viewer = commands.add_parser("viewer", help="serve the caches and the runs in progress to a browser, read-only")
    viewer.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    viewer.add_argument("--port", type=option_type("port"), default=8765, help="port (default 8765; 0 picks a free one)")
    viewer.add_argument("--cache-dir", metavar="DIR", help="the caches to show (default: the user cache dir)")
    viewer.add_argument("--token", help="the token every request needs (default: PGARCHIVER_VIEWER_TOKEN, "
                                        "else a random one, printed with the URL)")
    viewer.add_argument("--config", metavar="FILE", help="TOML config file (for its cache_dir)")
    viewer.add_argument("--profile", help="a [profiles.NAME] table of the config file")
    viewer.set_defaults(handler=run_viewer_command)

    purge = commands.add_parser(
        "purge", help="drop, detach or delete what the archive has proven to hold, and nothing else",
        epilog="exit codes: 0 every period purged (or nothing to do), 1 a period refused or failed, 2 bad usage "
               "(or no --yes), 130 interrupted")
    for add in (add_database_options, add_table_options, add_destination_options, add_run_options):
        add(purge)
    purge.add_argument("--yes", action="store_true", help="really purge (headless purge changes nothing without it)")
    purge.add_argument("--detach-only", action="store_true",
                       help="detach partitions (CONCURRENTLY where allowed) and keep the tables instead of dropping")
    purge.add_argument("--batch-rows", type=option_type("batch_rows"), metavar="N",
                       help="rows deleted per statement from a date window (default 10000)")
    purge.set_defaults(handler=run_purge_command)
    return parser


COMMANDS = ("archive", "demo", "health", "validate", "verify", "restore", "purge", "viewer")


SECRET_FLAGS = ("--db-password", "--s3-secret-key", "--s3-access-key", "--dsn", "--token")


def _secret_flag(flag: str) -> str:
    """The secret flag `flag` spells, abbreviations included (argparse refuses them, but only after `ps` could
    show them); '' for any other."""
    if flag in SECRET_FLAGS:
        return flag
    if len(flag) >= 4 and flag.startswith("--"):
        return next((secret for secret in SECRET_FLAGS if secret.startswith(flag)), "")
    return ""


def masked_argv(args: Sequence[str]) -> list[str]:
    """The command line with the values of secret flags (and a DSN's password) replaced."""
    from pgarchiver_tui.core.settings import MASK, mask_dsn

    shown, hide_next = [], ""
    for arg in args:
        flag, eq, value = arg.partition("=")
        secret = _secret_flag(flag)
        if hide_next:
            shown.append(mask_dsn(arg) if hide_next == "--dsn" else MASK)
            hide_next = ""
        elif secret and eq:
            shown.append(f"{flag}={mask_dsn(value) if secret == '--dsn' else MASK}")
        else:
            shown.append(arg)
            hide_next = _secret_flag(arg)
    return shown


def hide_secrets_from_ps(args: Sequence[str]) -> None:
    """Rewrite the process title (what `ps` and /proc/PID/cmdline show) when a secret was given as a flag."""
    shown = masked_argv(args)
    if shown == list(args):
        return
    import setproctitle

    setproctitle.setproctitle(" ".join([PROG, *shown]))


class VersionAction(argparse.Action):
    """--version, with which COPY reader this install runs (C, or Python where the extension was not built):
    the difference is CPU per row, and nothing else in a run shows it."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> NoReturn:
        from pgarchiver_tui.pipeline.source import native_reader

        if native_reader() is not None:
            reader = "C"
        elif os.environ.get("PGARCHIVER_COPY_READER") == "python":
            reader = "Python (PGARCHIVER_COPY_READER=python)"
        else:
            reader = "Python (the C reader was not built: there was no C compiler at install)"
        print(f"{PROG} {__version__}; COPY reader: {reader}")  # stdout, as argparse's own version action
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        hide_secrets_from_ps(sys.argv[1:])
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in COMMANDS and args_list[0] not in ("-h", "--help", "--version")):
        args_list.insert(0, "archive")
    stop = StopSignals(PROG).install()  # from the first moment: connecting, waiting for a lock, reading
    keep_freed_blocks()  # this process owns its allocator: chunks reuse freed memory instead of fresh pages
    try:
        args = build_parser().parse_args(args_list)
        args.stop_signals = stop
        handler: Handler = args.handler
        code = handler(args)
    except Interrupted:  # connecting, discovering (a lock awaited), checking the store: no run to cancel yet
        print(f"{PROG}: interrupted ({stop.received}) before any object was handled", file=sys.stderr)
        if "--json" in args_list:
            print(json.dumps({"exit_code": EXIT_INTERRUPTED, "error": f"interrupted ({stop.received})"}))
        return EXIT_INTERRUPTED
    finally:
        stop.uninstall()
    return EXIT_INTERRUPTED if stop.received else code


def terminal_problem() -> str | None:
    """Why the TUI cannot start here, or None: it needs a terminal to read keys from and to draw on."""
    streams = {"stdin": sys.stdin, "stdout": sys.stdout, "stderr": sys.stderr}
    missing = [name for name, stream in streams.items() if stream is None or not stream.isatty()]
    if missing:
        what = f"{missing[0]} is not a terminal" if len(missing) == 1 else f"{', '.join(missing)} are not terminals"
        return f"no terminal to show the UI on ({what}); add --no-ui to run headless, e.g. from cron"
    return None


def fail(message: str, code: int = EXIT_USAGE, as_json: bool = False) -> int:
    message = one_line(message)
    print(f"{PROG}: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"exit_code": code, "error": message}))
    return code


def _stop_signals(args: argparse.Namespace) -> StopSignals:
    return getattr(args, "stop_signals", None) or StopSignals(PROG)


def settings_from(args: argparse.Namespace) -> Settings:
    flags = {k: v for k, v in vars(args).items() if k not in ("handler", "command", "config", "profile")}
    return load_settings(flags, config=getattr(args, "config", None), profile=getattr(args, "profile", None))


def run_archive_command(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
    except ArchiverError as exc:
        return fail(str(exc), as_json=bool(args.json))
    if not settings.no_ui:
        if args.viewer:
            return fail("--viewer serves during headless runs (--no-ui); beside the TUI run "
                        f"`{PROG} viewer` in another terminal")
        if problem := terminal_problem():
            return fail(problem)
        _stop_signals(args).uninstall()  # the TUI reads Ctrl+C as a key and asks first
        return open_tui(settings)
    return run_headless(settings, stop=_stop_signals(args), viewer_port=args.viewer_port if args.viewer else None)


def open_tui(settings: Settings, purge: bool = False, detach_only: bool = False) -> int:
    from pgarchiver_tui.tui.app import ArchiverApp, run_app

    if purge:  # straight to the purge dialog over the partitions, for the whole range
        return run_app(settings, ArchiverApp(settings, start_screen="purge", detach_only=detach_only))
    return run_app(settings)


def run_headless(settings: Settings, reporter: HeadlessReporter | None = None,
                 stop: StopSignals | None = None, viewer_port: int | None = None) -> int:
    from pgarchiver_tui.commands.archive.prepare import prepare

    reporter = reporter or HeadlessReporter(log_format=settings.log_format)
    stop = stop or StopSignals(PROG)
    viewer = None
    try:
        prepared = prepare(settings)  # validates first: a metrics port in use is found there, before any write
        metrics = RunMetrics(".".join(settings.qualified_table()))
        server = serve_metrics(metrics, settings.metrics_port)
        viewer = _start_viewer(settings, viewer_port) if viewer_port is not None else None
    except ArchiverError as exc:
        return fail(str(exc), up_front_exit_code(exc), as_json=settings.json)
    live = LiveState("archive", settings.cache_dir)

    def emit(event: Event) -> None:
        reporter(event)
        metrics(event)
        live(event)

    try:
        with live:
            report = _execute(prepared.run(emit), settings, stop)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if viewer is not None:
            viewer.stop()
        if prepared.cache:
            prepared.cache.close()
    code = report.exit_code
    if settings.metrics_file:
        try:
            write_textfile(settings.metrics_file, metrics)
        except OSError as exc:  # checked up front; the disk filled or the directory went away since
            print(f"{PROG}: error: --metrics-file {settings.metrics_file} could not be written "
                  f"({exc.strerror or exc}); monitoring will not see this run", file=sys.stderr)
            code = code or EXIT_FAILED
    return code


def _execute(run: Runnable, settings: Settings, stop: StopSignals) -> RunReport:
    """Any command's run, headless: stopped cleanly by a signal; the JSON report on stdout when asked."""
    startup.over()
    with stop.cancelling(run.cancel):
        report = run.run()
    if settings.json:
        print(report.to_json({"database": settings.database_label()}))
    return report


def _start_viewer(settings: Settings, port: int) -> Any:
    from pgarchiver_tui.viewer.server import open_viewer

    viewer = open_viewer(cache_base(settings.cache_dir), port=port)
    print(viewer.banner(), file=sys.stderr, flush=True)
    return viewer.start_in_thread()


def serve_metrics(metrics: RunMetrics, port: int | None) -> Any:
    """The metrics server, started before the run; a port taken since `validate` looked is said in one line."""
    if not port:
        return None
    try:
        return serve(metrics, port)
    except OSError as exc:
        raise ConfigError(f"--metrics-port {port} cannot be listened on ({exc.strerror or exc}); choose another "
                          "port") from None


def run_health_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.commands.health import run_checks

    try:
        settings = settings_from(args)
    except ArchiverError as exc:
        return fail(str(exc))
    checks = run_checks(settings, args.probe_prefix)
    for check in checks:
        print(f"{'FAIL' if not check.ok else 'warn' if check.warning else 'ok  '} {check.name:<12} {check.detail}")
    return 0 if all(check.ok for check in checks) else 1


def run_validate_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.storage.destination import destination_of

    try:
        settings = settings_from(args)
        settings.validate()
        destination_of(settings)  # the URL's form; nothing is connected
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
                code = open_tui(settings)
            else:
                code = run_headless(replace(settings, json=bool(args.json)), stop=_stop_signals(args))
            # after the TUI too: its screen is gone, and with it the path it showed
            print(f"pgarchiver-tui demo: the archive is in {settings.local_dir} (a second demo finds it archived "
                  "and skips it; --local-dir DIR for a new one)", file=sys.stderr, flush=True)
            return code
    except ArchiverError as exc:
        return fail(str(exc))


def run_verify_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.commands.verify import prepare_verify

    return _run_reading_back(args, lambda settings, emit: prepare_verify(settings, bool(args.deep), emit))


def run_restore_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.commands.restore import RestoreChoices, prepare_restore

    choices = RestoreChoices(args.target_table, append=bool(args.append),
                             allow_unverified=bool(args.allow_unverified))
    return _run_reading_back(args, lambda settings, emit: prepare_restore(settings, choices, emit))


def run_purge_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.commands.purge.run import prepare_purge

    try:
        settings = settings_from(args)
    except ArchiverError as exc:
        return fail(str(exc), as_json=bool(args.json))
    if not settings.no_ui:
        _stop_signals(args).uninstall()  # the TUI reads Ctrl+C as a key and asks first
        return open_tui(settings, purge=True, detach_only=args.detach_only)
    if not settings.dry_run and not args.yes:
        return fail("purge removes data and --yes was not given: nothing was changed; add --yes to purge, or "
                    "--dry-run to see what would be purged", as_json=settings.json)
    return _run_reading_back(args, lambda settings, emit: prepare_purge(
        settings, emit, detach_only=args.detach_only, batch_rows=args.batch_rows))


def _run_reading_back(args: argparse.Namespace, prepare: Callable[[Settings, Emit], Runnable]) -> int:
    """verify, restore and purge, headless (verify and restore with or without --no-ui until the TUI offers
    them)."""
    try:
        settings = settings_from(args)
        live = LiveState(args.command, settings.cache_dir)
        run = prepare(settings, live.tee(HeadlessReporter(log_format=settings.log_format)))
    except ArchiverError as exc:
        return fail(str(exc), up_front_exit_code(exc), as_json=bool(args.json))
    with live:
        return _execute(run, settings, _stop_signals(args)).exit_code


def run_viewer_command(args: argparse.Namespace) -> int:
    from pgarchiver_tui.viewer.server import open_viewer

    try:
        settings = load_settings({"cache_dir": args.cache_dir}, config=args.config, profile=args.profile)
        viewer = open_viewer(cache_base(settings.cache_dir), args.host, args.port, args.token)
    except ArchiverError as exc:
        return fail(str(exc))
    print(viewer.banner(), file=sys.stderr, flush=True)
    _stop_signals(args).uninstall()  # a server stopped by Ctrl-C has done its job: uvicorn shuts down, exit 0
    try:
        viewer.serve_forever()
    except KeyboardInterrupt:  # uvicorn hands Ctrl-C back once it has shut down: the normal way to stop
        pass
    print(f"{PROG}: viewer stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
