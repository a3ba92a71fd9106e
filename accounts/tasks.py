"""Background jobs of identity and access. Thin: ids in, a service call, idempotent."""

from __future__ import annotations

from celery import shared_task

from accounts import notices
from advisorportal.tenancy.context import firm_task


@shared_task(acks_late=True)
@firm_task
def send_new_device_notice(firm_id: int, user_session_id: int) -> None:
    notices.new_device_notice(user_session_id=user_session_id)


@shared_task(acks_late=True)
@firm_task
def send_invitation(firm_id: int, user_id: int) -> None:
    notices.invitation(user_id=user_id)
