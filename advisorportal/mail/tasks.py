"""Delivery in Celery, after the queuing transaction commits: per-firm rate limit, retries with
backoff, then failed."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from advisorportal.mail import rate, services
from advisorportal.tenancy.context import FirmScopeError, firm_scope

MAX_RETRIES = 5


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def deliver_email(self: Any, firm_id: int | None, email_id: int) -> bool:
    if firm_id is None:
        raise FirmScopeError("deliver_email was started without a firm_id; it refuses to run unscoped.")
    wait = rate.wait_seconds(int(firm_id))
    if wait > 0 and not self.request.is_eager:
        deliver_email.apply_async((firm_id, email_id), countdown=wait)  # not a retry: the message did not fail
        return False
    with firm_scope(int(firm_id)):
        try:
            return services.email_deliver(email_id=email_id)
        except Exception as exc:
            if self.request.retries >= MAX_RETRIES:
                services.email_fail(email_id=email_id)
                return False
            raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 1800)) from exc
