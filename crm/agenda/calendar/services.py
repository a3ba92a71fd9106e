"""Every write of calendar data: events (with contacts and attendees), .ics imports, the private
feed address, a user's calendar time zone, and reminders.

Contacts on an event must be in the acting user's CRM scope and attendees active users of the
firm; each event save is audited by the audit trail's signals (links too).
"""

from __future__ import annotations

import secrets
import uuid
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.preferences import date_format_of, firm_date_format
from advisorportal.formats import clock, day, moment
from advisorportal.hashing import sha256_hex
from advisorportal.tenancy.context import require_firm_id
from crm.agenda.calendar import ical, selectors
from crm.agenda.calendar.models import (
    CalendarFeed,
    CalendarSettings,
    Event,
    EventAttendee,
    EventContact,
    EventSource,
    validate_time_zone,
)
from crm.models import Contact
from crm.scope import scope_contacts

# The fields a person (page form or API) may set on an event.
EDITABLE = ("title", "all_day", "start", "end", "time_zone", "location", "description", "reminder_minutes")
ICS_MAX_BYTES = 5 * 1024 * 1024


def _contacts_checked(actor: Any, contacts: Iterable[Contact | int]) -> list[Contact]:
    ids = {c.pk if isinstance(c, Contact) else int(c) for c in contacts}
    found = list(scope_contacts(Contact.objects.filter(pk__in=ids), user=actor))
    if len(found) != len(ids):
        raise ValidationError({"contacts": ["Choose contacts among yours."]})
    return found


def _attendees_checked(actor: Any, attendees: Iterable[Any]) -> list[Any]:
    ids = {getattr(u, "pk", u) for u in attendees}
    try:
        clean = {int(i) for i in ids}
    except (TypeError, ValueError):
        raise ValidationError({"attendees": ["Choose active users of your firm."]}) from None
    found = list(selectors.attendee_choices(user=actor).filter(pk__in=clean))
    if len(found) != len(clean):
        raise ValidationError({"attendees": ["Choose active users of your firm."]})
    return found


def _set_times(event: Event) -> None:
    """Normalise ``start``/``end`` as given (see ``event_create``) into the stored form."""
    try:
        validate_time_zone(event.time_zone)
    except ValidationError as error:
        raise ValidationError({"time_zone": error.messages}) from None
    tz = zoneinfo.ZoneInfo(event.time_zone)
    start, end = event.start, event.end
    if start is None or end is None:
        raise ValidationError({"start" if start is None else "end": ["Enter when the event starts and ends."]})
    if event.all_day:
        first = start.astimezone(tz).date() if isinstance(start, datetime) else start
        last = end.astimezone(tz).date() if isinstance(end, datetime) else end
        if last < first:
            raise ValidationError({"end": ["The last day cannot be before the first."]})
        event.first_day, event.last_day = first, last
        event.start = datetime.combine(first, time(0), tzinfo=tz)
        event.end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    else:
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            raise ValidationError({"start": ["Enter a date and a time (or tick All day)."]})
        event.start = start.replace(tzinfo=tz) if timezone.is_naive(start) else start
        event.end = end.replace(tzinfo=tz) if timezone.is_naive(end) else end
        event.first_day = event.last_day = None
        if event.end < event.start:
            raise ValidationError({"end": ["The event cannot end before it starts."]})
    if event.reminder_minutes is None:
        event.reminder_due_at = None
    else:
        event.reminder_due_at = event.start - timedelta(minutes=int(event.reminder_minutes))


def _save(event: Event, *, rearm: bool) -> None:
    _set_times(event)
    if rearm:
        event.reminder_sent_at = None
    event.full_clean(validate_unique=False, validate_constraints=False)
    event.save()


def _set_links(event: Event, *, contacts: Sequence[Contact] | None, attendees: Sequence[Any] | None) -> None:
    if contacts is not None:
        wanted = {c.pk for c in contacts}
        current = dict(EventContact.objects.filter(event=event).values_list("contact_id", "pk"))
        for contact_id, pk in current.items():
            if contact_id not in wanted:
                EventContact.objects.get(pk=pk).delete()
        for contact_id in sorted(wanted - current.keys()):
            EventContact.objects.create(event=event, contact_id=contact_id)
    if attendees is not None:
        wanted = {u.pk for u in attendees if u.pk != event.owner_id}
        current = dict(EventAttendee.objects.filter(event=event).values_list("user_id", "pk"))
        for user_id, pk in current.items():
            if user_id not in wanted:
                EventAttendee.objects.get(pk=pk).delete()
        for user_id in sorted(wanted - current.keys()):
            EventAttendee.objects.create(event=event, user_id=user_id)


