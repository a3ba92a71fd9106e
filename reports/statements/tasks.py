"""Celery beat: scheduled report definitions, one task per firm (thin: the work is in ``delivery``)."""

from __future__ import annotations

from celery import shared_task

from advisorportal.tenancy.context import firm_task, queue_per_firm
from reports.statements import delivery


@shared_task(acks_late=True)
@firm_task
def definitions_due_firm(firm_id: int) -> int:
    """Start the run of each of the firm's scheduled definitions that is due (a rerun starts none again)."""
    return delivery.definitions_run_due()


@shared_task(acks_late=True)
def definitions_due_all() -> int:
    """Celery beat: one ``definitions_due_firm`` per firm; returns the firms queued."""
    return queue_per_firm(definitions_due_firm)
