"""Every read of outgoing email, in the current firm's scope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db.models import Count, QuerySet

from advisorportal.mail.models import BulkEmail, EmailStatus, MessageTemplate, OutgoingEmail


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


def bulk_email_list() -> QuerySet[BulkEmail]:
    return BulkEmail.objects.select_related("created_by", "template").order_by("-created_at", "-id")


def counts(email: BulkEmail) -> dict[str, int]:
    """Recipients by status, and those left out (no address, unsubscribed, an address another
    recipient has): one query."""
    return counts_many([email])[email.pk]


def counts_many(emails: Sequence[BulkEmail]) -> dict[int, dict[str, int]]:
    """``counts`` of each bulk email (a page of them), by id: one query, whatever their number."""
    rows = (
        OutgoingEmail.objects.filter(bulk__in=[e.pk for e in emails])
        .values_list("bulk_id", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    by_bulk: dict[int, dict[str, int]] = {e.pk: {} for e in emails}
    for bulk_id, status, n in rows:
        by_bulk[bulk_id][status] = n
    return {email.pk: _counts(email, by_bulk[email.pk]) for email in emails}


def _counts(email: BulkEmail, by_status: Mapping[str, int]) -> dict[str, int]:
    staged = sum(by_status.values())
    skipped = email.skipped_no_address + email.skipped_unsubscribed
    examined = min(email.staged_through, len(email.contact_ids))
    return {
        "contacts": len(email.contact_ids),
        "staged": staged,
        "queued": by_status.get(EmailStatus.QUEUED, 0) + by_status.get(EmailStatus.SENDING, 0),
        "sent": by_status.get(EmailStatus.SENT, 0),
        "failed": by_status.get(EmailStatus.FAILED, 0),
        "cancelled": by_status.get(EmailStatus.CANCELLED, 0),
        "skipped_no_address": email.skipped_no_address,
        "skipped_unsubscribed": email.skipped_unsubscribed,
        "skipped_duplicate": max(0, examined - staged - skipped),
    }
