from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django import forms

from crm.agenda.calendar.models import time_zone_names

REMINDER_CHOICES = [
    ("", "No reminder"),
    ("0", "When it starts"),
    ("5", "5 minutes before"),
    ("10", "10 minutes before"),
    ("15", "15 minutes before"),
    ("30", "30 minutes before"),
    ("60", "1 hour before"),
    ("120", "2 hours before"),
    ("1440", "1 day before"),
    ("2880", "2 days before"),
    ("10080", "1 week before"),
]


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in time_zone_names()]


class EventForm(forms.Form):
    title = forms.CharField(max_length=200)
    all_day = forms.BooleanField(label="All day", required=False)
    start_date = forms.DateField(label="Starts on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    start_time = forms.TimeField(
        label="at", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end_date = forms.DateField(
        label="Ends on", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end_time = forms.TimeField(
        label="at", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    time_zone = forms.ChoiceField(label="Time zone")
    location = forms.CharField(max_length=300, required=False)
    description = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 4}))
    reminder_minutes = forms.TypedChoiceField(
        label="Email reminder", choices=REMINDER_CHOICES, coerce=int, empty_value=None, required=False
    )
    attendees = forms.MultipleChoiceField(
        label="Colleagues invited", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, attendee_choices: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = _time_zone_choices()
        cast(forms.ChoiceField, self.fields["attendees"]).choices = attendee_choices or []
        initial_reminder = self.initial.get("reminder_minutes")
        if initial_reminder is not None and str(initial_reminder) not in dict(REMINDER_CHOICES):
            # An imported event's own reminder stays choosable.
            field = cast(forms.ChoiceField, self.fields["reminder_minutes"])
            field.choices = [*REMINDER_CHOICES, (str(initial_reminder), f"{initial_reminder} minutes before")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start_date, end_date = data.get("start_date"), data.get("end_date") or data.get("start_date")
        if start_date is None:
            return data
        if data.get("all_day"):
            data["start"], data["end"] = start_date, end_date
            return data
        start_time, end_time = data.get("start_time"), data.get("end_time")
        if start_time is None:
            self.add_error("start_time", "Enter the start time, or tick All day.")
            return data
        if end_time is None:
            self.add_error("end_time", "Enter the end time, or tick All day.")
            return data
        assert end_date is not None
        # Naive: the service reads them in the chosen time zone.
        data["start"] = datetime.combine(start_date, start_time)
        data["end"] = datetime.combine(end_date, end_time)
        if data["end"] < data["start"]:
            self.add_error("end_time", "The event cannot end before it starts.")
        return data


class ImportForm(forms.Form):
    file = forms.FileField(label="iCalendar file (.ics)")


class SettingsForm(forms.Form):
    time_zone = forms.ChoiceField(label="Your time zone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = _time_zone_choices()
