"""`pgarchiver-tui viewer` and `archive --viewer` as commands: address, token, errors, lifetime."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

from tests.viewer.support import ROOT, TOKEN, Archive, EventStream, ViewerProcess, child_env, get


def viewer_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pgarchiver_tui", "viewer", *args], cwd=ROOT,
                          env=env or child_env(), capture_output=True, text=True, timeout=60)


def test_it_listens_on_loopback_with_a_fresh_token_printed_in_its_url(tmp_path: Path) -> None:
    cache_dir = tmp_path / "empty-cache"
    cache_dir.mkdir()
    first = ViewerProcess(cache_dir)
    second = ViewerProcess(cache_dir)
    try:
        assert first.url.startswith("http://127.0.0.1:") and "/?token=" in first.url
        assert len(first.token) >= 24 and first.token != second.token
        assert get(first.base + "/api/records", first.token).json()["total"] == 0, "an empty cache dir is fine"
        assert get(first.base + "/api/records", second.token).status == 401
    finally:
        first.stop()
        second.stop()
    assert first.proc.returncode == 0, "Ctrl-C ends the viewer cleanly"
    assert not list(cache_dir.iterdir()), "it wrote nothing into the cache dir"


def test_the_token_comes_from_the_flag_or_the_environment(tmp_path: Path) -> None:
    from_env = ViewerProcess(tmp_path, env=child_env(PGARCHIVER_VIEWER_TOKEN=TOKEN))
    from_flag = ViewerProcess(tmp_path, "--token", "flag-token-abcdef",
                              env=child_env(PGARCHIVER_VIEWER_TOKEN=TOKEN))
    try:
        assert from_env.token == TOKEN
        assert get(from_env.base + "/api/runs", TOKEN).status == 200
        assert from_flag.token == "flag-token-abcdef"
        assert get(from_flag.base + "/api/runs", TOKEN).status == 401
    finally:
        from_env.stop()
        from_flag.stop()


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    short = viewer_command("--cache-dir", str(tmp_path), "--port", "0", "--token", "abc")
    assert short.returncode == 2
    assert short.stderr.count("\n") == 1 and "at least 8" in short.stderr and "--token" in short.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = viewer_command("--cache-dir", str(tmp_path), "--port", str(taken.getsockname()[1]))
    assert busy.returncode == 2 and busy.stderr.count("\n") == 1 and "choose another --port" in busy.stderr


def test_archive_with_viewer_serves_its_own_run_while_it_lasts(second_table: Archive) -> None:
    with_ui = [a for a in second_table.args("orders", "2024-01-01", "2024-01-03") if a != "--no-ui"]
    refused = subprocess.run([sys.executable, "-m", "pgarchiver_tui", *with_ui, "--viewer"], cwd=ROOT,
                             env=child_env(), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--no-ui" in refused.stderr

    run = second_table.spawn("orders", "2024-01-01", "2024-01-03", "--viewer", "--pause", "1")
    assert run.stderr is not None
    banner = run.stderr.readline()
    assert "http://127.0.0.1:" in banner, banner
    url = banner[banner.index("http://"):].strip()
    base, token = url.split("/?token=")
    stream = EventStream(base, token)
    runs = get(base + "/api/runs", token).json()["runs"] or stream.until("runs", lambda d: bool(d["runs"]))["runs"]
    stream.close()
    assert runs[0]["command"] == "archive" and runs[0]["tables"] in ([], ["public.orders"])
    assert runs[0]["pid"] == run.pid and runs[0]["jobs"] == 3
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    with pytest.raises(urllib.error.URLError):
        get(base + "/api/runs", token)  # the viewer ended with the run
