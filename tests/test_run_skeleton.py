"""The run skeleton's contract (runner/run.py), shown with a toy command that needs no database or store:
every item gets exactly one result, whatever its handler raises, and transient failures are retried."""

from __future__ import annotations

from datetime import datetime

from pgarchiver_tui.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, StorageError
from pgarchiver_tui.core.events import Event, JobResult, Notice, Outcome, RunReport, RunStarted
from pgarchiver_tui.core.model import Job
from pgarchiver_tui.core.periods import Duration, Period
from pgarchiver_tui.runner.retry import RetryPolicy
from pgarchiver_tui.runner.run import Attempt, JobHandler, ObjectRun, RunOptions

DAY = Period(datetime(2024, 1, 1), datetime(2024, 1, 2))


class Toy(JobHandler[str]):
    """Items are words; what each does is in its name."""

    command = "toy"

    def __init__(self) -> None:
        self.tries: dict[str, int] = {}

    def job(self, item: str) -> Job:
        return Job("public", "toy", DAY, Duration.DAILY, f"toy/{item}", ())

    def attempt(self, work: Attempt, item: str) -> JobResult:
        self.tries[item] = self.tries.get(item, 0) + 1
        if item == "divides-by-zero":
            print(1 / 0)
        if item == "flaky" and self.tries[item] < 3:
            raise StorageError("503 Slow Down", retryable=True)
        if item == "denied":
            raise StorageError("403 Forbidden")
        return JobResult(self.job(item), Outcome.ARCHIVED, rows=len(item))

    def finished(self, result: JobResult) -> None:
        if result.key == "toy/unrecorded":
            raise OSError(28, "No space left on device")


def run(items: list[str], **options: object) -> tuple[RunReport, list[Event], Toy]:
    events: list[Event] = []
    handler = Toy()
    defaults: dict[str, object] = {"workers": 2, "retry": RetryPolicy(attempts=3, base_seconds=0.001)}
    report = ObjectRun(handler, items, RunOptions(**{**defaults, **options}), events.append).run()  # type: ignore[arg-type]
    return report, events, handler


def test_every_item_is_reported_once_in_plan_order_whatever_its_handler_raised() -> None:
    items = ["fine", "divides-by-zero", "flaky", "denied", "unrecorded"]
    report, events, handler = run(items)

    assert [r.key for r in report.results] == [f"toy/{item}" for item in items]
    assert [(r.outcome, r.category) for r in report.results] == [
        (Outcome.ARCHIVED, ""), (Outcome.FAILED, "error"), (Outcome.ARCHIVED, ""), (Outcome.FAILED, "storage"),
        (Outcome.FAILED, "error")]
    assert report.results[1].reason == "ZeroDivisionError: division by zero"
    assert "No space left on device" in report.results[4].reason
    assert (handler.tries["flaky"], report.results[2].attempts) == (3, 3), "transient: retried until it worked"
    assert (handler.tries["denied"], report.results[3].attempts) == (1, 1), "permanent: not retried"
    assert report.exit_code == EXIT_FAILED
    assert isinstance(events[0], RunStarted) and events[0].command == "toy" and events[-1] is report
    assert sorted(e.key for e in events if isinstance(e, JobResult)) == sorted(r.key for r in report.results)


def test_a_cancelled_run_reports_what_it_did_not_start_and_exits_130() -> None:
    handler = Toy()
    toy = ObjectRun(handler, ["a", "b"], RunOptions(), lambda event: None)
    toy.cancel()
    report = toy.run()

    assert [(r.outcome, r.reason) for r in report.results] == [(Outcome.CANCELLED, "not started: run cancelled")] * 2
    assert handler.tries == {} and report.exit_code == EXIT_INTERRUPTED


def test_the_report_is_the_json_and_the_exit_code() -> None:
    report, _, _ = run(["fine"])

    data = report.to_dict()
    assert (data["command"], data["exit_code"], data["summary"]["archived"], data["summary"]["rows"]) == \
        ("toy", EXIT_OK, 1, 4)
    assert data["objects"][0]["key"] == "toy/fine" and data["objects"][0]["outcome"] == "archived"


class Teller(Toy):
    """A command whose attempts tell a line each, and refuse what is named so (as purge refuses a period)."""

    def attempt(self, work: Attempt, item: str) -> JobResult:
        work.tell(f"looked at {item}")
        if item == "unproven":
            return JobResult(self.job(item), Outcome.REFUSED, reason="not proven; left untouched",
                             category="refused", detail={"proof": None, "key": "not the key"})
        return JobResult(self.job(item), Outcome.ARCHIVED, detail={"removed": ["t"]})


def test_a_refusal_exits_1_and_what_attempts_tell_is_shown_but_not_kept() -> None:
    events: list[Event] = []
    report = ObjectRun(Teller(), ["fine", "unproven"], RunOptions(), events.append).run()

    assert [r.outcome for r in report.results] == [Outcome.ARCHIVED, Outcome.REFUSED]
    assert report.exit_code == EXIT_FAILED and not report.failures and report.refusals == [report.results[1]]
    assert report.counts_text() == "1 archived, 0 skipped, 1 refused, 0 failed, 0 cancelled"
    assert [(e.message, e.level) for e in events if isinstance(e, Notice)] == [
        ("looked at fine", "info"), ("looked at unproven", "info")]
    assert report.notices == []
    objects = report.to_dict()["objects"]
    assert (objects[0]["removed"], objects[1]["proof"]) == (["t"], None)
    assert objects[1]["key"] == "toy/unproven", "a detail never hides a common field"
    assert report.summary()["refused"] == 1
