"""One background job: what runs, how far it got, who holds it and until when, how it ended.

A job is claimed by one worker at a time: the claim is a conditional UPDATE that moves it from
queued to running, counts the attempt and gives the worker a lease (``lease_expires_at``), which
every progress write renews. A job whose lease ran out has lost its worker; the sweeper queues it
again or, after ``JOB_MAX_ATTEMPTS``, fails it. Each claim draws a new ``claim`` token, which every
write of that worker names (a fencing token), so a worker that lost its job writes nothing more.

A job may fan out into **parts** (``advisorportal.jobs.parts``): jobs of their own (claim, lease,
attempts) whose ``parent`` it is. While they run the parent is running with no lease (no worker
holds it, so the sweeper leaves it alone); its progress is the sum of theirs, and it finishes when
the last of them does.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from advisorportal.tenancy.models import FirmOwnedModel


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
FINISHED = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})


class Job(FirmOwnedModel):
    """``issues`` is a list of ``{"row", "column", "message", "level"}`` (``advisorportal.jobs.issues``):
    what the job found wrong (or noted) in its input, by row and column."""

    # The kit records each transition itself (services._audit: created, claimed, finished, failed,
    # cancel asked, retried, queued again by the sweeper), not each write: progress writes are a
    # heartbeat every half second. What the job changed is audited by its pipeline.
    audited = False

    kind = models.CharField(max_length=40, help_text="The registered kind of job (advisorportal.jobs.kinds).")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    phase = models.CharField(max_length=60, blank=True, help_text="What the job is doing now, for people.")
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0, help_text="0 while the amount of work is not known.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Claims since it was queued or retried.")
    claim = models.UUIDField(null=True, blank=True, editable=False, help_text="The current claim's token.")
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why it failed or was cancelled, for people.")
    retryable = models.BooleanField(default=False, help_text="Whether running it again could end otherwise.")
    issues = models.JSONField(default=list, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="parts",
        help_text="The job this one is a part of (advisorportal.jobs.parts).",
    )  # fmt: skip
    payload = models.JSONField(default=dict, blank=True, help_text="What a part works on, given by its parent.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Who started it; empty for scheduled jobs.",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(FirmOwnedModel.Meta):
        indexes = [
            # The sweeper's two questions, per firm: whose lease ran out, and which queued job
            # waited too long (its message may be lost). Partial: finished jobs are most of them.
            models.Index(
                fields=["firm", "lease_expires_at"],
                condition=models.Q(status="running"),
                name="jobs_job_running_lease_idx",
            ),
            models.Index(fields=["firm", "queued_at"], condition=models.Q(status="queued"), name="jobs_job_queued_idx"),
        ]

    def __str__(self) -> str:
        return f"Job #{self.pk} {self.kind} ({self.status})"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int | None:
        """Done as a whole percentage; None while the amount of work is not known."""
        if self.status == JobStatus.DONE:
            return 100
        if not self.total:
            return None
        return min(100, self.done * 100 // self.total)

    @property
    def waiting_for_parts(self) -> bool:
        """Running with no worker holding it: its parts do the work (``advisorportal.jobs.parts``)."""
        return self.status == JobStatus.RUNNING and self.lease_expires_at is None

    @property
    def cancelling(self) -> bool:
        return self.status == JobStatus.RUNNING and self.cancel_requested_at is not None
