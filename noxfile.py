"""Sessions: tests (the README's test command), lowest (the same on the lowest allowed versions), lint,
typecheck, tui_textual, bench, screenshots, screenshots_viewer."""

import re
import tomllib
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test,parquet]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lowest(session: nox.Session) -> None:
    """The suite on the lowest versions pyproject.toml allows, so that its floors stay the versions really needed.

    uv resolves each direct dependency to its floor (`--resolution lowest-direct`): the floors are ours to keep
    true; what those releases need in turn is their own projects' floors.
    """
    session.install("uv")
    pinned = f"{session.virtualenv.location}/lowest.txt"
    session.run("uv", "pip", "compile", "pyproject.toml", "--extra", "test", "--extra", "parquet", "--extra", "metrics",
                "--resolution", "lowest-direct", "--python-version", "3.11", "--quiet", "-o", pinned)
    session.install("-r", pinned)
    session.install("--no-deps", "-e", ".")
    session.run("python", "-m", "pip", "freeze")  # what was tested, in the log
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".", "ruff", "import-linter>=2.1")
    session.run("ruff", "check", "pgarchiver_tui", "tests", "benchmarks", "noxfile.py")
    session.run("lint-imports")  # the layers and the Textual-free core, as pyproject.toml declares them


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test,parquet]", "mypy")
    session.run("mypy", "pgarchiver_tui")


def textual_requirement() -> str:
    """pyproject.toml's Textual range, e.g. `textual>=8.0,<9`."""
    dependencies = tomllib.loads(Path("pyproject.toml").read_text())["project"]["dependencies"]
    return next(d for d in dependencies if re.match(r"textual\b", d))


def lowest_textual() -> str:
    """The range's lower bound as a version to install: `>=8.0` → `8.0.0`."""
    bound = re.search(r">=\s*([\d.]+)", textual_requirement())
    if bound is None:
        raise SystemExit("the Textual requirement has no lower bound (>=)")
    parts = bound[1].split(".")
    return ".".join(parts + ["0"] * (3 - len(parts)))


@nox.session
@nox.parametrize("textual", ["lowest", "newest"])
def tui_textual(session: nox.Session, textual: str) -> None:
    """The TUI tests on the lowest and the newest Textual that pyproject.toml allows."""
    session.install("-e", ".[test,parquet]")
    if textual == "lowest":
        session.install(f"textual=={lowest_textual()}")
    else:
        session.install("--upgrade", textual_requirement())
    session.run("python", "-c", "import textual; print('textual', textual.__version__)")
    session.run("python", "-m", "pytest", "-q", "tests/tui", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark against `psql COPY | zstd -3` (issue 6); `nox -s bench -- --rows 50000` for a quick run.

    Needs psql, zstd and PostgreSQL server binaries on the machine; starts its own throwaway server and S3.
    Results: a table on stdout and benchmarks/results/bench-<time>.json.
    """
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/bench.py", *session.posargs)
    session.run("python", "benchmarks/tui_bench.py")  # the partitions and cache screens with 100,000 rows
    session.run("python", "benchmarks/cache_bench.py")  # the archive cache with 100,000 records


@nox.session
def screenshots(session: nox.Session) -> None:
    """Regenerate screenshots/80x24/*.svg and screenshots/120x40/*.svg from the app (the README shows them)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "tests.tui.make_screenshots", "screenshots")


@nox.session
def screenshots_viewer(session: nox.Session) -> None:
    """Regenerate screenshots/viewer-*.png from the web viewer's real page in Debian's Chromium (fixed data,
    a frozen clock). Needs /usr/bin/chromium (`apt-get install chromium`)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "tests.viewer.make_screenshots", "screenshots")
