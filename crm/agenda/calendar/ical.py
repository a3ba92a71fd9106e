"""iCalendar (RFC 5545) in and out, through the ``icalendar`` library (no hand parser).

Reading (``parse``): every VEVENT of one VCALENDAR becomes a ``ParsedEvent`` with its UID, its
times as instants (a TZID with its VTIMEZONE, a named IANA zone, UTC, or a floating time taken in
the importing user's zone), all-day days, title, place, description and the first reminder
(VALARM). A recurring event (RRULE or RDATE) is expanded by ``recurring-ical-events`` into its
occurrences from ``RECURRENCE_PAST_DAYS`` ago to ``RECURRENCE_FUTURE_DAYS`` ahead (moved and
removed occurrences included); each occurrence keeps the series' UID and its original start
(RECURRENCE-ID), so importing the file again finds it. Anything the file gets wrong raises
``IcsError`` with a message naming the event, and nothing is imported.

Writing (``feed``): the events as a VCALENDAR, times in UTC, all-day events as dates, a reminder
as a VALARM.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events

from crm.agenda.calendar.models import REMINDER_MAX_MINUTES, Event, time_zone_names

MAX_EVENTS = 2_000  # per file, occurrences of recurring events included
RECURRENCE_PAST_DAYS = 31
RECURRENCE_FUTURE_DAYS = 365
PRODID = "-//AdvisorPortal//Calendar//EN"


class IcsError(ValueError):
    """The file cannot be imported; the message says why, for the person who chose it."""


@dataclass
class ParsedEvent:
    uid: str
    recurrence_id: datetime | None
    title: str
    all_day: bool
    start: datetime | date  # an aware datetime, or the first day of an all-day event
    end: datetime | date  # an aware datetime, or the last day (inclusive) of an all-day event
    time_zone: str
    location: str
    description: str
    reminder_minutes: int | None
    cancelled: bool


def _one_line(value: Any, limit: int) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(index: int, component: Any) -> str:
    summary = _one_line(component.get("SUMMARY"), 60)
    return f"Event {index}" + (f" (“{summary}”)" if summary else "")


def _zone_name(value: datetime, fallback: str) -> str:
    """The IANA name of a datetime's zone when it has one we know (a VTIMEZONE of the file's own
    name has none: its instants are right, the event is shown in the importer's zone)."""
    key = getattr(value.tzinfo, "key", None)
    if isinstance(key, str) and key in time_zone_names():
        return key
    if value.utcoffset() == timedelta(0) and str(value.tzinfo) in ("UTC", "Z", "UTC+00:00"):
        return "UTC"
    return fallback


