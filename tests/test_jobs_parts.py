"""The jobs kit's parts (``advisorportal.jobs.parts``): a job split into part jobs waits for them
with their summed progress, finishes once when the last one does (done with its summary, failed
naming the part, cancelled), and its cancel and retry reach them; the sweeper queues again a part
whose worker died and fails it (and so the parent) after the last attempt.

Parts are sent to the broker after commit; inside a test's transaction nothing is sent, so the tests
run each part themselves (``job_execute``), as a worker would. The tests with committed rows run
the parts in threads with their own connections (their tasks go to a queue no worker reads)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.template.loader import render_to_string

from accounts.models import AuditEntry
from advisorportal.jobs import kinds, parts, services
from advisorportal.jobs.kinds import JobKind, Outcome, Part
from advisorportal.jobs.models import Job, JobStatus
from advisorportal.jobs.progress import Progress
from advisorportal.tenancy.context import firm_scope
from tests.concurrency import run_concurrently
from tests.factories import FirmFactory
from tests.test_jobs_worker import queue  # noqa: F401 - a fixture

PARENT = "test.parts.parent"
PART = "test.parts.part"
WAIT = 30  # seconds a thread waits for the other side (never reached when it works)
_behaviour: dict[str, Callable[..., Any]] = {}
summaries: list[int] = []


def _plan(job: Job, progress: Progress) -> Outcome:
    progress.update(0, phase="Working in parts")
    return parts.split(kind=PART, parts=[Part({"n": n}, total=total) for n, total in _behaviour["plan"]()])


def _part(job: Job, progress: Progress) -> Outcome | None:
    return _behaviour["part"](job, progress)


def _summary(job: Job) -> str:
    summaries.append(job.pk)
    return f"All {Job.objects.filter(parent_id=job.pk).count()} parts done."


kinds.register(JobKind(PARENT, run=_plan, label="Test parent", atomic=False, summary=_summary))
kinds.register(JobKind(PART, run=_part, label="Test part"))


@pytest.fixture
def behaviour() -> Iterator[dict[str, Callable[..., Any]]]:
    _behaviour.clear()
    summaries.clear()
    _behaviour["plan"] = lambda: [(1, 2), (2, 3)]
    _behaviour["part"] = lambda job, progress: None
    yield _behaviour
    _behaviour.clear()


def _reload(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def _split(behaviour: dict[str, Any]) -> tuple[Job, list[Job]]:
    """A parent job run (its plan): it waits for its parts, which are queued."""
    parent = Job.objects.create(kind=PARENT)
    assert services.job_execute(job_id=parent.pk) == JobStatus.RUNNING
    return _reload(parent), list(Job.objects.filter(parent=parent).order_by("pk"))


def _finish_transitions(job: Job) -> int:
    """How many audit entries record the job leaving "running" for an end."""
    entries = AuditEntry.objects.filter(object_type__endswith="job", object_id=str(job.pk))
    return sum(1 for e in entries if e.changes.get("status", [None, None])[0] == "running"
               and e.changes["status"][1] in ("done", "failed", "cancelled"))  # fmt: skip


def test_a_split_job_waits_for_its_parts_sums_their_progress_and_finishes_with_the_last(
    alice: Any, behaviour: dict[str, Any]
) -> None:
    with alice.scope():
        parent, (first, second) = _split(behaviour)
        # Running with no lease (the sweeper leaves it alone), the parts' total, its phase.
        assert parent.waiting_for_parts and (parent.total, parent.done, parent.phase) == (5, 0, "Working in parts")
        assert [(p.status, p.payload, p.total, p.created_by_id) for p in (first, second)] == [
            ("queued", {"n": 1}, 2, None), ("queued", {"n": 2}, 3, None),
        ]  # fmt: skip
        assert services.jobs_sweep_firm() == {"requeued": 0, "failed": 0, "cancelled": 0, "resent": 0, "parents": 0}

        assert services.job_execute(job_id=first.pk) == JobStatus.DONE
        parent = _reload(parent)
        assert (parent.status, parent.done, parent.percent) == (JobStatus.RUNNING, 2, 40) and not summaries
        panel = render_to_string("jobs/_progress.html", {"job": parent, "panel": "p", "poll_url": "/", "bar_id": "b"})
        assert "Working in parts: 2 of 5 steps (40%)" in panel and 'hx-trigger="every 1s"' in panel

        assert services.job_execute(job_id=second.pk) == JobStatus.DONE
        parent = _reload(parent)
        assert (parent.status, parent.done, parent.error, parent.lease_expires_at) == (
            JobStatus.DONE, 5, "All 2 parts done.", None,
        )  # fmt: skip
        assert parent.finished_at is not None and summaries == [parent.pk] and _finish_transitions(parent) == 1
        # A part's message delivered again changes nothing.
        assert services.job_execute(job_id=second.pk) == JobStatus.DONE and summaries == [parent.pk]


def test_a_split_into_no_parts_is_done_at_once(alice: Any, behaviour: dict[str, Any]) -> None:
    behaviour["plan"] = list
    with alice.scope():
        parent = Job.objects.create(kind=PARENT)
        assert services.job_execute(job_id=parent.pk) == JobStatus.DONE
        assert _reload(parent).error == "All 0 parts done." and not Job.objects.filter(parent=parent).exists()


def test_a_failed_part_fails_the_parent_naming_it_and_a_retry_runs_only_what_failed(
    alice: Any, behaviour: dict[str, Any]
) -> None:
    ran: list[int] = []

    def part(job: Job, progress: Progress) -> Outcome | None:
        ran.append(job.payload["n"])
        if job.payload["n"] == 2 and ran.count(2) == 1:
            return Outcome.failure("Row 3: the amount is not a number.", retryable=True)
        return None

    behaviour["part"] = part
    with alice.scope():
        parent, (first, second) = _split(behaviour)
        services.job_execute(job_id=second.pk)
        assert _reload(parent).status == JobStatus.RUNNING  # the first part still runs
        services.job_execute(job_id=first.pk)
        parent = _reload(parent)
        assert (parent.status, parent.error, parent.retryable) == (
            JobStatus.FAILED, "Part 2 of 2 failed: Row 3: the amount is not a number.", True,
        )  # fmt: skip
        assert not summaries and _finish_transitions(parent) == 1

        again = services.job_retry(actor=alice.user, job=second)  # a part is retried through its parent
        assert again.pk == parent.pk and again.waiting_for_parts and (again.error, again.done) == ("", 2)
        assert (_reload(first).status, _reload(second).status) == (JobStatus.DONE, JobStatus.QUEUED)
        services.job_execute(job_id=second.pk)
        assert ran == [2, 1, 2]  # the part done was not run again
        parent = _reload(parent)
        assert (parent.status, parent.error, parent.done) == (JobStatus.DONE, "All 2 parts done.", 5)


def test_cancelling_the_parent_cancels_its_parts(alice: Any, behaviour: dict[str, Any]) -> None:
    behaviour["plan"] = lambda: [(1, 1), (2, 1), (3, 1)]
    with alice.scope():
        parent, (first, second, third) = _split(behaviour)
        services.job_execute(job_id=first.pk)  # done
        assert services._claim(second.pk) is not None  # running on a worker
        asked = services.job_cancel(actor=alice.user, job=parent)
        assert asked.status == JobStatus.RUNNING and asked.cancelling  # the running part has not stopped yet
        assert _reload(third).status == JobStatus.CANCELLED and _reload(second).cancel_requested_at is not None
        assert services.job_execute(job_id=third.pk) == JobStatus.CANCELLED  # its message: nothing runs
        # The running part's worker dies; the sweeper ends it cancelled, and with it the parent.
        Job.objects.filter(pk=second.pk).update(lease_expires_at=parent.queued_at)
        assert services.jobs_sweep_firm()["cancelled"] == 1
        parent = _reload(parent)
        cancelled = services._say(services.CANCELLED, PARENT)  # a step-by-step kind: what was done is kept
        assert (parent.status, parent.error, parent.retryable) == (JobStatus.CANCELLED, cancelled, True)
        assert _reload(first).status == JobStatus.DONE and not summaries


def test_the_sweeper_queues_a_part_whose_worker_died_and_fails_the_parent_after_the_last_attempt(
    alice: Any, behaviour: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.JOB_MAX_ATTEMPTS = 2
    with alice.scope():
        parent, (first, second) = _split(behaviour)
        services.job_execute(job_id=first.pk)
        for attempt in (1, 2):
            claimed = services._claim(second.pk)  # a worker takes it and dies
            assert claimed is not None and claimed.attempts == attempt
            Job.objects.filter(pk=second.pk).update(lease_expires_at=parent.queued_at)
            with django_capture_on_commit_callbacks(execute=False) as sent:
                counts = services.jobs_sweep_firm()
            if attempt == 1:
                assert counts["requeued"] == 1 and len(sent) == 1  # sent to a worker again
                assert _reload(second).status == JobStatus.QUEUED and _reload(parent).waiting_for_parts
        assert counts["failed"] == 1
        parent = _reload(parent)
        assert parent.status == JobStatus.FAILED and parent.error == "Part 2 of 2 failed: " + services._say(
            services.WORKER_STOPPED, PART
        )
        assert _finish_transitions(parent) == 1


def test_the_sweeper_finishes_a_parent_whose_parts_all_ended(alice: Any, behaviour: dict[str, Any]) -> None:
    """The net under the kit: parts ended some other way than through the kit still end the parent."""
    with alice.scope():
        parent, _ = _split(behaviour)
        Job.objects.filter(parent=parent).update(status=JobStatus.DONE, done=1)
        assert services.jobs_sweep_firm()["parents"] == 1
        assert _reload(parent).status == JobStatus.DONE and summaries == [parent.pk]
        assert services.jobs_sweep_firm()["parents"] == 0


# --- Real concurrency: parts in threads with their own connections --------------------------------------


@pytest.fixture
def firm(committed_db: None, queue: str) -> Any:  # noqa: F811 - the fixture imported above
    """Committed rows, and tasks sent to a queue of the test's own that no worker reads (not run
    inline): the test runs each part itself."""
    return FirmFactory(slug="jobs-parts")


def test_two_parts_that_finish_at_once_finish_the_parent_once(firm: Any, behaviour: dict[str, Any]) -> None:
    together = threading.Barrier(2, timeout=WAIT)

    def part(job: Job, progress: Progress) -> None:
        progress.update(1, force=True)
        together.wait()  # both return at the same moment: both results race for "the last part"

    behaviour["part"] = part
    for _ in range(3):  # a race: a few rounds
        summaries.clear()
        with firm_scope(firm):
            parent, pieces = _split(behaviour)

        def work(index: int, pieces: list[Job] = pieces) -> str:
            with firm_scope(firm):
                return services.job_execute(job_id=pieces[index].pk)

        assert run_concurrently(2, work) == ["done", "done"]
        with firm_scope(firm):
            parent = _reload(parent)
            assert (parent.status, parent.done, parent.error) == (JobStatus.DONE, 5, "All 2 parts done.")
            assert summaries == [parent.pk] and _finish_transitions(parent) == 1


def test_a_parts_progress_is_seen_on_the_parent_while_it_runs(firm: Any, behaviour: dict[str, Any]) -> None:
    written, seen = threading.Event(), threading.Event()

    def part(job: Job, progress: Progress) -> None:
        if job.payload["n"] == 2:
            progress.update(1, force=True)
            written.set()
            assert seen.wait(WAIT)

    behaviour["part"] = part
    with firm_scope(firm):
        parent, (first, second) = _split(behaviour)
        assert services.job_execute(job_id=first.pk) == JobStatus.DONE  # 2 of 2

    result: list[str] = []

    def run() -> None:
        try:
            with firm_scope(firm):
                result.append(services.job_execute(job_id=second.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert written.wait(WAIT)
        with firm_scope(firm):
            running = _reload(parent)
            assert (running.status, running.done, running.total) == (JobStatus.RUNNING, 3, 5)  # 2 + 1 of 3
            assert running.heartbeat_at is not None
    finally:
        seen.set()
    thread.join(WAIT)
    assert result == ["done"]
    with firm_scope(firm):
        assert (_reload(parent).status, _reload(parent).done) == (JobStatus.DONE, 5)
