"""Every write of background jobs: create, run (claim, result), cancel, retry, and the sweeper that
finds jobs whose worker died.

States: queued -> running -> done | failed | cancelled; failed and cancelled jobs that may end
otherwise go back to queued by ``job_retry``, and running jobs whose lease ran out go back to
queued (or to failed, after ``JOB_MAX_ATTEMPTS``) by the sweeper. Nothing stays running: a worker
that stops without a result leaves a lease that runs out. A job split into parts
(``advisorportal.jobs.parts``) runs with no lease while they do, and ends with the last of them.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from advisorportal import auditing, request_context
from advisorportal.jobs import issues as job_issues
from advisorportal.jobs import kinds, parts
from advisorportal.jobs.issues import Issue
from advisorportal.jobs.models import Job, JobStatus
from advisorportal.jobs.progress import JobCancelled, JobLost, Progress, lease_seconds
from advisorportal.tenancy.context import firm_scope

logger = logging.getLogger(__name__)

WORKER_STOPPED = "The worker stopped while this job was running; nothing was applied. Retry."
CANCELLED = "Cancelled; nothing was applied."
CANCELLED_BEFORE_START = "Cancelled before it started; nothing was applied."
UNEXPECTED = "The job stopped on an unexpected error; nothing was applied. Retry, or report job #{id}."
# The same for kinds that commit step by step (``JobKind.atomic=False``): what they did is kept.
STEPWISE = {
    WORKER_STOPPED: "The worker stopped while this job was running; what it finished is kept. Retry to carry on.",
    CANCELLED: "Cancelled; what was done before the cancel is kept.",
    CANCELLED_BEFORE_START: "Cancelled while waiting for a worker; what was done before is kept.",
    UNEXPECTED: "The job stopped on an unexpected error; what it finished is kept. Retry to carry on, or report "
    "job #{id}.",
}


def _say(message: str, kind: str) -> str:
    """The kit's message for a job of ``kind`` (stepwise kinds keep their work)."""
    try:
        atomic = kinds.get(kind).atomic
    except LookupError:
        atomic = True
    return message if atomic else STEPWISE.get(message, message)


def max_attempts() -> int:
    return int(settings.JOB_MAX_ATTEMPTS)


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=lease_seconds())


def _send(job: Job) -> None:
    """Queue the job's task once the current transaction commits. ``robust``: a broker that is down
    must not undo (or fail) the request that committed the job; the sweeper sends it again."""
    from advisorportal.jobs.tasks import run_job

    firm_id, job_id = job.firm_id, job.pk
    transaction.on_commit(lambda: run_job.delay(firm_id, job_id), robust=True)


@transaction.atomic
def job_create(
    *, actor: Any, kind: str, total: int = 0, phase: str = "", failed: str = "", issues: list[Issue] | None = None
) -> Job:
    """A queued job of a registered ``kind``, run by a worker after commit. With ``failed`` (the
    reason), a job that is refused before it starts: recorded as failed, never run."""
    kinds.get(kind)
    job = Job(kind=kind, total=total, phase=phase, created_by=actor if getattr(actor, "pk", None) else None)
    if failed:
        job.status, job.error, job.finished_at = JobStatus.FAILED, failed, timezone.now()
        job.issues = job_issues.stored(issues or [])
    job.full_clean()
    job.save()
    _audit(job, None, job.status, actor=actor, error=job.error)
    if not failed:
        _send(job)
    return job


@transaction.atomic
def _claim(job_id: int) -> Job | None:
    """Take a queued job for this worker: ONE conditional UPDATE, so of two workers handed the same
    job (a message delivered twice) one gets it and the other nothing. Committed before the job's
    own transaction starts, so everyone sees it running."""
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        claim=uuid.uuid4(),
        started_at=Coalesce(F("started_at"), Now()),
        heartbeat_at=Now(),
        lease_expires_at=Now() + _lease(),
        done=0,
    )
    if not claimed:
        return None
    job = Job.objects.select_related("created_by").defer("issues").get(pk=job_id)
    with request_context.acting(request_context.RequestContext(actor_id=job.created_by_id)):
        _audit(job, JobStatus.QUEUED, JobStatus.RUNNING)
    return job


def _audit(job: Job, old: str | None, new: str, *, actor: Any = None, **details: Any) -> None:
    """One entry per transition, in its transaction (``Job.audited`` is off: see the model), by the
    current actor: the person who created, cancelled or retried it, the job's starter for what its
    worker did, nobody for the sweeper."""
    changes = {"status": [old, new], "attempt": [None, job.attempts]}
    changes |= {name: [None, value] for name, value in details.items() if value}
    action = auditing.CREATE if old is None else auditing.UPDATE
    auditing.record(
        action=action, obj=job, object_repr=f"Job #{job.pk} {job.kind}", changes=changes,
        actor_id=getattr(actor, "pk", None),
    )  # fmt: skip


