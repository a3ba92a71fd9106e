"""The one task that runs every background job, and the sweeper (Celery beat, every minute)."""

from __future__ import annotations

from celery import shared_task

from advisorportal.jobs import services
from advisorportal.tenancy.context import firm_task


@shared_task(acks_late=True)
@firm_task
def run_job(firm_id: int, job_id: int) -> str:
    """Claim and run one job; returns its status afterwards. Idempotent: a job that is not queued
    (running elsewhere, finished) is left alone, so a redelivered message changes nothing."""
    return services.job_execute(job_id=job_id)


@shared_task(acks_late=True)
def sweep_jobs() -> dict[str, int]:
    """Jobs whose worker died: queued again or failed; queued jobs whose message was lost: sent again."""
    return services.jobs_sweep()
