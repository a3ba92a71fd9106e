"""Celery beat: email the calendar reminders that are due, one task per firm (each in its scope)."""

from __future__ import annotations

from celery import shared_task

from advisorportal.tenancy.context import firm_task, queue_per_firm
from crm.agenda.calendar import services


@shared_task(acks_late=True)
@firm_task
def calendar_reminders_firm(firm_id: int) -> int:
    """The firm's due reminders; a rerun (or a second beat) sends none of them again."""
    return services.reminders_send_due()


@shared_task(acks_late=True)
def calendar_reminders_all() -> int:
    """Celery beat: one ``calendar_reminders_firm`` per firm; returns the firms queued."""
    return queue_per_firm(calendar_reminders_firm)
