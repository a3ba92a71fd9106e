"""Every read of notifications: a user sees only their own."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from advisorportal.notifications.models import Notification


def notifications_for(*, user: Any, archived: bool = False, unread_only: bool = False) -> QuerySet[Notification]:
    rows = Notification.objects.filter(recipient_id=user.pk, archived_at__isnull=not archived)
    if unread_only:
        rows = rows.filter(read_at=None)
    return rows.order_by("-created_at", "-pk")


def unread_count(*, user: Any) -> int:
    """One cheap count on a partial index."""
    return Notification.objects.filter(recipient_id=user.pk, read_at=None, archived_at=None).count()


def notifications_for_contact(*, user: Any, contact_id: int) -> QuerySet[Notification]:
    return notifications_for(user=user).filter(contact_id=contact_id)
