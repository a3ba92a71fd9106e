"""Every read of calendar data, given the user.

Who sees an event: its owner and its attendees (their calendar and feed), and anyone with the CRM
right whose scope holds one of its contacts (the contact's events). An event with a contact
outside the user's CRM scope is not shown to that user at all, attendee or not: its title and time
would tell them about a client they may not see. Another firm's events are never read (the fail-
closed manager and row-level security).

For other parts of the product (the dashboard's "today's calendar" panel):
``events_for_user_on(user=..., day=...)`` — the user's own events (owned or attended) that cover
that day in the user's calendar time zone, in order, with ``event.shown_contacts`` filled.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.rights import Right
from accounts.selectors import firm_users
from crm.agenda.calendar.models import CalendarFeed, CalendarSettings, Event, EventAttendee, EventContact
from crm.models import Contact, contact_label_defer
from crm.scope import scope_contacts
from crm.selectors import has_full_scope

# How far a feed reaches: phones ask often, so it stays a bounded list.
FEED_PAST_DAYS = 365
FEED_FUTURE_DAYS = 2 * 365


def user_time_zone(*, user: Any) -> zoneinfo.ZoneInfo:
    """The time zone the user's calendar shows in (their choice, else the firm default setting)."""
    return zoneinfo.ZoneInfo(user_time_zone_name(user=user))


def user_time_zone_name(*, user: Any) -> str:
    cached = getattr(user, "_calendar_time_zone", None)
    if cached is None:
        chosen = CalendarSettings.objects.filter(user=user).values_list("time_zone", flat=True).first()
        cached = chosen or CalendarSettings._meta.get_field("time_zone").get_default()
        user._calendar_time_zone = cached
    return str(cached)


def _contacts_in_scope(user: Any) -> QuerySet[Contact]:
    return scope_contacts(Contact.objects.all(), user=user)


def events_visible(*, user: Any) -> QuerySet[Event]:
    """Every event the user may open (see the module's description)."""
    if not _may_use_calendar(user):
        return Event.objects.none()
    mine = Q(owner=user) | Q(Exists(EventAttendee.objects.filter(event=OuterRef("pk"), user=user)))
    if has_full_scope(user):
        with_contact = Q(Exists(EventContact.objects.filter(event=OuterRef("pk"))))
        return Event.objects.filter(mine | with_contact)
    in_scope = _contacts_in_scope(user).values("pk")
    with_contact = Q(Exists(EventContact.objects.filter(event=OuterRef("pk"), contact_id__in=in_scope)))
    outside = Exists(EventContact.objects.filter(event=OuterRef("pk")).exclude(contact_id__in=in_scope))
    return Event.objects.filter(mine | with_contact).exclude(outside)


def _may_use_calendar(user: Any) -> bool:
    from accounts.policy import has_right

    return has_right(user, Right.CRM)


def _mine(events: QuerySet[Event], user: Any) -> QuerySet[Event]:
    return events.filter(Q(owner=user) | Q(Exists(EventAttendee.objects.filter(event=OuterRef("pk"), user=user))))


def overlapping(events: QuerySet[Event], *, start: datetime, end: datetime, tz: zoneinfo.ZoneInfo) -> QuerySet[Event]:
    """Events that cover some of ``[start, end)``; all-day events by their days, with the window's
    days taken in ``tz`` (the viewer's)."""
    first_day = start.astimezone(tz).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
    return events.filter(
        Q(all_day=False, start__lt=end, end__gt=start)
        | Q(all_day=False, start=start, end=start)  # an event of no length at the window's start
        | Q(all_day=True, first_day__lte=last_day, last_day__gte=first_day)
    )


def _with_details(events: QuerySet[Event], user: Any) -> QuerySet[Event]:
    return events.select_related("owner").prefetch_related(
        Prefetch(
            "contact_links",
            queryset=EventContact.objects.select_related("contact").defer(*contact_label_defer()).order_by("id"),
        ),
        Prefetch("attendee_links", queryset=EventAttendee.objects.select_related("user").order_by("id")),
    )


def _finish(events: Iterable[Event]) -> list[Event]:
    rows = list(events)
    for event in rows:
        links = list(event.contact_links.all())
        event.shown_contacts = sorted((link.contact for link in links), key=lambda c: (c.last_name, c.first_name, c.pk))  # type: ignore[attr-defined]
        event.attendees = [link.user for link in event.attendee_links.all()]  # type: ignore[attr-defined]
        event.contact_ids = [c.pk for c in event.shown_contacts]  # type: ignore[attr-defined]
        event.attendee_ids = [u.pk for u in event.attendees]  # type: ignore[attr-defined]
    return rows


