"""No silent worker death (issue 9): whatever a worker meets, every planned object is reported exactly once,
a failure carries a category and a reason, and the exit code says so."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from faults.harness import archive_settings, fill_disk, local, small_tmpfs, verify_object
from pgarchiver_tui.commands.archive.prepare import prepare
from pgarchiver_tui.core.errors import EXIT_FAILED
from pgarchiver_tui.core.events import Event, JobResult, Outcome, RunReport


def planned_once(report: RunReport, keys: list[str]) -> None:
    assert Counter(r.key for r in report.results) == Counter(keys), "every planned object exactly once"


def test_a_cache_on_a_full_disk_fails_each_object_loudly_and_the_destination_stays_the_truth(
        seeded_events: str, tmp_path: Path) -> None:
    settings = archive_settings(seeded_events, "events", 3, local_dir=str(tmp_path / "a"),
                                cache_dir=str(tmp_path / "cache-disk"), workers=2)
    events: list[Event] = []
    with small_tmpfs(tmp_path / "cache-disk", "1m") as disk:
        prepared = prepare(settings)  # the cache is opened (and its files made) here
        assert prepared.cache is not None
        try:
            fill_disk(disk)
            report = prepared.run(events.append).run()
        finally:
            prepared.cache.close()

    keys = [job.key for job in prepared.plan.jobs]
    planned_once(report, keys)
    assert report.exit_code == EXIT_FAILED
    assert {(r.outcome, r.category) for r in report.results} == {(Outcome.FAILED, "cache")}
    for result in report.results:
        assert "the cache cannot record it" in result.reason and "full" in result.reason, result.reason
    assert [e.key for e in events if isinstance(e, JobResult)] != [], "each failure was said as it happened"
    # the objects are whole in the destination: a run with a cache that works finds them and records them
    for key in keys:
        verify_object(local(tmp_path / "a"), key, seeded_events)
    again = prepare(replace(settings, cache_dir=str(tmp_path / "cache-ok"))).run(lambda event: None).run()
    assert [r.outcome for r in again.results] == [Outcome.SKIPPED] * 3 and again.exit_code == 0


def test_a_pause_no_timer_can_wait_fails_the_objects_after_it_instead_of_ending_the_worker(
        seeded_events: str, tmp_path: Path) -> None:
    settings = archive_settings(seeded_events, "events", 3, local_dir=str(tmp_path / "a"),
                                cache_dir=str(tmp_path / "cache"))
    prepared = prepare(settings)
    # past what the command line accepts, as a profile or the API could still give it: the timer overflows
    prepared.options = replace(prepared.options, pause_seconds=1e10)

    report = prepared.run(lambda event: None).run()
    assert prepared.cache is not None
    prepared.cache.close()

    planned_once(report, [job.key for job in prepared.plan.jobs])
    assert [r.outcome for r in report.results] == [Outcome.ARCHIVED, Outcome.FAILED, Outcome.FAILED]
    assert {(r.category, r.reason.split(":")[0]) for r in report.failures} == {("error", "OverflowError")}
    assert report.exit_code == EXIT_FAILED and not report.cancelled