def _held(job: Job) -> Any:
    """The job's row, if this attempt still holds it."""
    return Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, claim=job.claim)


def _message(error: Exception, job: Job) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)[:2000]
    return _say(UNEXPECTED, job.kind).format(id=job.pk)


def job_execute(*, job_id: int) -> str:
    """Claim a job and run it (the Celery task's body); returns its status afterwards. A job that is
    not queued (running elsewhere, finished, cancelled) is left alone, so a message delivered twice
    runs the job once."""
    job = _claim(job_id)
    if job is None:
        return str(Job.objects.filter(pk=job_id).values_list("status", flat=True).first() or "missing")
    progress = Progress(job)
    context = request_context.RequestContext(actor_id=job.created_by_id)
    with request_context.acting(context):
        try:
            kind = kinds.get(job.kind)
            if kind.atomic:
                with transaction.atomic():
                    outcome = kind.run(job, progress) or kinds.Outcome()
                    progress.close()
                    _finish(job, outcome, progress)
            else:  # the run commits its own steps; only the result is one transaction here
                outcome = kind.run(job, progress) or kinds.Outcome()
                progress.close()
                with transaction.atomic():
                    _finish(job, outcome, progress)
        except JobCancelled:
            _end(job, JobStatus.CANCELLED, _say(CANCELLED, job.kind), retryable=True)
        except JobLost:
            logger.warning("Job %s (attempt %s) was taken from this worker; its work was rolled back.",
                           job.pk, job.attempts)  # fmt: skip
        except Exception as error:
            if not isinstance(error, ValidationError):
                logger.exception("Job %s (%s) failed", job.pk, job.kind)
            _end(job, JobStatus.FAILED, _message(error, job), retryable=True)
        finally:
            progress.close()
    return str(Job.objects.filter(pk=job_id).values_list("status", flat=True).first())


def _finish(job: Job, outcome: kinds.Outcome, progress: Progress) -> None:
    """The result, written in the job's own transaction (so it commits with the work, or not at
    all), only while this attempt holds the job and nobody asked to cancel it. A run that split the job
    leaves it waiting for its parts (``parts.start``); a part that ends may finish its parent."""
    parts.lock_parent(job)
    if outcome.part_kind:
        if parts.start(job, outcome, progress):
            return
        _refused(job)
    values: dict[str, Any] = {
        "status": JobStatus.FAILED if outcome.failed else JobStatus.DONE,
        "error": outcome.message[:2000],
        "retryable": outcome.retryable,
        "issues": job_issues.stored(outcome.issues),
        "total": progress.total,
        "done": progress.done if outcome.failed else max(progress.total, progress.done),
        "phase": "",
        "finished_at": Now(),
        "lease_expires_at": None,
    }
    if _held(job).filter(cancel_requested_at__isnull=True).update(**values):
        _audit(job, JobStatus.RUNNING, values["status"], error=values["error"])
        parts.part_ended(job)
        return
    _refused(job)


def _refused(job: Job) -> None:
    """Why this attempt's result was not written: a cancel, or the job is no longer its."""
    if _held(job).exists():
        raise JobCancelled(f"Job {job.pk} was cancelled.")
    raise JobLost(f"Job {job.pk} is no longer held by this worker (attempt {job.attempts}).")


def _end(job: Job, status: str, message: str, *, retryable: bool) -> None:
    """After the job's transaction rolled back: record how it ended, if this attempt still holds it."""
    with transaction.atomic():
        parts.lock_parent(job)
        if _held(job).update(
            status=status, error=message, retryable=retryable, phase="", finished_at=Now(), lease_expires_at=None
        ):
            _audit(job, JobStatus.RUNNING, status, error=message)
            parts.part_ended(job)


@transaction.atomic
def job_cancel(*, actor: Any, job: Job) -> Job:
    """Cancel a job: a queued one at once; a running one at its next progress write (its work is then
    rolled back and it ends as cancelled); one waiting for its parts, through them (``parts.cancel``)."""
    parts.lock_parent(job)
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status == JobStatus.QUEUED:
        job.status, job.error, job.retryable, job.finished_at = (
            JobStatus.CANCELLED, _say(CANCELLED_BEFORE_START, job.kind), True, timezone.now(),
        )  # fmt: skip
        job.save(update_fields=["status", "error", "retryable", "finished_at"])
        _audit(job, JobStatus.QUEUED, JobStatus.CANCELLED, actor=actor)
        parts.part_ended(job)
    elif job.status == JobStatus.RUNNING:
        if job.cancel_requested_at is None:
            job.cancel_requested_at = timezone.now()
            job.save(update_fields=["cancel_requested_at"])
            _audit(job, JobStatus.RUNNING, JobStatus.RUNNING, actor=actor, cancel="requested")
        if job.waiting_for_parts:
            parts.cancel(job, actor=actor)
            job.refresh_from_db()
    else:
        raise ValidationError({"status": f"This job is {job.get_status_display().lower()}; it cannot be cancelled."})
    return job


