"""Background jobs of custodian imports: thin, idempotent, scoped to one firm."""

from __future__ import annotations

from celery import shared_task

from advisorportal.tenancy.context import firm_task
from portfolios.custodian import services


@shared_task(acks_late=True)
@firm_task
def run_import(firm_id: int, job_id: int) -> str:
    """Validate and apply one import job; returns its final status. A finished job is not run again."""
    return services.job_run(job_id=job_id).status
