"""Every read of CRM data. Querysets come from the firm-scoped managers."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from crm.models import Contact, ContactStatus, Household


@dataclass(frozen=True)
class ContactPage:
    rows: list[Contact]
    next_cursor: str | None


def _encode_cursor(contact: Contact) -> str:
    raw = json.dumps([contact.last_name, contact.first_name, contact.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str, int] | None:
    try:
        last, first, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(last, str) and isinstance(first, str) and isinstance(pk, int):
            return last, first, pk
    except (ValueError, TypeError, binascii.Error):
        pass
    return None


def contact_list(*, user: Any, status: str = "") -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    if status in ContactStatus.values:
        contacts = contacts.filter(status=status)
    return contacts.order_by("last_name", "first_name", "id")


def contact_page(*, user: Any, status: str = "", after: str = "", size: int = 50) -> ContactPage:
    """One page in name order, by keyset: a deep page costs what the first one does."""
    contacts = contact_list(user=user, status=status)
    position = _decode_cursor(after) if after else None
    if position is not None:
        last, first, pk = position
        contacts = contacts.filter(
            Q(last_name__gt=last)
            | Q(last_name=last, first_name__gt=first)
            | Q(last_name=last, first_name=first, id__gt=pk)
        )
    rows = list(contacts[: size + 1])
    next_cursor = _encode_cursor(rows[size - 1]) if len(rows) > size else None
    return ContactPage(rows=rows[:size], next_cursor=next_cursor)


def contact_recent(*, user: Any, limit: int = 5) -> list[Contact]:
    return list(Contact.objects.order_by("-created_at", "-id")[:limit])


def contact_status_counts(*, user: Any) -> list[tuple[str, str, int]]:
    """(status, label, count) for every lifecycle stage, zeros included."""
    found = dict(Contact.objects.values_list("status").annotate(n=Count("id")).order_by())
    return [(status.value, status.label, found.get(status.value, 0)) for status in ContactStatus]


def household_list(*, user: Any) -> QuerySet[Household]:
    return (
        Household.objects.select_related("head").annotate(member_count=Count("householdmember")).order_by("name", "id")
    )
