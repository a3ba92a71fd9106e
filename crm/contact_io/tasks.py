"""Background jobs of contact imports: thin, idempotent (a finished job is not applied again)."""

from __future__ import annotations

from celery import shared_task

from accounts.models import User
from advisorportal.tenancy.context import firm_task
from crm.contact_io import services


@shared_task(acks_late=True)
@firm_task
def apply_import(firm_id: int, job_id: int, actor_id: int) -> str:
    """Apply one previewed import; returns its final status."""
    actor = User.objects.get(pk=actor_id, firm_id=firm_id)
    return str(services.import_apply(job_id=job_id, actor=actor).status)
