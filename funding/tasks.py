"""Celery tasks of money movement (thin: the work is in ``funding.services``)."""

from __future__ import annotations

from celery import shared_task

from advisorportal.tenancy.context import firm_task, queue_per_firm
from funding import services


@shared_task(acks_late=True)
@firm_task
def funding_match_custodian(firm_id: int, account_ids: list[int]) -> int:
    """Complete the submitted requests a custodian file recorded (a rerun completes nothing new)."""
    return services.requests_match_custodian(account_ids=account_ids)


def queue_match(firm_id: int, account_ids: list[int]) -> None:
    funding_match_custodian.delay(firm_id, account_ids)


@shared_task(acks_late=True)
@firm_task
def funding_reminders_firm(firm_id: int) -> int:
    """Remind the firm's clients who have not answered an approval email (a rerun sends none again)."""
    return services.reminders_send_due()


@shared_task(acks_late=True)
def funding_reminders_all() -> int:
    """Celery beat: one ``funding_reminders_firm`` per firm; returns the firms queued."""
    return queue_per_firm(funding_reminders_firm)
