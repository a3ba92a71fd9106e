"""Parts: one job's work split over several jobs that the workers run side by side (a statement
run's statements, a fee run's accounts), the one job staying what people see and wait for.

- **Fanning out.** A kind's ``run`` returns ``split(kind=…, parts=[Part(payload, total), …])``.
  In the job's result transaction the kit creates one queued job of ``kind`` per part (``parent``
  the job, ``payload`` what it works on: ids as JSON, never objects) and sends them after commit.
  The job stays running with no lease: no worker holds it, so the sweeper leaves it alone
  (``Job.waiting_for_parts``). Nothing of a part can run before the parent waits for it.
- **A part is a normal job**: claimed by one worker, its lease renewed by its progress, queued
  again by the sweeper when its worker died, failed after ``JOB_MAX_ATTEMPTS``. A part kind that
  commits step by step (``atomic=False``) must resume as any such kind must.
- **Progress.** Each progress write of a part also writes the parent's ``done``: the sum of its
  parts' (the parent's ``total`` is the sum of theirs, fixed when it fanned out).
- **Finishing once.** Every path that ends a part (its result, a failure, a cancel, the sweeper)
  first locks the parent's row, then ends the part, then, in the same transaction, reads its
  siblings: when none is queued or running it finishes the parent by one conditional UPDATE
  (running, no lease). The lock makes parts that end at the same moment take turns, and the second
  reads the first's commit, so exactly one of them finds itself last. The parent ends done (with
  its kind's ``summary`` as the note), cancelled (it or a part was cancelled), or failed naming the
  first part that failed and its message.
- **Cancel and retry** of the parent reach its parts: a cancel cancels the queued ones at once and
  asks the running ones to stop; a retry queues again the parts that failed or were cancelled,
  and those done stay done.

Lock order, on every path: the parent's row, then a part's (so a cancel never deadlocks with a
part ending or writing its progress).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef
from django.db.models.functions import Now
from django.utils import timezone

from advisorportal.jobs import kinds
from advisorportal.jobs.kinds import Outcome, Part
from advisorportal.jobs.models import ACTIVE, Job, JobStatus

if TYPE_CHECKING:
    from advisorportal.jobs.progress import Progress

__all__ = ["Part", "split"]


def split(*, kind: str, parts: Sequence[Part]) -> Outcome:
    """What a run returns to hand its work to ``parts``, each run as a job of ``kind`` (registered).
    With no parts the job is done at once (with its kind's summary)."""
    kinds.get(kind)
    return Outcome(parts=tuple(parts), part_kind=kind)


def lock_parent(job: Job) -> None:
    """Before a part's row changes state: its parent's row, locked to the end of the transaction."""
    if job.parent_id is not None:
        list(Job.objects.select_for_update().filter(pk=job.parent_id).values_list("pk", flat=True))


def start(job: Job, outcome: Outcome, progress: Progress) -> bool:
    """The job's result when its run split it (``services._finish``, in the result's transaction):
    the parts written and sent after commit, the job left waiting for them. False when this attempt
    no longer holds the job, or a cancel was asked for (the caller tells which)."""
    from advisorportal.jobs import services

    total = sum(max(0, part.total) for part in outcome.parts)
    waiting = services._held(job).filter(cancel_requested_at__isnull=True)
    if not waiting.update(phase=progress.phase, total=total, done=0, heartbeat_at=Now(), lease_expires_at=None):
        return False
    if not outcome.parts:
        _finish_parent(job.pk)
        return True
    rows = [
        Job(kind=outcome.part_kind, parent_id=job.pk, total=max(0, part.total), payload=part.payload,
            created_by_id=job.created_by_id)
        for part in outcome.parts
    ]  # fmt: skip
    for row in rows:
        row.full_clean(exclude=["created_by", "parent"])
    Job.objects.bulk_create(rows)
    services._audit(job, JobStatus.RUNNING, JobStatus.RUNNING, parts=len(rows))
    for row in rows:
        services._audit(row, None, JobStatus.QUEUED, parent=job.pk)
        services._send(row)
    return True


def part_ended(job: Job) -> None:
    """After a part's row moved to done, failed or cancelled (its parent locked by ``lock_parent``
    first, in the same transaction): the parent finished if that was its last part."""
    if job.parent_id is not None:
        _finish_parent(job.parent_id)


def _finish_parent(parent_id: int) -> str | None:
    """With the parent's row locked: if none of its parts is queued or running, finish it by one
    conditional UPDATE; else bring its progress up to date. Returns the status it finished with."""
    from advisorportal.jobs import services

    rows = list(
        Job.objects.filter(parent_id=parent_id).order_by("pk").values_list("status", "done", "total", "error",
                                                                            "retryable")
    )  # fmt: skip
    done, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    waiting = Job.objects.filter(pk=parent_id, status=JobStatus.RUNNING, lease_expires_at__isnull=True)
    if any(r[0] in ACTIVE for r in rows):
        waiting.update(done=done)
        return None
    parent = waiting.only("pk", "firm_id", "kind", "attempts", "cancel_requested_at", "created_by_id").first()
    if parent is None:
        return None  # finished already (or not waiting for parts)
    failed = [(number, r) for number, r in enumerate(rows, start=1) if r[0] == JobStatus.FAILED]
    if parent.cancel_requested_at is not None or any(r[0] == JobStatus.CANCELLED for r in rows):
        status, message, retryable = JobStatus.CANCELLED, services._say(services.CANCELLED, parent.kind), True
    elif failed:
        number, row = failed[0]
        status, retryable = JobStatus.FAILED, all(r[4] for _, r in failed)
        message = f"Part {number} of {len(rows)} failed: {row[3]}"
    else:
        summary = _summary(parent.kind)
        status, message, retryable = JobStatus.DONE, summary(parent) if summary else "", False
        done = max(done, total)
    if not waiting.update(status=status, error=message[:2000], retryable=retryable, done=done, total=total,
                          finished_at=Now()):  # fmt: skip
        return None
    services._audit(parent, JobStatus.RUNNING, status, error=message[:2000])
    return status


def _summary(kind: str) -> kinds.Summary | None:
    try:
        return kinds.get(kind).summary
    except LookupError:
        return None


def cancel(parent: Job, *, actor: Any) -> None:
    """``job_cancel`` of a job waiting for its parts (its row locked): the queued parts cancelled at
    once, the running ones asked to stop at their next progress write; the parent ends cancelled
    when the last of them has."""
    from advisorportal.jobs import services

    queued = Job.objects.filter(parent_id=parent.pk, status=JobStatus.QUEUED)
    for part in queued.only("pk", "firm_id", "kind", "attempts").order_by("pk"):
        message = services._say(services.CANCELLED_BEFORE_START, part.kind)
        if Job.objects.filter(pk=part.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, error=message, retryable=True, finished_at=Now()
        ):
            services._audit(part, JobStatus.QUEUED, JobStatus.CANCELLED, actor=actor)
    running = Job.objects.filter(parent_id=parent.pk, status=JobStatus.RUNNING, cancel_requested_at__isnull=True)
    for part in running.only("pk", "firm_id", "kind", "attempts").order_by("pk"):
        if Job.objects.filter(pk=part.pk, status=JobStatus.RUNNING, cancel_requested_at__isnull=True).update(
            cancel_requested_at=Now()
        ):
            services._audit(part, JobStatus.RUNNING, JobStatus.RUNNING, actor=actor, cancel="requested")
    _finish_parent(parent.pk)


def has_parts(job: Job) -> bool:
    return Job.objects.filter(parent_id=job.pk).exists()


def retry(parent: Job, *, actor: Any) -> None:
    """``job_retry`` of a job whose parts ended (its row locked): the parts that failed or were
    cancelled are queued again from their start (a step-by-step kind carries on from what it
    committed); those done stay done; the parent waits again."""
    from advisorportal.jobs import services

    Job.objects.filter(pk=parent.pk).update(
        status=JobStatus.RUNNING, error="", retryable=False, finished_at=None, cancel_requested_at=None,
        lease_expires_at=None, heartbeat_at=Now(),
    )  # fmt: skip
    services._audit(parent, parent.status, JobStatus.RUNNING, actor=actor, retry="requested")
    again = Job.objects.filter(parent_id=parent.pk, status__in=(JobStatus.FAILED, JobStatus.CANCELLED))
    for part in again.only("pk", "firm_id", "kind", "attempts", "status").order_by("pk"):
        Job.objects.filter(pk=part.pk).update(
            status=JobStatus.QUEUED, attempts=0, error="", issues=[], phase="", done=0, queued_at=timezone.now(),
            started_at=None, finished_at=None, heartbeat_at=None, lease_expires_at=None, cancel_requested_at=None,
            claim=None, retryable=False,
        )  # fmt: skip
        services._audit(part, part.status, JobStatus.QUEUED, actor=actor, retry="requested")
        services._send(part)
    _finish_parent(parent.pk)


def sweep() -> int:
    """The sweeper's last look (in its transaction, the firm in scope): a job waiting for parts that
    have all ended is finished. Every path of the kit that ends a part does this itself, in the
    same transaction; this is the net under a part ended some other way."""
    waiting = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__isnull=True).filter(
        Exists(Job.objects.filter(parent_id=OuterRef("pk")))
    )
    finished = 0
    for parent_id in waiting.order_by("pk").values_list("pk", flat=True):
        if Job.objects.select_for_update().filter(pk=parent_id).exists() and _finish_parent(parent_id):
            finished += 1
    return finished
