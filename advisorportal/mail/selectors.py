"""Every read of outgoing email, in the current firm's scope."""

from __future__ import annotations

from django.db.models import QuerySet

from advisorportal.mail.models import MessageTemplate, OutgoingEmail


def emails_for_contact(contact: object) -> QuerySet[OutgoingEmail]:
    """A contact's email history, newest first (``contact`` a crm Contact, or its id). The caller
    has already checked that the contact is in the user's scope."""
    contact_id = contact if isinstance(contact, int) else contact.pk  # type: ignore[attr-defined]
    return (
        OutgoingEmail.objects.filter(contact_id=contact_id)
        .defer("html_body", "text_body")
        .order_by("-created_at", "-pk")
    )


def recent_emails() -> QuerySet[OutgoingEmail]:
    return OutgoingEmail.objects.defer("html_body", "text_body").order_by("-created_at", "-pk")


def message_templates() -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.order_by("name")