def _aware(value: datetime, tz: tzinfo) -> datetime:
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _reminder(component: Any, start: datetime) -> int | None:
    """Minutes before the start of the first alarm that rings before (or at) the start."""
    for alarm in component.walk("VALARM"):
        trigger = alarm.get("TRIGGER")
        if trigger is None:
            continue
        when = trigger.dt
        related = str(trigger.params.get("RELATED", "START")).upper()
        if isinstance(when, timedelta):
            if related != "START" or when > timedelta(0):
                continue
            minutes = int(-when.total_seconds() // 60)
        elif isinstance(when, datetime):
            minutes = int((start - _aware(when, UTC)).total_seconds() // 60)
            if minutes < 0:
                continue
        else:
            continue
        return min(minutes, REMINDER_MAX_MINUTES)
    return None


def _times(index: int, component: Any, tz: zoneinfo.ZoneInfo) -> tuple[bool, Any, Any]:
    """(all day, start, end) of a VEVENT or an occurrence; end inclusive for all-day events."""
    where = _describe(index, component)
    for name, problem in getattr(component, "errors", []) or []:
        if name in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "RRULE", "EXDATE", "RDATE"):
            raise IcsError(f"{where}: its {name} cannot be read ({problem}).")
    if "DTSTART" not in component:
        raise IcsError(f"{where} has no start (DTSTART).")
    start = component.decoded("DTSTART")
    if not isinstance(start, date):
        raise IcsError(f"{where}: its start (DTSTART) is not a date or a date and time.")
    if "DTEND" in component:
        end = component.decoded("DTEND")
    elif "DURATION" in component:
        duration = component.decoded("DURATION")
        if not isinstance(duration, timedelta) or duration < timedelta(0):
            raise IcsError(f"{where}: its length (DURATION) cannot be read.")
        end = start + duration
    else:
        # RFC 5545: a day-long event without an end covers that day; a timed one has no length.
        end = start + timedelta(days=1) if not isinstance(start, datetime) else start
    if not isinstance(end, date) or isinstance(end, datetime) != isinstance(start, datetime):
        raise IcsError(f"{where}: its start and end must both be dates or both be dates and times.")
    if isinstance(start, datetime):
        assert isinstance(end, datetime)
        start_at, end_at = _aware(start, tz), _aware(end, tz)
        if end_at < start_at:
            raise IcsError(f"{where} ends before it starts.")
        return False, start_at, end_at
    if end < start:
        raise IcsError(f"{where} ends before it starts.")
    return True, start, max(start, end - timedelta(days=1))


def _parsed(index: int, component: Any, tz_name: str, recurrence_id: datetime | None) -> ParsedEvent:
    tz = zoneinfo.ZoneInfo(tz_name)
    all_day, start, end = _times(index, component, tz)
    uid = str(component.get("UID") or "").strip()
    if not uid:
        raise IcsError(f"{_describe(index, component)} has no UID, so importing it again could not update it.")
    if len(uid) > 255:
        raise IcsError(f"{_describe(index, component)}: its UID is longer than 255 characters.")
    raw_start = component.decoded("DTSTART")
    zone = _zone_name(raw_start, tz_name) if isinstance(raw_start, datetime) and raw_start.tzinfo else tz_name
    begins = start if isinstance(start, datetime) else datetime.combine(start, time(0), tzinfo=zoneinfo.ZoneInfo(zone))
    description = str(component.get("DESCRIPTION") or "").replace("\r\n", "\n").strip()
    return ParsedEvent(
        uid=uid,
        recurrence_id=recurrence_id,
        title=_one_line(component.get("SUMMARY"), 200) or "(no title)",
        all_day=all_day,
        start=start,
        end=end,
        time_zone=zone,
        location=_one_line(component.get("LOCATION"), 300),
        description=description[:20_000],
        reminder_minutes=_reminder(component, begins),
        cancelled=str(component.get("STATUS") or "").upper() == "CANCELLED",
    )


def _recurrence_key(value: Any, tz: zoneinfo.ZoneInfo) -> datetime:
    """An occurrence's RECURRENCE-ID as an instant (a day as its midnight in UTC)."""
    if isinstance(value, datetime):
        return _aware(value, tz).astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


def parse(data: bytes, *, time_zone: str, now: datetime) -> list[ParsedEvent]:
    """The events of an .ics file (see the module's description); ``time_zone`` is the importing
    user's, for floating times."""
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.upper().startswith(b"BEGIN:VCALENDAR"):
        raise IcsError("This is not an iCalendar file: an .ics file starts with BEGIN:VCALENDAR.")
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        reason = str(error).split(":", 1)[0][:200]
        raise IcsError(f"This iCalendar file cannot be read: {reason}. Export it again from your calendar.") from None
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise IcsError("This is not an iCalendar file: it holds no calendar (VCALENDAR).")
    components = list(calendar.walk("VEVENT"))
    if not components:
        raise IcsError("The file holds no events (VEVENT).")
    if len(components) > MAX_EVENTS:
        raise IcsError(f"The file holds {len(components):,} events; import at most {MAX_EVENTS:,} at a time.")
    tz = zoneinfo.ZoneInfo(time_zone)
    recurring = {str(c.get("UID") or "") for c in components if "RRULE" in c or "RDATE" in c}
    events: list[ParsedEvent] = []
    for index, component in enumerate(components, start=1):
        uid = str(component.get("UID") or "")
        if uid and uid in recurring:
            _times(index, component, tz)  # the series' own times must be readable too
            continue
        events.append(_parsed(index, component, time_zone, None))
    if recurring:
        local_now = now.astimezone(tz).replace(tzinfo=None)
        begin = local_now - timedelta(days=RECURRENCE_PAST_DAYS)
        finish = local_now + timedelta(days=RECURRENCE_FUTURE_DAYS)
        try:
            occurrences = recurring_ical_events.of(calendar).between(begin, finish)
        except (ValueError, TypeError, KeyError) as error:  # InvalidCalendar is a ValueError; dateutil's too
            reason = str(error)[:200]
            raise IcsError(f"A recurring event's rule (RRULE) cannot be read: {reason}.") from None
        for occurrence in occurrences:
            uid = str(occurrence.get("UID") or "")
            if uid not in recurring:
                continue
            if len(events) >= MAX_EVENTS:
                raise IcsError(
                    f"The recurring events of this file have more than {MAX_EVENTS:,} occurrences in the coming "
                    "year; import fewer at a time."
                )
            recurrence = occurrence.get("RECURRENCE-ID")
            key = _recurrence_key(recurrence.dt if recurrence is not None else occurrence.decoded("DTSTART"), tz)
            events.append(_parsed(len(events) + 1, occurrence, time_zone, key))
    return events


def feed(events: Iterable[Event], *, name: str, event_url: Any = None) -> bytes:
    """The events as an iCalendar file. ``event_url(event)`` gives each event's page address."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-CALNAME", name)
    for event in events:
        item = icalendar.Event()
        uid = event.uid
        if event.recurrence_id is not None:
            # Each stored occurrence is an event of its own here (the series is not stored).
            uid = f"{uid}/{event.recurrence_id.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        item.add("UID", uid)
        item.add("DTSTAMP", event.updated_at.astimezone(UTC))
        item.add("LAST-MODIFIED", event.updated_at.astimezone(UTC))
        item.add("CREATED", event.created_at.astimezone(UTC))
        if event.all_day and event.first_day and event.last_day:
            item.add("DTSTART", event.first_day)
            item.add("DTEND", event.last_day + timedelta(days=1))
        else:
            item.add("DTSTART", event.start.astimezone(UTC))
            item.add("DTEND", event.end.astimezone(UTC))
        item.add("SUMMARY", event.title)
        if event.location:
            item.add("LOCATION", event.location)
        contacts = getattr(event, "shown_contacts", [])
        parts = [event.description] if event.description else []
        if contacts:
            parts.append("With: " + ", ".join(c.display_name for c in contacts))
        if parts:
            item.add("DESCRIPTION", "\n\n".join(parts))
        if event_url is not None:
            item.add("URL", event_url(event))
        if event.reminder_minutes is not None:
            alarm = icalendar.Alarm()
            alarm.add("ACTION", "DISPLAY")
            alarm.add("DESCRIPTION", event.title)
            alarm.add("TRIGGER", timedelta(minutes=-event.reminder_minutes))
            item.add_component(alarm)
        calendar.add_component(item)
    return bytes(calendar.to_ical())
