"""The calendar (crm/agenda/calendar): events with contacts and attendees, month/week/day pages,
time zones, scope and outsiders, the private iCalendar feed, .ics import and reminders."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.models import AccountScope, AuditEntry
from accounts.rights import Right, Role
from crm import services as crm_services
from crm.agenda.calendar import selectors, services
from crm.agenda.calendar.models import CalendarFeed, Event, EventAttendee, EventContact
from tests.conftest import Persona
from tests.factories import ContactFactory, UserFactory

NY = zoneinfo.ZoneInfo("America/New_York")
FIXTURES = Path(__file__).parent / "fixtures" / "calendar"


def at(*args: int, tz: zoneinfo.ZoneInfo = NY) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc]


def event(persona: Persona, **fields: Any) -> Event:
    values: dict[str, Any] = {
        "title": "Annual review", "start": at(2026, 12, 7, 10), "end": at(2026, 12, 7, 11),
        "time_zone": "America/New_York",
    }  # fmt: skip
    values.update(fields)
    with persona.scope():
        return services.event_create(actor=persona.user, **values)


@pytest.fixture
def scoped(firm_a: Any, alice: Persona) -> dict[str, Any]:
    """Dana, CRM only, scoped to one group holding ``inside``; ``outside`` is not in it."""
    with alice.scope():
        inside = ContactFactory(first_name="Ina", last_name="Inside")
        outside = ContactFactory(first_name="Otto", last_name="Outside")
        group = crm_services.group_create(actor=alice.user, name="Dana's clients")
        crm_services.group_add_members(actor=alice.user, group=group, contacts=[inside])
        dana = UserFactory(firm=firm_a, email="dana@alpha.test", full_name="Dana Diaz", role=Role.STAFF,
                           rights=frozenset({Right.CRM}))  # fmt: skip
        account_services.account_scope_set(
            actor=alice.user, user=dana, scope=AccountScope.SELECTED, group_ids=frozenset({group.pk})
        )
    return {"dana": Persona(dana, firm_a), "inside": inside, "outside": outside}


# --- Services -------------------------------------------------------------------------------------


def test_event_with_contacts_and_attendees_is_stored_as_instants_with_its_zone(alice: Persona, bob: Persona) -> None:
    with alice.scope():
        contact = ContactFactory(last_name="Morgan")
    created = event(alice, contacts=[contact], attendees=[bob.user], reminder_minutes=30, location="Office")
    with alice.scope():
        stored = Event.objects.get(pk=created.pk)
        assert stored.start == datetime(2026, 12, 7, 15, tzinfo=UTC)
        assert stored.time_zone == "America/New_York"
        assert stored.reminder_due_at == datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
        assert stored.uid.endswith("@advisorportal")
        assert list(EventContact.objects.filter(event=stored).values_list("contact_id", flat=True)) == [contact.pk]
        assert list(EventAttendee.objects.filter(event=stored).values_list("user_id", flat=True)) == [bob.user.pk]
        assert AuditEntry.objects.filter(object_type="agenda_calendar.event", object_id=str(stored.pk)).exists()
        # Bob sees it in his calendar as an attendee.
        tz = zoneinfo.ZoneInfo("America/New_York")
        assert [e.pk for e in selectors.events_for_user_on(user=bob.user, day=date(2026, 12, 7))] == [stored.pk]
        assert selectors.events_for_user(user=bob.user, start=at(2026, 12, 8), end=at(2026, 12, 9), tz=tz) == []


def test_all_day_event_covers_its_days_in_every_viewers_zone(alice: Persona, bob: Persona) -> None:
    created = event(alice, title="Office closed", all_day=True, start=date(2026, 12, 24), end=date(2026, 12, 25),
                    time_zone="Europe/Berlin", attendees=[bob.user])  # fmt: skip
    assert (created.first_day, created.last_day) == (date(2026, 12, 24), date(2026, 12, 25))
    assert created.start == datetime(2026, 12, 23, 23, tzinfo=UTC)  # midnight in Berlin
    with alice.scope():
        services.calendar_settings_set(user=bob.user, time_zone="Pacific/Honolulu")
        for day, expected in [(date(2026, 12, 23), []), (date(2026, 12, 24), [created.pk]),
                              (date(2026, 12, 25), [created.pk]), (date(2026, 12, 26), [])]:  # fmt: skip
            assert [e.pk for e in selectors.events_for_user_on(user=bob.user, day=day)] == expected, day


def test_bad_event_input_is_refused_and_nothing_is_stored(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        for fields, field in [
            ({"end": at(2026, 12, 7, 9)}, "end"),
            ({"time_zone": "Mars/Olympus"}, "time_zone"),
            ({"title": ""}, "title"),
            ({"reminder_minutes": 10**7}, "reminder_minutes"),
            ({"all_day": True, "start": date(2026, 12, 9), "end": date(2026, 12, 8)}, "end"),
        ]:
            with pytest.raises(ValidationError) as caught:
                event(alice, **fields)
            assert field in caught.value.message_dict, fields
        assert not Event.objects.exists()
    with charlie.scope():
        foreign = ContactFactory()
    with alice.scope(), pytest.raises(ValidationError) as caught:
        event(alice, contacts=[foreign.pk])
    assert caught.value.message_dict == {"contacts": ["Choose contacts among yours."]}
    with alice.scope(), pytest.raises(ValidationError) as caught:
        event(alice, attendees=[charlie.user.pk])
    assert "attendees" in caught.value.message_dict
    with alice.scope():
        assert not Event.objects.exists()


def test_moving_an_event_rearms_its_reminder(alice: Persona) -> None:
    created = event(alice, reminder_minutes=15)
    with alice.scope():
        Event.objects.filter(pk=created.pk).update(reminder_sent_at=datetime(2026, 12, 7, 14, 45, tzinfo=UTC))
        services.event_update(actor=alice.user, event=created, title="Annual review (2)")
        assert Event.objects.get(pk=created.pk).reminder_sent_at is not None
        services.event_update(actor=alice.user, event=created, start=at(2026, 12, 8, 10), end=at(2026, 12, 8, 11))
        moved = Event.objects.get(pk=created.pk)
        assert moved.reminder_sent_at is None
        assert moved.reminder_due_at == datetime(2026, 12, 8, 14, 45, tzinfo=UTC)


# --- Scope and outsiders ----------------------------------------------------------------------------


def test_an_event_with_a_contact_outside_scope_is_hidden_even_from_an_attendee(
    alice: Persona, scoped: dict[str, Any]
) -> None:
    dana = scoped["dana"]
    inside = event(alice, title="Inside meeting", contacts=[scoped["inside"]], attendees=[dana.user])
    outside = event(alice, title="Outside meeting", contacts=[scoped["outside"]], attendees=[dana.user])
    mixed = event(alice, title="Both", contacts=[scoped["inside"], scoped["outside"]], attendees=[dana.user])
    with dana.scope():
        shown = [e.title for e in selectors.events_for_user_on(user=dana.user, day=date(2026, 12, 7))]
        assert shown == ["Inside meeting"]
        client = dana.client()
        assert client.get(reverse("agenda_calendar:event-edit", args=[inside.pk])).status_code == 200
        for hidden in (outside, mixed):
            assert client.get(reverse("agenda_calendar:event-edit", args=[hidden.pk])).status_code == 404
            assert client.post(reverse("agenda_calendar:event-delete", args=[hidden.pk])).status_code == 404
        assert client.get(reverse("agenda_calendar:contact-events", args=[scoped["outside"].pk])).status_code == 404
        page = client.get(reverse("agenda_calendar:contact-events", args=[scoped["inside"].pk]))
        assert page.status_code == 200
        assert "Inside meeting" in page.content.decode() and "Both" not in page.content.decode()
        # Creating an event with a contact outside her scope: refused, nothing stored.
        before = Event.objects.unscoped().count()
        response = client.post(reverse("agenda_calendar:event-new"), {
            "title": "Sneaky", "start_date": "2026-12-09", "start_time": "10:00", "end_date": "2026-12-09",
            "end_time": "11:00", "time_zone": "America/New_York", "contacts": [scoped["outside"].pk],
        })  # fmt: skip
        assert response.status_code == 400
        assert "Choose contacts among yours." in response.content.decode()
        assert Event.objects.unscoped().count() == before
    with alice.scope():
        assert Event.objects.filter(pk=mixed.pk).exists()


def test_another_firms_event_and_contact_are_404(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
    created = event(alice, contacts=[contact])
    client = charlie.client()
    for name, args in [("event-edit", [created.pk]), ("event-delete", [created.pk]), ("contact-events", [contact.pk])]:
        assert client.get(reverse(f"agenda_calendar:{name}", args=args)).status_code == 404, name
    assert client.post(reverse("agenda_calendar:event-edit", args=[created.pk]), {"title": "x"}).status_code == 404
    assert client.post(reverse("agenda_calendar:event-delete", args=[created.pk])).status_code == 404
    with alice.scope():
        assert Event.objects.get(pk=created.pk).title == "Annual review"


def test_the_calendar_needs_the_crm_right(firm_a: Any, alice: Persona) -> None:
    with alice.scope():
        officer = UserFactory(firm=firm_a, role=Role.SECURITY_OFFICER)
    client = Persona(officer, firm_a).client()
    for url in [reverse("agenda_calendar:month-today"), reverse("agenda_calendar:event-new"),
                reverse("agenda_calendar:settings"), reverse("agenda_calendar:import")]:  # fmt: skip
        assert client.get(url).status_code == 403, url
    assert Client().get(reverse("agenda_calendar:month-today")).status_code == 302  # to the sign-in page


# --- Pages ----------------------------------------------------------------------------------------------


def test_month_week_and_day_pages_show_the_event_in_the_users_zone(alice: Persona) -> None:
    created = event(alice, title="Planning call", start=at(2026, 12, 9, 16, tz=UTC), end=at(2026, 12, 9, 17, tz=UTC))
    client = alice.client()
    with alice.scope():
        services.calendar_settings_set(user=alice.user, time_zone="Asia/Tokyo")
    edit_url = reverse("agenda_calendar:event-edit", args=[created.pk])
    month = client.get(reverse("agenda_calendar:month", args=[2026, 12])).content.decode()
    assert "December 2026" in month and edit_url in month
    week = client.get(reverse("agenda_calendar:week", args=["2026-12-10"])).content.decode()
    assert "Planning call" in week and "1:00 AM" in week  # 16:00 UTC is 1 AM the next day in Tokyo
    day = client.get(reverse("agenda_calendar:day", args=["2026-12-10"])).content.decode()
    assert "Planning call" in day
    assert "Planning call" not in client.get(reverse("agenda_calendar:day", args=["2026-12-09"])).content.decode()
    for bad in ("2026-13-01", "yesterday", "0001-01-01"):
        assert client.get(reverse("agenda_calendar:day", args=[bad])).status_code == 404
    assert client.get(reverse("agenda_calendar:month", args=[2026, 13])).status_code == 404


def test_create_edit_and_delete_through_the_pages(alice: Persona, bob: Persona) -> None:
    with alice.scope():
        contact = ContactFactory(first_name="Rita", last_name="Ruiz")
    client = alice.client()
    form = client.get(reverse("agenda_calendar:event-new") + "?start=2026-12-08T14:00")
    assert form.status_code == 200
    assert 'value="14:00"' in form.content.decode() and 'value="15:00"' in form.content.decode()
    response = client.post(reverse("agenda_calendar:event-new"), {
        "title": "Onboarding meeting", "start_date": "2026-12-08", "start_time": "14:00", "end_date": "2026-12-08",
        "end_time": "15:30", "time_zone": "America/Chicago", "location": "Room 2", "reminder_minutes": "60",
        "contacts": [contact.pk], "attendees": [bob.user.pk], "next": "/calendar/week/2026-12-08/",
    })  # fmt: skip
    assert response.status_code == 302 and response["Location"] == "/calendar/week/2026-12-08/"
    with alice.scope():
        created = Event.objects.get(title="Onboarding meeting")
        assert created.start == datetime(2026, 12, 8, 20, tzinfo=UTC)
        assert created.reminder_minutes == 60
    edit_url = reverse("agenda_calendar:event-edit", args=[created.pk])
    page = client.get(edit_url).content.decode()
    assert "Rita Ruiz" in page and 'value="Onboarding meeting"' in page
    response = client.post(edit_url, {
        "title": "Onboarding meeting", "all_day": "on", "start_date": "2026-12-09", "end_date": "2026-12-09",
        "time_zone": "America/Chicago", "reminder_minutes": "",
    })  # fmt: skip
    assert response.status_code == 302
    with alice.scope():
        edited = Event.objects.get(pk=created.pk)
        assert edited.all_day and edited.first_day == date(2026, 12, 9) and edited.reminder_minutes is None
        assert not EventContact.objects.filter(event=edited).exists()  # unticked
    bad = client.post(edit_url, {"title": "", "start_date": "2026-12-09", "time_zone": "America/Chicago"})
    assert bad.status_code == 400 and "nothing was saved" in bad.content.decode()
    confirm = client.get(reverse("agenda_calendar:event-delete", args=[created.pk]))
    assert "cannot be undone" in confirm.content.decode()
    assert client.post(reverse("agenda_calendar:event-delete", args=[created.pk])).status_code == 302
    with alice.scope():
        assert not Event.objects.filter(pk=created.pk).exists()


def test_contact_choices_list_only_contacts_in_scope(alice: Persona, scoped: dict[str, Any]) -> None:
    client = scoped["dana"].client()
    url = reverse("agenda_calendar:contact-choices")
    assert "Ina Inside" in client.get(url, {"contact_q": "Ina"}).content.decode()
    assert "Otto Outside" not in client.get(url, {"contact_q": "Otto"}).content.decode()
    chosen = client.get(url, {"contact_q": "Ina", "contacts": [scoped["inside"].pk]}).content.decode()
    assert "Ina Inside" not in chosen


def test_contact_page_links_to_its_events(alice: Persona) -> None:
    with alice.scope():
        contact = ContactFactory()
    page = alice.client().get(reverse("crm:contact-detail", args=[contact.pk])).content.decode()
    assert reverse("agenda_calendar:contact-events", args=[contact.pk]) in page


# --- Feed ----------------------------------------------------------------------------------------------------


def feed_path(url: str) -> str:
    return url[url.index("/calendar/feed/") :]


def test_feed_serves_the_users_events_as_icalendar_and_a_revoked_address_is_404(alice: Persona, bob: Persona) -> None:
    with alice.scope():
        contact = ContactFactory(first_name="Fay", last_name="Feed")
    soon = datetime.now(UTC) + timedelta(days=2)
    timed = event(alice, title="Feed meeting", contacts=[contact], reminder_minutes=10, start=soon,
                  end=soon + timedelta(hours=1))  # fmt: skip
    today = datetime.now(UTC).date()
    day_long = event(alice, title="Away", all_day=True, start=today, end=today + timedelta(days=1))
    event(bob, title="Bob's own", start=datetime.now(UTC), end=datetime.now(UTC) + timedelta(hours=1))
    client = alice.client()
    page = client.post(reverse("agenda_calendar:settings"), {"action": "feed-new"})
    url = page.context["new_url"]
    assert url.startswith("http") and url.endswith(".ics")
    with alice.scope():
        feed = CalendarFeed.objects.get(user=alice.user, revoked_at=None)
        assert url.rsplit("/", 1)[1][:-4].split(".", 1)[1] not in feed.token_hash  # only the hash is stored
    response = Client().get(feed_path(url))  # a phone: no session
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.content)
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"Feed meeting", "Away"}
    assert events["Feed meeting"].decoded("DTSTART") == timed.start.replace(microsecond=0)
    assert str(events["Feed meeting"]["UID"]) == timed.uid
    assert "Fay Feed" in str(events["Feed meeting"]["DESCRIPTION"])
    assert events["Feed meeting"].walk("VALARM")[0]["TRIGGER"].dt == timedelta(minutes=-10)
    assert events["Away"].decoded("DTSTART") == day_long.first_day
    assert events["Away"].decoded("DTEND") == today + timedelta(days=2)
    # A new address revokes the old; stopping it revokes the new one.
    newer = client.post(reverse("agenda_calendar:settings"), {"action": "feed-new"}).context["new_url"]
    assert Client().get(feed_path(url)).status_code == 404
    assert Client().get(feed_path(newer)).status_code == 200
    client.post(reverse("agenda_calendar:settings"), {"action": "feed-revoke"})
    assert Client().get(feed_path(newer)).status_code == 404
    for bad in ("nonsense", "1.short", f"{alice.firm.pk}.{'A' * 43}"):
        assert Client().get(f"/calendar/feed/{bad}.ics").status_code == 404


def test_feed_token_of_one_firm_does_not_open_another_firms_feed(alice: Persona, charlie: Persona) -> None:
    with alice.scope():
        token = services.feed_issue(user=alice.user)
    _, secret = token.split(".", 1)
    assert Client().get(f"/calendar/feed/{token}.ics").status_code == 200
    assert Client().get(f"/calendar/feed/{charlie.firm.pk}.{secret}.ics").status_code == 404
    # Signed in to another firm, the address is refused too.
    assert charlie.client().get(f"/calendar/feed/{token}.ics").status_code == 404
    # Without the CRM right any more, the address serves nothing.
    with alice.scope():
        account_services.user_update(
            actor=alice.user,
            user=alice.user,
            role=Role.PRIMARY,
            is_active=True,
            rights=frozenset({Right.USER_MANAGEMENT}),
        )
    assert Client().get(f"/calendar/feed/{token}.ics").status_code == 404


# --- Import ---------------------------------------------------------------------------------------------


def import_file(persona: Persona, name: str, now: datetime | None = None) -> services.ImportResult:
    with persona.scope():
        return services.ics_import(
            actor=persona.user, data=(FIXTURES / name).read_bytes(), now=now or datetime(2026, 12, 1, tzinfo=UTC)
        )


def test_import_converts_zones_all_day_and_recurring_events_and_a_reimport_updates(alice: Persona) -> None:
    result = import_file(alice, "mixed.ics")
    assert (result.created, result.updated, result.removed) == (7, 0, 0)
    with alice.scope():
        rows = {(e.uid, e.recurrence_id): e for e in Event.objects.all()}
        review = rows[("review@example.com", None)]  # TZID with the file's own VTIMEZONE (US Eastern rules)
        assert review.start == datetime(2026, 12, 10, 14, tzinfo=UTC)
        assert review.reminder_minutes == 15
        call = rows[("utc-call@example.com", None)]
        assert (call.start, call.end) == (
            datetime(2026, 12, 11, 15, tzinfo=UTC),
            datetime(2026, 12, 11, 15, 30, tzinfo=UTC),
        )
        assert call.time_zone == "UTC"
        holiday = rows[("holiday@example.com", None)]
        assert holiday.all_day and (holiday.first_day, holiday.last_day) == (date(2026, 12, 24), date(2026, 12, 25))
        weekly = sorted((e for (uid, _), e in rows.items() if uid == "weekly@example.com"), key=lambda e: e.start)
        # Four Mondays at 10:00 London, the second removed (EXDATE), the third moved to 12:00.
        assert [e.start for e in weekly] == [
            datetime(2026, 12, 7, 10, tzinfo=UTC), datetime(2026, 12, 21, 12, tzinfo=UTC),
            datetime(2026, 12, 28, 10, tzinfo=UTC),
        ]  # fmt: skip
        assert weekly[1].recurrence_id == datetime(2026, 12, 21, 10, tzinfo=UTC)
        assert {e.time_zone for e in weekly} == {"Europe/London"}
        floating = rows[("floating@example.com", None)]  # no zone: the importer's (America/New_York)
        assert floating.start == datetime(2026, 12, 15, 14, tzinfo=UTC)
    again = import_file(alice, "mixed.ics")
    assert (again.created, again.updated, again.removed) == (0, 7, 0)
    changed = import_file(alice, "mixed_changed.ics")
    assert (changed.created, changed.updated, changed.removed) == (0, 4, 2)  # cancelled, a new EXDATE
    with alice.scope():
        assert Event.objects.get(uid="review@example.com").title == "Review (moved)"
        assert not Event.objects.filter(uid="holiday@example.com").exists()
        assert Event.objects.filter(uid="weekly@example.com").count() == 2
        assert Event.objects.filter(uid="utc-call@example.com").exists()  # left out of the file: kept
        assert Event.objects.count() == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, this is not a calendar", "This is not an iCalendar file"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nEND:VCARD\r\n", "This is not an iCalendar file"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20261301T100000\r\n", "cannot be read"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "holds no events"),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:2026\r\nSUMMARY:Bad\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "Event 1 (“Bad”): its DTSTART cannot be read",
        ),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20261201T100000Z\r\nSUMMARY:No uid\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n",
            "has no UID",
        ),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T090000Z\r\n"
            b"SUMMARY:Backwards\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "ends before it starts",
        ),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:c\r\nDTSTART:20261201T100000Z\r\nRRULE:FREQ=SOMETIMES\r\n"
            b"SUMMARY:Odd\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "RRULE",
        ),
    ],
)
def test_a_malformed_ics_is_refused_with_a_clear_message_and_nothing_imported(
    alice: Persona, content: bytes, message: str
) -> None:
    good = (FIXTURES / "mixed.ics").read_bytes()
    with alice.scope(), pytest.raises(ValidationError) as caught:
        services.ics_import(actor=alice.user, data=content, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert message in caught.value.message_dict["file"][0]
    # Through the page: the message shown, nothing imported (a good event before a bad one neither).
    mixed = good.replace(b"END:VCALENDAR", b"BEGIN:VEVENT\r\nUID:z\r\nDTSTART:2026\r\nEND:VEVENT\r\nEND:VCALENDAR")
    response = alice.client().post(
        reverse("agenda_calendar:import"), {"file": SimpleUploadedFile("cal.ics", mixed, "text/calendar")}
    )
    assert response.status_code == 400
    assert "Nothing was imported." in response.content.decode()
    with alice.scope():
        assert not Event.objects.exists()


def test_import_page_imports_and_says_how_many(alice: Persona) -> None:
    content = (FIXTURES / "mixed.ics").read_bytes()
    client = alice.client()
    response = client.post(
        reverse("agenda_calendar:import"), {"file": SimpleUploadedFile("cal.ics", content, "text/calendar")},
        follow=True,
    )  # fmt: skip
    assert "Imported the calendar file: " in response.content.decode()
    with alice.scope():
        assert Event.objects.filter(owner=alice.user, source="imported").exists()


# --- API -------------------------------------------------------------------------------------------------


def test_api_creates_lists_updates_and_deletes_events(alice: Persona, bob: Persona) -> None:
    with alice.scope():
        contact = ContactFactory(first_name="Api", last_name="Person")
    api = alice.api()
    created = api.post("/api/v1/calendar-events/", {
        "title": "API review", "start": "2026-12-14T10:00:00-05:00", "end": "2026-12-14T11:00:00-05:00",
        "time_zone": "America/New_York", "contacts": [contact.pk], "attendees": [bob.user.pk], "reminder_minutes": 30,
    }, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["contacts"] == [contact.pk] and body["attendees"] == [bob.user.pk]
    assert body["start"].startswith("2026-12-14T") and body["start_date"] is None
    all_day = api.post("/api/v1/calendar-events/", {
        "title": "Conference", "all_day": True, "start_date": "2026-12-15", "end_date": "2026-12-16",
    }, format="json")  # fmt: skip
    assert all_day.status_code == 201, all_day.json()
    assert (all_day.json()["start_date"], all_day.json()["end_date"]) == ("2026-12-15", "2026-12-16")
    listed = api.get("/api/v1/calendar-events/", {"start": "2026-12-14", "end": "2026-12-16"}).json()
    assert [e["title"] for e in listed["results"]] == ["API review", "Conference"]
    assert (
        api.get("/api/v1/calendar-events/", {"start": "2026-12-16", "end": "2026-12-16"}).json()["results"][0]["title"]
        == "Conference"
    )
    by_contact = api.get("/api/v1/calendar-events/", {"contact": contact.pk, "start": "2026-12-01"}).json()
    assert [e["title"] for e in by_contact["results"]] == ["API review"]
    assert [e["title"] for e in api.get(f"/api/v1/contacts/{contact.pk}/events/").json()] == ["API review"]
    event_id = body["id"]
    patched = api.patch(f"/api/v1/calendar-events/{event_id}/", {"title": "API review (moved)",
                        "start": "2026-12-14T12:00:00Z", "end": "2026-12-14T13:00:00Z"}, format="json")  # fmt: skip
    assert patched.status_code == 200, patched.json()
    assert patched.json()["contacts"] == [contact.pk]  # a partial update keeps the contacts
    assert api.delete(f"/api/v1/calendar-events/{event_id}/").status_code == 204
    with alice.scope():
        assert not Event.objects.filter(pk=event_id).exists()


def test_api_bad_input_is_400_and_changes_nothing(alice: Persona, charlie: Persona) -> None:
    with charlie.scope():
        foreign = ContactFactory()
    api = alice.api()
    for payload, field in [
        ({"title": "x", "start": "2026-12-14T10:00:00Z"}, "end"),
        ({"title": "x", "start": "2026-12-14T10:00:00Z", "end": "2026-12-14T09:00:00Z"}, "end"),
        ({"title": "x", "all_day": True}, "start_date"),
        ({"title": "x", "start": "2026-12-14T10:00:00Z", "end": "2026-12-14T11:00:00Z", "time_zone": "Nowhere"},
         "time_zone"),
        ({"title": "x", "start": "2026-12-14T10:00:00Z", "end": "2026-12-14T11:00:00Z", "contacts": [foreign.pk]},
         "contacts"),
    ]:  # fmt: skip
        response = api.post("/api/v1/calendar-events/", payload, format="json")
        assert response.status_code == 400, (payload, response.json())
        assert field in str(response.json()), (payload, response.json())
    assert api.get("/api/v1/calendar-events/", {"start": "2026-01-01", "end": "2028-01-01"}).status_code == 400
    assert api.get("/api/v1/calendar-events/", {"start": "soon"}).status_code == 400
    bad = api.post(
        "/api/v1/calendar-events/import/", {"file": SimpleUploadedFile("x.ics", b"nope")}, format="multipart"
    )
    assert bad.status_code == 400 and "not an iCalendar file" in str(bad.json())
    with alice.scope():
        assert not Event.objects.exists()


def test_api_outsiders_and_scope(alice: Persona, charlie: Persona, scoped: dict[str, Any], firm_a: Any) -> None:
    outside = event(alice, title="Outside", contacts=[scoped["outside"]], attendees=[scoped["dana"].user])
    mine = event(alice, title="Mine")
    for persona, hidden in [(charlie, [outside, mine]), (scoped["dana"], [outside])]:
        api = persona.api()
        for e in hidden:
            assert api.get(f"/api/v1/calendar-events/{e.pk}/").status_code == 404
            assert api.patch(f"/api/v1/calendar-events/{e.pk}/", {"title": "x"}, format="json").status_code == 404
            assert api.delete(f"/api/v1/calendar-events/{e.pk}/").status_code == 404
        assert api.get("/api/v1/calendar-events/", {"start": "2026-12-01"}).json()["results"] == []
    dana_api = scoped["dana"].api()
    assert dana_api.get("/api/v1/calendar-events/", {"contact": scoped["outside"].pk}).status_code == 404
    assert dana_api.get(f"/api/v1/contacts/{scoped['outside'].pk}/events/").status_code == 404
    assert charlie.api().get(f"/api/v1/contacts/{scoped['inside'].pk}/events/").status_code == 404
    with alice.scope():
        officer = UserFactory(firm=firm_a, role=Role.SECURITY_OFFICER)
    no_right = Persona(officer, firm_a).api()
    assert no_right.get("/api/v1/calendar-events/").status_code == 403
    assert no_right.post("/api/v1/calendar-feed/").status_code == 403
    with alice.scope():
        assert Event.objects.get(pk=mine.pk).title == "Mine"


def test_api_feed_address_is_made_once_and_revoked(alice: Persona) -> None:
    api = alice.api()
    assert api.get("/api/v1/calendar-feed/").json() == {"active": False, "created_at": None}
    made = api.post("/api/v1/calendar-feed/")
    assert made.status_code == 201
    url = made.json()["url"]
    assert "url" not in api.get("/api/v1/calendar-feed/").json()
    assert Client().get(feed_path(url)).status_code == 200
    assert api.delete("/api/v1/calendar-feed/").status_code == 204
    assert Client().get(feed_path(url)).status_code == 404


def test_demo_calendar_fills_today_for_each_user_and_a_rerun_rebuilds_it(firm_a: Any, alice: Persona) -> None:
    from devtools.demo.calendar_events import seed_calendar

    with alice.scope():
        for local, role in (("owner", Role.PRIMARY), ("advisor", Role.ADVISOR), ("assistant", Role.STAFF)):
            UserFactory(firm=firm_a, email=f"{local}@alpha.example", role=role)
        ContactFactory.create_batch(5)
        first = seed_calendar(firm=firm_a, seed=1, log=lambda _: None)
        assert seed_calendar(firm=firm_a, seed=1, log=lambda _: None) == first
        assert Event.objects.count() == first
        for user in (u for u in selectors.attendee_choices(user=alice.user) if u.email.endswith("@alpha.example")):
            today = selectors.today_for_user(user=user)
            assert len(selectors.events_for_user_on(user=user, day=today)) >= 3, user.email


@pytest.mark.skipif(not apps.is_installed("advisorportal.mail"), reason="needs the floor's outgoing email")
def test_a_reminder_is_emailed_once_however_often_beat_runs(
    alice: Persona, bob: Persona, scoped: dict[str, Any]
) -> None:
    from advisorportal.mail.models import OutgoingEmail

    soon = datetime.now(UTC) + timedelta(minutes=20)
    created = event(alice, title="Reminder me", start=soon, end=soon + timedelta(hours=1), reminder_minutes=30,
                    attendees=[bob.user, scoped["dana"].user], contacts=[scoped["outside"]])  # fmt: skip
    later = event(alice, title="Later", start=soon + timedelta(days=3), end=soon + timedelta(days=3, hours=1),
                  reminder_minutes=30)  # fmt: skip
    with alice.scope():
        assert services.reminders_send_due() == 1
        assert services.reminders_send_due() == 0  # beat again: nothing more
        sent = OutgoingEmail.objects.filter(template="agenda_calendar.reminder")
        # The owner and Bob; not Dana, whose scope does not hold the event's contact.
        assert sorted(sent.values_list("to", flat=True)) == sorted([alice.user.email, bob.user.email])
        assert Event.objects.get(pk=created.pk).reminder_sent_at is not None
        assert Event.objects.get(pk=later.pk).reminder_sent_at is None