@transaction.atomic
def job_retry(*, actor: Any, job: Job) -> Job:
    """Run a failed or cancelled job again, from the start, with a fresh count of attempts; a job split
    into parts, through them (``parts.retry``: the parts not done run again). A part is retried
    through its parent, once that has ended."""
    if job.parent_id is not None:
        return job_retry(actor=actor, job=Job.objects.get(pk=job.parent_id))
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED) or not job.retryable:
        raise ValidationError({"status": "Only a job that failed on its own or was cancelled can be run again."})
    if parts.has_parts(job):
        parts.retry(job, actor=actor)
        job.refresh_from_db()
        return job
    old = job.status
    job.status, job.attempts, job.error, job.issues, job.phase, job.done = JobStatus.QUEUED, 0, "", [], "", 0
    job.queued_at, job.started_at, job.finished_at = timezone.now(), None, None
    job.heartbeat_at = job.lease_expires_at = job.cancel_requested_at = job.claim = None
    job.full_clean()
    job.save()
    _audit(job, old, JobStatus.QUEUED, actor=actor, retry="requested")
    _send(job)
    return job


# --- The sweeper ----------------------------------------------------------------------------------


def jobs_sweep() -> dict[str, int]:
    """Celery beat, every minute: in each firm, running jobs whose lease ran out are queued again (up
    to ``JOB_MAX_ATTEMPTS`` attempts) or failed with ``WORKER_STOPPED``, and queued jobs that waited
    a whole lease are sent again (their message may be lost). Firms are identity data, not
    firm-owned, so listing them needs no scope; each firm is then swept in its own."""
    firm_model = Job._meta.get_field("firm").related_model
    totals = {"requeued": 0, "failed": 0, "cancelled": 0, "resent": 0, "parents": 0}
    for firm_id in firm_model.objects.order_by("pk").values_list("pk", flat=True):  # type: ignore[union-attr]
        with firm_scope(firm_id):
            for key, count in jobs_sweep_firm().items():
                totals[key] += count
    return totals


@transaction.atomic
def jobs_sweep_firm() -> dict[str, int]:
    """The sweep of the firm in scope (see ``jobs_sweep``). Each change is a conditional UPDATE on the
    state read, so a worker that renews its lease meanwhile keeps its job."""
    counts = {"requeued": 0, "failed": 0, "cancelled": 0, "resent": 0, "parents": 0}
    expired = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=Now()).order_by("pk")
    for job in expired.only("pk", "firm_id", "kind", "attempts", "claim", "cancel_requested_at", "parent_id"):
        parts.lock_parent(job)
        stale = _held(job).filter(lease_expires_at__lt=Now())
        ended = {"phase": "", "finished_at": Now(), "lease_expires_at": None, "retryable": True}
        if job.cancel_requested_at is not None:
            if stale.update(status=JobStatus.CANCELLED, error=_say(CANCELLED, job.kind), **ended):
                counts["cancelled"] += 1
                _audit(job, JobStatus.RUNNING, JobStatus.CANCELLED, error=_say(CANCELLED, job.kind))
                parts.part_ended(job)
        elif job.attempts < max_attempts():
            if stale.update(status=JobStatus.QUEUED, phase="", queued_at=Now(), lease_expires_at=None, claim=None):
                counts["requeued"] += 1
                _audit(job, JobStatus.RUNNING, JobStatus.QUEUED, reason="the worker stopped (its lease ran out)")
                _send(job)
        elif stale.update(status=JobStatus.FAILED, error=_say(WORKER_STOPPED, job.kind), **ended):
            counts["failed"] += 1
            _audit(job, JobStatus.RUNNING, JobStatus.FAILED, error=_say(WORKER_STOPPED, job.kind))
            parts.part_ended(job)
    waited = Now() - _lease()
    for job in Job.objects.filter(status=JobStatus.QUEUED, queued_at__lt=waited).only("pk", "firm_id", "queued_at"):
        if Job.objects.filter(Q(pk=job.pk, status=JobStatus.QUEUED, queued_at=job.queued_at)).update(queued_at=Now()):
            counts["resent"] += 1
            _send(job)
    counts["parents"] = parts.sweep()
    return counts
