from __future__ import annotations

from typing import Any

from rest_framework import serializers

from crm.agenda.calendar.models import REMINDER_MAX_MINUTES, Event, EventSource


class EventSerializer(serializers.Serializer[Event]):
    """A calendar event. Timed: `start` and `end` (ISO 8601 with an offset; without one, in
    `time_zone`). All day: `all_day: true` with `start_date` and `end_date` (the last day,
    inclusive); `start`/`end` then read as midnight before and after those days in `time_zone`.
    `contacts` are contact ids in your scope, `attendees` ids of active users of your firm."""

    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(max_length=200)
    all_day = serializers.BooleanField(default=False)
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    start_date = serializers.DateField(required=False, allow_null=True, source="first_day")
    end_date = serializers.DateField(required=False, allow_null=True, source="last_day")
    time_zone = serializers.CharField(max_length=64, required=False, help_text="IANA name; default: yours")
    location = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")
    reminder_minutes = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=REMINDER_MAX_MINUTES,
        help_text="An email reminder this many minutes before the start; null for none",
    )  # fmt: skip
    contacts = serializers.ListField(child=serializers.IntegerField(), required=False, source="contact_ids")
    attendees = serializers.ListField(child=serializers.IntegerField(), required=False, source="attendee_ids")
    owner = serializers.IntegerField(source="owner_id", read_only=True)
    uid = serializers.CharField(read_only=True, help_text="The iCalendar UID")
    source = serializers.ChoiceField(choices=EventSource.choices, read_only=True)  # type: ignore[assignment]
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        partial = bool(self.partial)
        if "contact_ids" in attrs:
            attrs["contacts"] = attrs.pop("contact_ids")
        if "attendee_ids" in attrs:
            attrs["attendees"] = attrs.pop("attendee_ids")
        all_day = attrs.get("all_day", getattr(self.instance, "all_day", False))
        if all_day:
            first, last = attrs.pop("first_day", None), attrs.pop("last_day", None)
            if first is not None or not partial:
                if first is None:
                    raise serializers.ValidationError({"start_date": ["An all-day event needs its first day."]})
                attrs["start"], attrs["end"] = first, last or first
        else:
            attrs.pop("first_day", None), attrs.pop("last_day", None)
            for name in ("start", "end"):
                if name not in attrs and not partial:
                    raise serializers.ValidationError({name: ["A timed event needs its start and end."]})
        return attrs


class ImportSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="An iCalendar (.ics) file")


class ImportResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    removed = serializers.IntegerField()
    message = serializers.CharField()


class FeedSerializer(serializers.Serializer[Any]):
    active = serializers.BooleanField(help_text="Whether you have a working feed address")
    created_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(
        required=False, help_text="The new address, only in the answer that made it (only its hash is stored)"
    )
