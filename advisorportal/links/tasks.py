"""Celery beat: close expired links, one task per firm (each in its own scope)."""

from __future__ import annotations

from celery import shared_task

from advisorportal.links import services
from advisorportal.tenancy.context import firm_task, queue_per_firm


@shared_task(acks_late=True)
@firm_task
def links_expire_firm(firm_id: int) -> int:
    """Close the firm's expired links; a rerun closes nothing new."""
    return services.links_expire()


@shared_task(acks_late=True)
def links_expire_all() -> int:
    """Celery beat: one ``links_expire_firm`` per firm; returns the firms queued."""
    return queue_per_firm(links_expire_firm)
