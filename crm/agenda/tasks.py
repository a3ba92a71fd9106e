"""Celery beat: email the task reminders that are due, one task per firm (each in its scope)."""

from __future__ import annotations

from celery import shared_task

from advisorportal.tenancy.context import firm_task, queue_per_firm
from crm.agenda import services


@shared_task(acks_late=True)
@firm_task
def task_reminders_firm(firm_id: int) -> int:
    """The firm's due task reminders; a rerun sends none of them again."""
    return services.task_reminders_send()


@shared_task(acks_late=True)
def task_reminders_all() -> int:
    """Celery beat: one ``task_reminders_firm`` per firm; returns the firms queued."""
    return queue_per_firm(task_reminders_firm)


@shared_task(acks_late=True)
@firm_task
def task_due_notifications_firm(firm_id: int) -> int:
    """Tell the assignees of the firm's tasks that fell due; a rerun tells nobody again."""
    from crm.agenda.due import task_due_notifications_send

    return task_due_notifications_send()


@shared_task(acks_late=True)
def task_due_notifications_all() -> int:
    """Celery beat: one ``task_due_notifications_firm`` per firm; returns the firms queued."""
    return queue_per_firm(task_due_notifications_firm)
