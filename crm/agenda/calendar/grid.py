"""The month, week and day views' layout: which day cells and hour slots each event goes into, in
the viewer's time zone. Pure functions of the events; the views render what they return."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import formats
from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR

from crm.agenda.calendar.models import Event

DAY_HOURS = (7, 19)  # the hours a week or day view always shows (first and last slot)
MONTH_SHOWN = 3  # events listed in a month cell before "N more"


@dataclass
class Slot:
    start: datetime
    events: list[Event] = field(default_factory=list)

    @property
    def param(self) -> str:
        """The slot's local start for the new-event link (``2026-12-05T09:00``)."""
        return self.start.strftime("%Y-%m-%dT%H:%M")


@dataclass
class Day:
    date: date
    is_today: bool
    in_month: bool = True
    all_day: list[Event] = field(default_factory=list)  # all-day events and timed ones continuing into the day
    timed: list[Event] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    continuing: set[int] = field(default_factory=set)  # timed events that began on an earlier day

    @property
    def iso(self) -> str:
        return self.date.isoformat()

    @property
    def weekday(self) -> str:
        return str(WEEKDAYS[self.date.weekday()])

    @property
    def weekday_short(self) -> str:
        return str(WEEKDAYS_ABBR[self.date.weekday()])

    @property
    def events(self) -> list[Event]:
        return [*self.all_day, *self.timed]

    @property
    def shown(self) -> list[Event]:
        return self.events[:MONTH_SHOWN]

    @property
    def more(self) -> int:
        return max(0, len(self.events) - MONTH_SHOWN)


def first_weekday() -> int:
    """Python's weekday number (Monday 0) that weeks start on, from the locale's formats."""
    sunday_based = int(formats.get_format("FIRST_DAY_OF_WEEK"))
    return (sunday_based - 1) % 7


def week_start(day: date) -> date:
    return day - timedelta(days=(day.weekday() - first_weekday()) % 7)


def weekday_headers() -> list[tuple[str, str]]:
    """(full, short) weekday names in the order weeks are shown."""
    start = first_weekday()
    return [(str(WEEKDAYS[(start + i) % 7]), str(WEEKDAYS_ABBR[(start + i) % 7])) for i in range(7)]


def month_dates(year: int, month: int) -> list[list[date]]:
    """The weeks (lists of seven dates) a month view shows: whole weeks around the month."""
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    start = week_start(first)
    weeks: list[list[date]] = []
    while start < following:
        weeks.append([start + timedelta(days=i) for i in range(7)])
        start += timedelta(days=7)
    return weeks


def _covered_days(event: Event, tz: zoneinfo.ZoneInfo) -> tuple[date, date]:
    """First and last day (inclusive) the event shows on for a viewer in ``tz``."""
    if event.all_day and event.first_day and event.last_day:
        return event.first_day, event.last_day
    start = event.start.astimezone(tz)
    end = event.end.astimezone(tz)
    last = (end - timedelta(microseconds=1)).date() if end > start else start.date()
    return start.date(), last


def lay_out(events: list[Event], days: list[Day], tz: zoneinfo.ZoneInfo, *, slots: bool) -> list[int]:
    """Put each event in the days it covers; with ``slots``, timed events also go into the hour
    slot of their start. Returns the hours to show (always ``DAY_HOURS``, widened to the events)."""
    by_date = {day.date: day for day in days}
    first_hour, last_hour = DAY_HOURS
    for event in events:
        first, last = _covered_days(event, tz)
        local_start = event.start.astimezone(tz)
        current = max(first, days[0].date)
        while current <= min(last, days[-1].date):
            day = by_date[current]
            if event.all_day or current != local_start.date():
                day.all_day.append(event)
                if not event.all_day:
                    day.continuing.add(event.pk)
            else:
                day.timed.append(event)
                first_hour, last_hour = min(first_hour, local_start.hour), max(last_hour, local_start.hour)
            current += timedelta(days=1)
    hours = list(range(first_hour, last_hour + 1))
    if slots:
        for day in days:
            day.slots = [Slot(start=datetime.combine(day.date, time(hour), tzinfo=tz)) for hour in hours]
            for event in day.timed:
                hour = event.start.astimezone(tz).hour
                day.slots[hours.index(hour)].events.append(event)
    return hours
