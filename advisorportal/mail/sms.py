"""Text messages (one-time codes), through a pluggable backend named by ``settings.SMS_BACKEND``.

- ``advisorportal.mail.sms.OutboxBackend`` (development and tests): each message is written
  beside the emails in ``EMAIL_FILE_PATH`` as a message "to" the phone number, so the development
  outbox lists it with the emails.
- A production backend is a class with ``send(to: str, body: str) -> None`` that raises on
  failure (a provider's API client); until one is configured (``SMS_BACKEND`` empty), codes go
  by email only and ``sms_available()`` is False.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.module_loading import import_string

SMS_HEADER = "X-AdvisorPortal-SMS"


class Backend(Protocol):
    def send(self, to: str, body: str) -> None: ...


class OutboxBackend:
    """Writes the text message through the development email backend (the file backend: the
    outbox lists it with the emails; in tests, Django's memory backend). Refused in production."""

    def send(self, to: str, body: str) -> None:
        if getattr(settings, "PRODUCTION", False):
            raise RuntimeError("The outbox SMS backend is for development; configure a provider's SMS_BACKEND.")
        connection = get_connection()
        message = EmailMessage(
            subject=f"Text message to {to}",
            body=body,
            to=[f"sms@{''.join(ch for ch in to if ch.isdigit()) or 'unknown'}.sms.invalid"],
            headers={SMS_HEADER: to},
            connection=connection,
        )
        message.send()


def sms_available() -> bool:
    return bool(getattr(settings, "SMS_BACKEND", ""))


def send_sms(*, to: str, body: str) -> None:
    path = getattr(settings, "SMS_BACKEND", "")
    if not path:
        raise RuntimeError("No SMS backend is configured (SMS_BACKEND).")
    backend: Backend = import_string(path)()
    backend.send(to, body)