@transaction.atomic
def event_create(
    *,
    actor: Any,
    title: str,
    start: datetime | date,
    end: datetime | date,
    time_zone: str | None = None,
    all_day: bool = False,
    location: str = "",
    description: str = "",
    reminder_minutes: int | None = None,
    contacts: Iterable[Contact | int] = (),
    attendees: Iterable[Any] = (),
    uid: str = "",
) -> Event:
    """A new event in ``actor``'s calendar (``uid``: an iCalendar UID of the caller's, e.g. the
    demo data's; by default a new one). Timed: ``start``/``end`` are datetimes (naive ones are
    in ``time_zone``). All day: dates, ``end`` being the last day (inclusive). ``time_zone``
    defaults to the actor's calendar time zone."""
    checked_contacts = _contacts_checked(actor, contacts)
    checked_attendees = _attendees_checked(actor, attendees)
    event = Event(
        title=title, start=start, end=end, time_zone=time_zone or selectors.user_time_zone_name(user=actor),
        all_day=all_day, location=location, description=description, reminder_minutes=reminder_minutes,
        owner=actor, created_by=actor, uid=uid or f"{uuid.uuid4()}@advisorportal", source=EventSource.CREATED,
    )  # fmt: skip
    _save(event, rearm=True)
    _set_links(event, contacts=checked_contacts, attendees=checked_attendees)
    return event


@transaction.atomic
def event_update(
    *,
    actor: Any,
    event: Event,
    contacts: Iterable[Contact | int] | None = None,
    attendees: Iterable[Any] | None = None,
    **fields: Any,
) -> Event:
    """Change an event the actor may see (``selectors.event_get``). Given contacts and attendees
    replace the current ones. A new start or reminder re-arms the reminder."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    locked = Event.objects.select_for_update().get(pk=event.pk)
    checked_contacts = None if contacts is None else _contacts_checked(actor, contacts)
    checked_attendees = None if attendees is None else _attendees_checked(actor, attendees)
    before = (locked.start, locked.reminder_minutes)
    switching = "all_day" in fields and bool(fields["all_day"]) != locked.all_day
    if switching and not ("start" in fields and "end" in fields):
        raise ValidationError({"all_day": ["Give the start and end too when switching between all day and timed."]})
    if locked.all_day and not switching:
        fields.setdefault("start", locked.first_day)
        fields.setdefault("end", locked.last_day)
    for name, value in fields.items():
        setattr(locked, name, value)
    _set_times(locked)
    rearm = (locked.start, locked.reminder_minutes) != before
    _save(locked, rearm=rearm)
    _set_links(locked, contacts=checked_contacts, attendees=checked_attendees)
    return locked


@transaction.atomic
def event_delete(*, actor: Any, event: Event) -> None:
    """Delete an event the actor may see (its contact and attendee links go with it)."""
    EventContact.objects.filter(event=event).delete()
    EventAttendee.objects.filter(event=event).delete()
    Event.objects.filter(pk=event.pk).delete()


# --- Import ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    removed: int

    @property
    def message(self) -> str:
        parts = [f"{self.created} added", f"{self.updated} updated"]
        if self.removed:
            parts.append(f"{self.removed} removed (cancelled or no longer in the series)")
        return "Imported the calendar file: " + ", ".join(parts) + "."


@transaction.atomic
def ics_import(*, actor: Any, data: bytes, now: datetime | None = None) -> ImportResult:
    """Import an .ics file into ``actor``'s calendar, all or nothing. An event already imported
    (same UID and occurrence) is updated; a cancelled one (STATUS:CANCELLED) is removed; an
    occurrence of a re-imported series that is gone from it within the expansion window is
    removed. Raises ``ValidationError`` with the file's problem."""
    now = now or timezone.now()
    try:
        parsed = ical.parse(data, time_zone=selectors.user_time_zone_name(user=actor), now=now)
    except ical.IcsError as error:
        raise ValidationError({"file": [str(error)]}) from None
    created = updated = removed = 0
    series: dict[str, set[datetime]] = {}
    for item in parsed:
        if item.recurrence_id is not None:
            series.setdefault(item.uid, set()).add(item.recurrence_id)
        existing = Event.objects.filter(owner=actor, uid=item.uid, recurrence_id=item.recurrence_id).first()
        if item.cancelled:
            if existing is not None:
                event_delete(actor=actor, event=existing)
                removed += 1
            continue
        values = {
            "title": item.title, "all_day": item.all_day, "start": item.start, "end": item.end,
            "time_zone": item.time_zone, "location": item.location, "description": item.description,
            "reminder_minutes": item.reminder_minutes,
        }  # fmt: skip
        try:
            if existing is None:
                event = Event(
                    **values, owner=actor, created_by=actor, uid=item.uid, recurrence_id=item.recurrence_id,
                    source=EventSource.IMPORTED,
                )  # fmt: skip
                _save(event, rearm=True)
                created += 1
            else:
                before = (existing.start, existing.reminder_minutes)
                for name, value in values.items():
                    setattr(existing, name, value)
                _set_times(existing)
                _save(existing, rearm=(existing.start, existing.reminder_minutes) != before)
                updated += 1
        except ValidationError as error:
            problems = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in error.message_dict.items())
            raise ValidationError({"file": [f"The event “{item.title}” cannot be imported ({problems})."]}) from None
    window_start = now - timedelta(days=ical.RECURRENCE_PAST_DAYS + 1)
    window_end = now + timedelta(days=ical.RECURRENCE_FUTURE_DAYS - 1)
    for uid, kept in series.items():
        stale = Event.objects.filter(
            owner=actor, uid=uid, recurrence_id__isnull=False,
            recurrence_id__gte=window_start, recurrence_id__lt=window_end,
        ).exclude(recurrence_id__in=kept)  # fmt: skip
        for event in stale:
            event_delete(actor=actor, event=event)
            removed += 1
    return ImportResult(created=created, updated=updated, removed=removed)


