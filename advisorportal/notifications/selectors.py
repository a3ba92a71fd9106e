"""Every read of notifications: a user sees only their own, and of those only the ones about
contacts still in their scope (or about no contact)."""

from __future__ import annotations

from typing import Any, cast

from django.core.cache import BaseCache, caches
from django.db.models import Count, Q, QuerySet
from django.utils.connection import ConnectionProxy

from advisorportal.notifications import contacts
from advisorportal.notifications.models import Notification


def _own(user: Any) -> QuerySet[Notification]:
    rows = Notification.objects.filter(recipient_id=user.pk)
    visible = contacts.visible_ids(user)
    if visible is not None:
        rows = rows.filter(Q(contact_id=None) | Q(contact_id__in=visible))
    return rows


def notifications_for(
    *,
    user: Any,
    archived: bool = False,
    unread_only: bool = False,
    category: str = "",
    contact_id: int | None = None,
) -> QuerySet[Notification]:
    """The user's notifications, newest first: the inbox (``archived=False``) or the archive."""
    rows = _own(user).filter(archived_at__isnull=not archived)
    if unread_only:
        rows = rows.filter(read_at=None)
    if category:
        rows = rows.filter(category=category)
    if contact_id is not None:
        rows = rows.filter(contact_id=contact_id)
    return rows.order_by("-created_at", "-pk")


def notification_get(*, user: Any, pk: Any) -> Notification | None:
    """One of the user's notifications (inbox or archive), or None: another user's, one about a
    contact outside their scope, or an id that is not a number."""
    if not str(pk).isdigit():
        return None
    return _own(user).filter(pk=int(pk)).first()


# The header's unread count is on every page: kept in Redis (the best-effort cache: without Redis it
# is counted each time) until the user's notifications change (``unread_changed``, called by every
# write in services), and at most UNREAD_TTL seconds, which also bounds how long a change of the
# user's scope takes to show in the count.
UNREAD_TTL = 30
_cache = cast(BaseCache, ConnectionProxy(caches, "best_effort"))


def _unread_key(user: Any) -> str:
    # The row's creation time too: a database built again reuses ids, never the pair.
    joined = getattr(user, "date_joined", None)
    return f"notifications:unread:{user.pk}:{joined.timestamp() if joined else ''}"


def unread_count(*, user: Any) -> int:
    """The user's unread notifications (one count on a partial index, or none when cached)."""
    key = _unread_key(user)
    found = _cache.get(key)
    if found is None:
        found = _own(user).filter(read_at=None, archived_at=None).count()
        _cache.set(key, found, UNREAD_TTL)
    return int(found)


def unread_changed(*, user: Any) -> None:
    _cache.delete(_unread_key(user))


def notifications_for_contact(*, user: Any, contact_id: int) -> QuerySet[Notification]:
    return notifications_for(user=user, contact_id=contact_id)


def category_counts(*, user: Any, archived: bool = False) -> list[dict[str, Any]]:
    """``[{"category", "total", "unread"}]`` of the inbox (or the archive), most unread first. One query."""
    rows = _own(user).filter(archived_at__isnull=not archived).values("category")
    counted = rows.annotate(total=Count("pk"), unread=Count("pk", filter=Q(read_at=None)))
    return [dict(row) for row in counted.order_by("-unread", "-total", "category")]


def contact_counts(*, user: Any, archived: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """``[{"contact_id", "total", "unread"}]`` (``contact_id`` None: about no contact), most unread first."""
    rows = _own(user).filter(archived_at__isnull=not archived).values("contact_id")
    counted = rows.annotate(total=Count("pk"), unread=Count("pk", filter=Q(read_at=None)))
    return [dict(row) for row in counted.order_by("-unread", "-total", "contact_id")[:limit]]
