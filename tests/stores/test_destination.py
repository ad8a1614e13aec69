"""One destination URL, read in one place; the optional store libraries loaded only when used."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.settings import Settings, load_settings
from pgarchiver_tui.storage.destination import Destination, destination_of, parse_destination
from tests.archive_support import command

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("url", "expected"), [
    ("s3://my-archive", Destination("s3", "my-archive", "")),
    ("s3://my-archive/", Destination("s3", "my-archive", "")),
    ("s3://my-archive/prod/events", Destination("s3", "my-archive", "prod/events/")),
    ("az://archives/prod/", Destination("az", "archives", "prod/")),
    ("gs://my.bucket/a/b/c", Destination("gs", "my.bucket", "a/b/c/")),
    ("file:///srv/archive", Destination("file", "/srv/archive", "")),
    ("file://localhost/srv/archive", Destination("file", "/srv/archive", "")),
    ("/srv/archive", Destination("file", "/srv/archive", "")),
    ("relative/dir", Destination("file", "relative/dir", "")),
])
def test_a_destination_url_names_its_store_container_and_prefix(url: str, expected: Destination) -> None:
    assert parse_destination(url) == expected


@pytest.mark.parametrize(("url", "said"), [
    ("ftp://host/dir", "unknown scheme 'ftp'"),
    ("s3://", "not a valid bucket name"),
    ("s3://ab/x", "not a valid bucket name"),
    ("az://Upper/x", "not a valid container name"),
    ("az://a--b/x", "not a valid container name"),
    ("gs://bucket/../escape", "'..' segment"),
    ("s3://bucket/a//b", "empty"),
    ("s3://bucket/x?versionId=1", "no ?query"),
    ("file://otherhost/dir", "file:///DIR"),
    ("   ", "empty"),
])
def test_a_bad_url_is_one_line_naming_the_fix(url: str, said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_destination(url)
    message = str(raised.value)
    assert said in message and "\n" not in message


def test_validate_answers_a_bad_url_or_two_destinations_in_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--table", "events", "--start-date", "2024-01-01", "--end-date", "2024-01-02"]
    bad = command(capsys, "validate", *base, "--dest", "ftp://host/dir")
    both = command(capsys, "validate", *base, "--dest", "s3://my-archive/x", "--local-dir", "/tmp/x")
    good = command(capsys, "validate", *base, "--dest", "az://archives/prod")

    assert bad.code == 2 and len(bad.err.splitlines()) == 1 and "unknown scheme" in bad.err
    assert both.code == 2 and "--dest and --local-dir" in both.err
    assert good.code == 0, good.err


def test_the_destination_comes_from_flag_environment_or_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('dest = "gs://from-file/prefix"\n')

    from_file = load_settings({}, environ={}, config=str(config))
    from_env = load_settings({}, environ={"PGARCHIVER_DEST": "az://from-env/p"}, config=str(config))
    from_flag = load_settings({"dest": "s3://from-flag"}, environ={"PGARCHIVER_DEST": "az://from-env/p"},
                              config=str(config))

    assert destination_of(from_file) == Destination("gs", "from-file", "prefix/")
    assert destination_of(from_env) == Destination("az", "from-env", "p/")
    assert destination_of(from_flag) == Destination("s3", "from-flag", "")


def test_the_older_flags_name_the_same_destinations() -> None:
    assert destination_of(Settings(s3_bucket="my-archive")) == Destination("s3", "my-archive", "", "--s3-bucket")
    assert destination_of(Settings(local_dir="/srv/a")) == Destination("file", "/srv/a", "", "--local-dir")


def test_the_base_package_pulls_neither_azure_nor_google() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith(("azure", "google"))]
    assert {"azure-storage-blob", "azure-identity"} <= {d.split(">")[0] for d in project["optional-dependencies"]["azure"]}
    assert {"google-cloud-storage"} <= {d.split(">")[0] for d in project["optional-dependencies"]["gcs"]}


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_the_store_libraries_are_imported_only_when_their_destination_is_opened(tmp_path: Path) -> None:
    result = run_python(
        "import sys\n"
        "from pgarchiver_tui.cli import build_parser\n"
        "from pgarchiver_tui.core.settings import Settings\n"
        "from pgarchiver_tui.storage.destination import open_destination\n"
        f"open_destination(Settings(dest={str(tmp_path / 'a')!r}))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules "
        "if m.startswith(('azure.', 'google.cloud', 'boto3', 'botocore', 's3transfer'))}))\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_an_s3_destination_imports_botocore_alone_not_boto3_and_its_transfer_manager() -> None:
    result = run_python(
        "import sys\n"
        "from pgarchiver_tui.core.settings import Settings\n"
        "from pgarchiver_tui.storage.destination import open_destination\n"
        "open_destination(Settings(dest='s3://my-bucket/x', s3_region='us-east-1', s3_access_key='k', "
        "s3_secret_key='s'), check=False)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('boto3', 'botocore', 's3transfer'))}))\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['botocore']"  # boto3 would add s3transfer: about 50 ms of CPU per run


@pytest.mark.parametrize(("url", "blocked", "extra"), [
    ("az://archives/x", "azure.storage.blob", "azure"),
    ("gs://my-bucket/x", "google.cloud.storage", "gcs"),
])
def test_a_missing_store_library_is_one_line_naming_the_extra(url: str, blocked: str, extra: str) -> None:
    result = run_python(
        "import sys\n"
        f"sys.modules[{blocked!r}] = None\n"
        "from pgarchiver_tui.core.errors import ConfigError\n"
        "from pgarchiver_tui.core.settings import Settings\n"
        "from pgarchiver_tui.storage.destination import open_destination\n"
        "try:\n"
        f"    open_destination(Settings(dest={url!r}))\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n")
    assert result.returncode == 0, result.stderr
    assert f"pip install 'pgarchiver-tui[{extra}]'" in result.stdout


def test_azure_without_credentials_says_how_to_give_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from pgarchiver_tui.storage.destination import open_destination

    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with pytest.raises(ConfigError, match="AZURE_STORAGE_CONNECTION_STRING.*--azure-account-url"):
        open_destination(Settings(dest="az://archives/x"))
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=secretvalue;garbage")
    with pytest.raises(ConfigError) as raised:
        open_destination(Settings(dest="az://archives/x"))
    assert "secretvalue" not in str(raised.value)
