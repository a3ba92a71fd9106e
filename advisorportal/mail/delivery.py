"""Delivery reports from an email service provider, through django-anymail.

With ``EMAIL_PROVIDER`` set (settings), outgoing email goes through that provider's anymail backend,
which gives each message the provider's id (stored as ``OutgoingEmail.message_id``). Every message
carries metadata naming its firm and row, which the providers echo in their tracking webhooks
(``/mail/anymail/<provider>/tracking/``, HTTP basic auth with ``ANYMAIL_WEBHOOK_SECRET``).
Anymail turns each report into a normalized ``tracking`` event; ``record_event`` applies it:

- bounced, rejected, failed: the email is ``bounced`` with the provider's reason;
- complained or unsubscribed: the address is unsubscribed from the firm's marketing emails;
- anything else (queued, deferred, delivered, opened, clicked): nothing changes.

An event is applied to the row only when its metadata's firm and row and the provider's message id
all match (a report that names a row but not its message id changes nothing); an event without our
metadata is ignored. Only a sent email can become bounced, so a late report never revives a
cancelled or skipped row. Reports may arrive more than once: applying one twice changes nothing more.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import EmailMessage

from advisorportal.mail.models import EmailStatus, OutgoingEmail
from advisorportal.tenancy.context import firm_scope

log = logging.getLogger(__name__)

FAILED_EVENTS = frozenset({"bounced", "rejected", "failed"})
OPT_OUT_EVENTS = frozenset({"complained", "unsubscribed"})


def tag(message: EmailMessage, email: OutgoingEmail) -> None:
    """Name the message's firm and row in the provider's metadata (anymail backends send it; the
    SMTP backend ignores the attribute)."""
    message.metadata = {"firm": str(email.firm_id), "email": str(email.pk)}  # type: ignore[attr-defined]


def provider_id(message: EmailMessage) -> str:
    """The provider's id of a sent message (anymail backends), or "" (SMTP, the file backend)."""
    message_id = getattr(getattr(message, "anymail_status", None), "message_id", None)
    return "" if message_id is None else str(message_id)[:200]


def _ids(metadata: Any) -> tuple[int, int] | None:
    try:
        return int(metadata["firm"]), int(metadata["email"])
    except (KeyError, TypeError, ValueError):
        return None


def record_event(*, event: Any, esp_name: str = "") -> str:
    """Apply one anymail tracking event; returns what was done ("bounced", "unsubscribed",
    "ignored") for the log and the tests."""
    from advisorportal.mail import services

    kind = str(event.event_type or "")
    if kind not in FAILED_EVENTS | OPT_OUT_EVENTS:
        return "ignored"
    ids = _ids(event.metadata or {})
    if ids is None or not event.message_id:
        log.info("delivery report from %s without our metadata or a message id: ignored", esp_name)
        return "ignored"
    firm_id, email_id = ids
    with firm_scope(firm_id):
        email = OutgoingEmail.objects.filter(pk=email_id, message_id=str(event.message_id)[:200]).first()
        if email is None:
            log.warning("delivery report from %s for an unknown email (firm %s, row %s)", esp_name, firm_id, email_id)
            return "ignored"
        if kind in OPT_OUT_EVENTS:
            services.unsubscribe(firm_id=firm_id, email=email.to)
            return "unsubscribed"
        reason = " ".join(str(part) for part in (event.description, event.mta_response) if part)
        OutgoingEmail.objects.filter(pk=email.pk, status=EmailStatus.SENT).update(
            status=EmailStatus.BOUNCED,
            error=(f"The provider reported: {kind}" + (f" ({reason})" if reason else ""))[:2000],
        )
        return "bounced"


def on_tracking(sender: Any, event: Any, esp_name: str = "", **kwargs: Any) -> None:
    """The receiver of ``anymail.signals.tracking`` (connected in ``MailConfig.ready``)."""
    record_event(event=event, esp_name=esp_name)
