"""Every write of notifications: create one (``notify``), mark read or unread, archive."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from advisorportal.notifications import contacts
from advisorportal.notifications.models import Notification
from advisorportal.notifications.selectors import unread_changed
from advisorportal.tenancy.context import require_firm_id


def _check_url(url: str) -> str:
    url = (url or "").strip()
    # Our own pages only: a relative path, never a scheme or another host.
    if url and (not url.startswith("/") or url.startswith("//") or "\\" in url):
        raise ValidationError({"url": "A notification links to one of our pages: a path starting with /."})
    return url


@transaction.atomic
def notify(
    *,
    recipient: Any,
    category: str,
    title: str,
    url: str = "",
    contact_id: int | None = None,
    key: str = "",
) -> Notification | None:
    """Tell ``recipient`` (a user of the firm in scope) something; ``url`` is a path of ours.

    Returns None, creating nothing, when the notification is about a contact outside the
    recipient's scope (a user never hears of a client they may not see), or when ``key`` was
    used for this recipient before (an emitter that runs again tells nobody twice)."""
    firm_id = require_firm_id()
    if getattr(recipient, "firm_id", None) != firm_id:
        raise ValidationError({"recipient": "The recipient is not a user of this firm."})
    notification = Notification(
        recipient=recipient,
        category=(category or "").strip(),
        title=" ".join((title or "").split())[:300],
        url=_check_url(url),
        contact_id=contact_id,
        key=(key or "").strip(),
    )
    notification.full_clean(validate_constraints=False)
    if contact_id is not None and not contacts.in_scope(recipient, contact_id):
        return None
    if notification.key:
        try:
            with transaction.atomic():
                notification.save()
        except IntegrityError:
            return None  # told before: the unique (firm, recipient, key) refused it
    else:
        notification.save()
    _counts_changed(recipient)
    return notification


def _counts_changed(user: Any) -> None:
    """The user's cached unread count is stale: now, and again once the write commits (a request
    that counted in between must not keep the old figure)."""
    unread_changed(user=user)
    transaction.on_commit(lambda: unread_changed(user=user))


def notify_after_commit(*, recipient_id: int | None, **kwargs: Any) -> None:
    """``notify`` the user ``recipient_id`` once the current transaction commits (nothing if it
    rolls back, and a failing notification never undoes the work it tells of). An inactive or
    missing recipient is told nothing."""
    if recipient_id is None:
        return

    def send() -> None:
        recipient = get_user_model().objects.filter(pk=recipient_id, is_active=True).first()
        if recipient is not None:
            notify(recipient=recipient, **kwargs)

    transaction.on_commit(send, robust=True)


def _own(user: Any, ids: list[int] | None) -> QuerySet[Notification]:
    rows = Notification.objects.filter(recipient_id=user.pk)
    return rows if ids is None else rows.filter(pk__in=ids)


@transaction.atomic
def notifications_mark_read(*, user: Any, ids: list[int] | None = None, read: bool = True) -> int:
    """Mark the user's notifications ``ids`` (all, when None) read, or unread. Returns how many changed."""
    rows = _own(user, ids)
    _counts_changed(user)
    if read:
        return rows.filter(read_at=None).update(read_at=timezone.now())
    return rows.exclude(read_at=None).update(read_at=None)


@transaction.atomic
def notifications_archive(*, user: Any, ids: list[int], archived: bool = True) -> int:
    """Archive (or restore) the user's notifications ``ids``; archiving also marks them read."""
    rows = _own(user, ids)
    _counts_changed(user)
    if archived:
        now = timezone.now()
        changed = rows.filter(archived_at=None).update(archived_at=now)
        rows.filter(read_at=None).update(read_at=now)
        return changed
    return rows.exclude(archived_at=None).update(archived_at=None)
