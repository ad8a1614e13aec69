"""The first S3 destination opened in a process makes botocore's modules and models with the cyclic collector
paused and freezes them after, once per process (storage/long_lived.py)."""

from __future__ import annotations

import gc
import threading

import pytest

from pgarchiver_tui.storage import long_lived
from tests.stores.conftest import make_backend


@pytest.fixture
def first_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(long_lived, "_frozen", threading.Event())  # as in a process that never opened S3
    assert gc.isenabled()


def test_the_first_time_collection_is_paused_and_what_was_made_is_frozen(first_time: None) -> None:
    frozen_before = gc.get_freeze_count()
    with long_lived.made_once():
        paused = not gc.isenabled()
        made = [[n] for n in range(10_000)]  # tracked containers, like a service model's dicts and lists
    assert paused and gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + len(made)


def test_later_times_change_nothing_of_the_collector(first_time: None) -> None:
    with long_lived.made_once():
        pass
    frozen = gc.get_freeze_count()
    with long_lived.made_once():
        running = gc.isenabled()
        made = [[n] for n in range(1_000)]
    assert running and gc.isenabled()
    assert gc.get_freeze_count() == frozen and len(made) == 1_000


def test_a_failure_inside_leaves_the_collector_running(first_time: None) -> None:
    with pytest.raises(ValueError), long_lived.made_once():
        raise ValueError("the store could not be opened")
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled(first_time: None) -> None:
    gc.disable()
    try:
        with long_lived.made_once():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_s3_destination_is_opened_so_and_a_directory_is_not(first_time: None, request: pytest.FixtureRequest,
                                                                tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    make_backend("local", request, tmp_path, monkeypatch).storage()
    after_directory = long_lived._frozen.is_set()
    make_backend("moto", request, tmp_path, monkeypatch).storage()
    assert not after_directory and long_lived._frozen.is_set()
