"""Every read of CRM data. Querysets come from the firm-scoped managers."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Count, QuerySet

from advisorportal.tenancy.context import require_firm_id
from advisorportal.tenancy.pagination import KeysetPage, keyset_page
from crm.models import Contact, ContactStatus, Household


def contact_list(*, user: Any, status: str = "") -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    if status in ContactStatus.values:
        contacts = contacts.filter(status=status)
    return contacts.order_by("last_name", "first_name", "id")


CONTACT_ORDER = ("last_name", "first_name", "id")


def contact_page(*, user: Any, status: str = "", after: str = "", size: int = 50) -> KeysetPage[Contact]:
    """One page in name order, by keyset: a deep page costs what the first one does."""
    return keyset_page(contact_list(user=user, status=status), keys=CONTACT_ORDER, after=after, size=size)


def contact_recent(*, user: Any, limit: int = 5) -> list[Contact]:
    return list(Contact.objects.order_by("-created_at", "-id")[:limit])


STATUS_COUNTS_TTL = 300


def _contacts_generation_key(firm_id: int) -> str:
    return f"crm:contacts-generation:{firm_id}"


def contacts_changed(*, firm_id: int) -> None:
    """Make cached contact figures of the firm stale (called after every write of contacts)."""
    key = _contacts_generation_key(firm_id)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=None)


def contact_status_counts(*, user: Any) -> list[tuple[str, str, int]]:
    """(status, label, count) for every lifecycle stage, zeros included.

    Counting 100k contacts takes ~25 ms, so the figures are cached per firm until the next write
    of a contact (or five minutes). When account scopes arrive the key must include the scope.
    """
    firm_id = require_firm_id()
    generation = cache.get_or_set(_contacts_generation_key(firm_id), 1, timeout=None)
    key = f"crm:status-counts:{firm_id}:{generation}"
    found = cache.get(key)
    if found is None:
        found = dict(Contact.objects.values_list("status").annotate(n=Count("*")).order_by())
        cache.set(key, found, timeout=STATUS_COUNTS_TTL)
    return [(status.value, status.label, found.get(status.value, 0)) for status in ContactStatus]


def household_list(*, user: Any) -> QuerySet[Household]:
    return (
        Household.objects.select_related("head").annotate(member_count=Count("householdmember")).order_by("name", "id")
    )