def window(*, day: date, tz: zoneinfo.ZoneInfo, days: int = 1) -> tuple[datetime, datetime]:
    """``[midnight before day, midnight after day + days - 1)`` in ``tz``, as aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=days), time(0), tzinfo=tz)
    return start, end


def events_for_user(*, user: Any, start: datetime, end: datetime, tz: zoneinfo.ZoneInfo | None = None) -> list[Event]:
    """The user's own events (owned or attended, in scope) that cover some of ``[start, end)``,
    by start: what their month, week and day views show."""
    tz = tz or user_time_zone(user=user)
    events = overlapping(_mine(events_visible(user=user), user), start=start, end=end, tz=tz)
    return _finish(_with_details(events, user).order_by("start", "id"))


def events_for_user_on(*, user: Any, day: date) -> list[Event]:
    """The user's own events covering ``day`` in their calendar time zone (the dashboard's
    "today's calendar": ``events_for_user_on(user=request.user, day=today_for_user(user=...))``)."""
    tz = user_time_zone(user=user)
    start, end = window(day=day, tz=tz)
    return events_for_user(user=user, start=start, end=end, tz=tz)


def today_for_user(*, user: Any, now: datetime | None = None) -> date:
    """Today's date where the user is (their calendar time zone)."""
    from django.utils import timezone

    return (now or timezone.now()).astimezone(user_time_zone(user=user)).date()


def event_get(*, user: Any, pk: Any) -> Event:
    """One event the user may open; ``Event.DoesNotExist`` for a missing one, another firm's, or
    one with a contact outside the user's scope, alike."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Event.DoesNotExist from None
    rows = _finish(_with_details(events_visible(user=user).filter(pk=pk), user))
    if not rows:
        raise Event.DoesNotExist
    return rows[0]


def contact_events(*, user: Any, contact: Contact, upcoming_only: bool = False, limit: int = 200) -> list[Event]:
    """The events with ``contact`` (already checked to be in the user's scope) that the user may see:
    the latest first, or the coming ones first with ``upcoming_only``."""
    from django.utils import timezone

    events = events_visible(user=user).filter(
        Exists(EventContact.objects.filter(event=OuterRef("pk"), contact=contact))
    )
    if upcoming_only:
        events = events.filter(end__gte=timezone.now()).order_by("start", "id")
    else:
        events = events.order_by("-start", "-id")
    return _finish(_with_details(events, user)[:limit])


def contact_events_past(*, user: Any, contact: Contact, limit: int = 5) -> list[Event]:
    """The events with ``contact`` (already checked to be in the user's scope) that the user may see
    and that have ended, the latest first: what a contact's agenda tab shows as recent."""
    from django.utils import timezone

    events = events_visible(user=user).filter(
        Exists(EventContact.objects.filter(event=OuterRef("pk"), contact=contact)), end__lt=timezone.now()
    )
    return _finish(_with_details(events.order_by("-start", "-id"), user)[:limit])


def events_for_api(*, user: Any, start: datetime, end: datetime, contact: Contact | None = None) -> QuerySet[Event]:
    """The API's list: the user's own events in ``[start, end)``, or, with ``contact``, every
    event with that contact the user may see; unordered."""
    visible = events_visible(user=user)
    if contact is None:
        visible = _mine(visible, user)
    else:
        visible = visible.filter(Exists(EventContact.objects.filter(event=OuterRef("pk"), contact=contact)))
    return _with_details(overlapping(visible, start=start, end=end, tz=user_time_zone(user=user)), user)


def finish(events: Iterable[Event]) -> list[Event]:
    """Rows of ``events_for_api`` with ``shown_contacts`` and ``attendees`` filled."""
    return _finish(events)


def feed_events(*, user: Any, now: datetime) -> list[Event]:
    """What the user's iCalendar feed serves: their own events from a year back to two years ahead."""
    tz = user_time_zone(user=user)
    return events_for_user(
        user=user, start=now - timedelta(days=FEED_PAST_DAYS), end=now + timedelta(days=FEED_FUTURE_DAYS), tz=tz
    )


def open_feed(*, user: Any) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user, revoked_at=None).first()


def feed_by_token_hash(*, token_hash: str) -> CalendarFeed | None:
    """The open feed with this hash in the current firm (the feed view sets the firm the token names)."""
    return CalendarFeed.objects.filter(token_hash=token_hash, revoked_at=None).select_related("user").first()


def attendee_choices(*, user: Any) -> QuerySet[Any]:
    """The users one may invite: the active users of the firm."""
    return firm_users(firm_id=user.firm_id).filter(is_active=True).order_by("full_name", "id")


def reminders_due(*, now: datetime, limit: int = 500) -> list[Event]:
    """Events of the current firm whose reminder is due and not sent, that have not ended."""
    return list(
        Event.objects.filter(reminder_due_at__lte=now, reminder_sent_at=None, end__gt=now)
        .select_related("owner")
        .prefetch_related(
            Prefetch("attendee_links", queryset=EventAttendee.objects.select_related("user").order_by("id")),
            Prefetch("contact_links", queryset=EventContact.objects.select_related("contact").order_by("id")),
        )
        .order_by("reminder_due_at", "id")[:limit]
    )


def may_see(*, user: Any, event: Event) -> bool:
    """Whether ``user`` may see ``event`` (a reminder goes only to attendees who may)."""
    return events_visible(user=user).filter(pk=event.pk).exists()
