"""Calendar events with contacts and attendees, each user's private iCalendar feed, and the time
zone a user's calendar is shown in.

Times are stored as instants (UTC in PostgreSQL) with the IANA time zone the event was planned in.
An all-day event covers whole days: ``first_day``..``last_day`` (inclusive) as its organiser
lives them, and ``start``/``end`` are midnight before the first and after the last day in the
event's time zone, so a reminder "one day before" means the evening before there. All-day events
show on their dates whatever the viewer's time zone (as every calendar shows them).

``uid`` is the iCalendar UID: our own for events made here, the file's for imported ones (with
``recurrence_id``, the original start of one occurrence of a recurring event), so importing the
same file again updates the events instead of adding copies.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from functools import cache
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q

from advisorportal.tenancy.models import FirmOwnedModel

FREE_TEXT_MAX = 20_000
# Four weeks: the longest reminder the form offers is one week; imports may ask for more.
REMINDER_MAX_MINUTES = 4 * 7 * 24 * 60


@cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA time zones one may choose (sorted; the legacy aliases left out)."""
    names = zoneinfo.available_timezones()
    return (*sorted(n for n in names if "/" in n and not n.startswith(("Etc/", "SystemV/", "US/"))), "UTC")


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError("Choose a time zone from the list, e.g. America/New_York.", code="invalid")


def default_time_zone() -> str:
    return str(settings.CALENDAR_DEFAULT_TIME_ZONE)


class EventSource(models.TextChoices):
    CREATED = "created", "Created here"
    IMPORTED = "imported", "Imported from a file"


class Event(FirmOwnedModel):
    name_fields: ClassVar[frozenset[str]] = frozenset({"title"})

    title = models.CharField(max_length=200)
    all_day = models.BooleanField("all day", default=False)
    start = models.DateTimeField()
    end = models.DateTimeField()
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone], default=default_time_zone)
    first_day = models.DateField(null=True, blank=True, editable=False, help_text="All-day events: the first day")
    last_day = models.DateField(null=True, blank=True, editable=False, help_text="All-day events: the last day")
    location = models.CharField(max_length=300, blank=True)
    description = models.TextField(max_length=FREE_TEXT_MAX, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", help_text="Whose calendar it is in"
    )
    reminder_minutes = models.PositiveIntegerField(
        "reminder (minutes before)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(REMINDER_MAX_MINUTES, "A reminder can be at most four weeks before.")],
    )
    reminder_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    uid = models.CharField("iCalendar UID", max_length=255, editable=False)
    recurrence_id = models.DateTimeField(null=True, blank=True, editable=False)
    source = models.CharField(max_length=10, choices=EventSource.choices, default=EventSource.CREATED, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(FirmOwnedModel.Meta):
        ordering = ["start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "owner", "uid", "recurrence_id"], nulls_distinct=False, name="agenda_event_uid_uniq"
            ),
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="agenda_event_ends_after_start"),
            models.CheckConstraint(
                condition=Q(all_day=False, first_day=None, last_day=None)
                | Q(all_day=True, first_day__isnull=False, last_day__gte=F("first_day")),
                name="agenda_event_all_day_days",
            ),
        ]
        indexes = [
            models.Index(fields=["firm", "owner", "start", "id"], name="agenda_event_owner_idx"),
            models.Index(fields=["firm", "start", "id"], name="agenda_event_start_idx"),
            models.Index(
                fields=["firm", "reminder_due_at"],
                name="agenda_event_reminder_idx",
                condition=Q(reminder_due_at__isnull=False, reminder_sent_at=None),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local_start(self) -> datetime:
        return self.start.astimezone(self.tz)

    def local_end(self) -> datetime:
        return self.end.astimezone(self.tz)

    def days(self) -> tuple[date, date]:
        """The first and last (inclusive) day the event covers, in its own time zone."""
        if self.all_day and self.first_day and self.last_day:
            return self.first_day, self.last_day
        return self.local_start().date(), self.local_end().date()


class EventContact(FirmOwnedModel):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="contact_links")
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="+")

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "event", "contact"], name="agenda_event_contact_uniq")]
        indexes = [models.Index(fields=["firm", "contact"], name="agenda_event_contact_idx")]


class EventAttendee(FirmOwnedModel):
    """A user of the firm invited to the event: it is in their calendar, feed and reminders too."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attendee_links")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta(FirmOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["firm", "event", "user"], name="agenda_event_attendee_uniq")]
        indexes = [models.Index(fields=["firm", "user"], name="agenda_event_attendee_idx")]


class CalendarFeed(FirmOwnedModel):
    """A user's private iCalendar feed address. Only the SHA-256 of its secret is stored; the
    address is shown once, when made. Making a new one revokes the old (``revoked_at``), whose
    address then answers 404."""

    audit_masked_fields: ClassVar[frozenset[str]] = frozenset({"token_hash"})

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(FirmOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "token_hash"], name="agenda_feed_token_uniq"),
            models.UniqueConstraint(
                fields=["firm", "user"], condition=Q(revoked_at=None), name="agenda_feed_one_open_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"Calendar feed of user {self.user_id}"


class CalendarSettings(FirmOwnedModel):
    """A user's calendar preferences: the time zone their calendar, reminders and dates show in."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone], default=default_time_zone)

    class Meta(FirmOwnedModel.Meta):
        verbose_name_plural = "calendar settings"
        constraints = [models.UniqueConstraint(fields=["firm", "user"], name="agenda_calendar_settings_user_uniq")]

    def __str__(self) -> str:
        return f"Calendar settings of user {self.user_id}"