# --- Feed and settings ------------------------------------------------------------------------------


def feed_token_hash(secret: str) -> str:
    return sha256_hex(secret.encode())


@transaction.atomic
def feed_issue(*, user: Any) -> str:
    """A new private feed address for ``user``; the previous one stops working. Returns the token
    (``<firm id>.<secret>``) once: only its secret's hash is stored."""
    feed_revoke(user=user)
    secret = secrets.token_urlsafe(32)
    feed = CalendarFeed(user=user, token_hash=feed_token_hash(secret))
    feed.full_clean(validate_constraints=False)
    feed.save()
    return f"{require_firm_id()}.{secret}"


@transaction.atomic
def feed_revoke(*, user: Any) -> int:
    """Stop ``user``'s feed address from working; returns how many were open (0 or 1)."""
    revoked = 0
    for feed in CalendarFeed.objects.select_for_update().filter(user=user, revoked_at=None):
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
        revoked += 1
    return revoked


@transaction.atomic
def calendar_settings_set(*, user: Any, time_zone: str) -> CalendarSettings:
    row = CalendarSettings.objects.select_for_update().filter(user=user).first() or CalendarSettings(user=user)
    row.time_zone = time_zone
    row.full_clean(validate_constraints=False, validate_unique=False)
    row.save()
    user._calendar_time_zone = time_zone
    return row


# --- Reminders ---------------------------------------------------------------------------------------


def _when_for(event: Event, user: Any, *, firm_default: str) -> str:
    """When the event is, in the user's date format and calendar time zone."""
    code = date_format_of(user, firm_default=firm_default)
    if event.all_day and event.first_day and event.last_day:
        days = day(event.first_day, code)
        return days if event.last_day == event.first_day else f"{days} \N{EN DASH} {day(event.last_day, code)}"
    tz = selectors.user_time_zone(user=user)
    with timezone.override(tz):
        return f"{moment(event.start, code)} \N{EN DASH} {clock(event.end, code)} ({tz.key})"


def reminders_send_due(*, now: datetime | None = None) -> int:
    """Email the reminders of the current firm's events that are due: each event's reminder goes
    out once, whoever runs this and however often (one conditional UPDATE of ``reminder_sent_at``
    per event; the loser of a race sends nothing). It goes to the owner and the invited colleagues
    who may see the event. Returns how many events were reminded."""
    from django.conf import settings
    from django.urls import reverse

    from advisorportal.mail.services import email_send
    from crm.agenda.calendar.apps import REMINDER_TEMPLATE

    now = now or timezone.now()
    reminded = 0
    firm_default = firm_date_format(firm_id=require_firm_id())
    for event in selectors.reminders_due(now=now):
        with transaction.atomic():
            won = Event.objects.filter(
                pk=event.pk, reminder_sent_at=None, reminder_due_at=event.reminder_due_at
            ).update(reminder_sent_at=now)
            if won != 1:
                continue
            selectors.finish([event])
            people = [event.owner, *(link.user for link in event.attendee_links.all())]
            url = settings.SITE_URL.rstrip("/") + reverse("agenda_calendar:event-edit", args=[event.pk])
            for user in people:
                if not user.is_active or not selectors.may_see(user=user, event=event):
                    continue
                context = {
                    "event_title": event.title, "event_when": _when_for(event, user, firm_default=firm_default),
                    "event_location": event.location, "event_url": url,
                    "event_contacts": ", ".join(c.display_name for c in event.shown_contacts),  # type: ignore[attr-defined]
                }  # fmt: skip
                email_send(to=user.email, template=REMINDER_TEMPLATE, context=context, category="service")
            reminded += 1
    return reminded
