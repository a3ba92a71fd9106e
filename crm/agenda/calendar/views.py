"""Calendar pages: month, week and day views of the user's own events, the event form (create by
choosing a day or an hour slot, edit by choosing an event), delete with confirmation, .ics
import, the calendar settings (time zone, private feed address), the feed itself, and a
contact's events. Every page needs the CRM right; times show in the user's calendar time zone."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts.access import FirmScopedView, PublicView
from accounts.policy import has_right
from accounts.rights import Right
from advisorportal import formats
from advisorportal.jobs.uploads import FileRefused, read_upload
from advisorportal.redirects import safe_next
from advisorportal.tenancy.context import current_firm_id, firm_scope
from crm import selectors as crm_selectors
from crm.agenda.calendar import grid, ical, selectors, services
from crm.agenda.calendar.forms import EventForm, ImportForm, SettingsForm
from crm.agenda.calendar.models import Event
from crm.models import Contact

FEED_TOKEN = re.compile(r"([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{43})")
CONTACT_CHOICES = 8


def _day(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Http404("No such day.") from None
    if not 1900 <= day.year <= 2200:
        raise Http404("No such day.")
    return day


def _put_errors(form: Any, error: ValidationError) -> None:
    for name, errors in error.message_dict.items():
        target = {"start": "start_date", "end": "end_date", "contacts": None}.get(name, name)
        form.add_error(target if target in form.fields else None, errors)


class CalendarPage(FirmScopedView):
    required_right = Right.CRM

    def page(self, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
        """Render in the user's calendar time zone, so every date and time filter shows local times."""
        tz = selectors.user_time_zone(user=self.user)
        with timezone.override(tz):
            return render(self.request, template, {**context, "calendar_time_zone": tz.key}, status=status)

    def today(self) -> date:
        return selectors.today_for_user(user=self.user)

    def nav(self, view: str, day: date, *, previous: str, following: str) -> dict[str, Any]:
        today = self.today()
        return {
            "view": view,
            "day": day,
            "previous_url": previous,
            "next_url": following,
            "today_url": {
                "month": reverse("agenda_calendar:month", args=[today.year, today.month]),
                "week": reverse("agenda_calendar:week", args=[today.isoformat()]),
                "day": reverse("agenda_calendar:day", args=[today.isoformat()]),
            }[view],
            "month_url": reverse("agenda_calendar:month", args=[day.year, day.month]),
            "week_url": reverse("agenda_calendar:week", args=[day.isoformat()]),
            "day_url": reverse("agenda_calendar:day", args=[day.isoformat()]),
            "here": self.request.get_full_path(),
        }


class MonthView(CalendarPage):
    def get(self, request: HttpRequest, year: int | None = None, month: int | None = None) -> HttpResponseBase:
        today = self.today()
        year, month = (year, month) if year is not None and month is not None else (today.year, today.month)
        if not (1 <= month <= 12 and 1900 <= year <= 2200):
            raise Http404("No such month.")
        weeks = grid.month_dates(year, month)
        tz = selectors.user_time_zone(user=self.user)
        days = [grid.Day(date=d, is_today=d == today, in_month=d.month == month) for week in weeks for d in week]
        start, _ = selectors.window(day=days[0].date, tz=tz)
        _, end = selectors.window(day=days[-1].date, tz=tz)
        events = selectors.events_for_user(user=self.user, start=start, end=end, tz=tz)
        grid.lay_out(events, days, tz, slots=False)
        first = date(year, month, 1)
        previous = first - timedelta(days=1)
        following = first + timedelta(days=32)
        context = self.nav(
            "month",
            today if (today.year, today.month) == (year, month) else first,
            previous=reverse("agenda_calendar:month", args=[previous.year, previous.month]),
            following=reverse("agenda_calendar:month", args=[following.year, following.month]),
        )
        context.update(
            month=first, weekdays=grid.weekday_headers(), weeks=[days[i : i + 7] for i in range(0, len(days), 7)]
        )
        return self.page("agenda_calendar/month.html", context)


class WeekView(CalendarPage):
    def get(self, request: HttpRequest, day: str) -> HttpResponseBase:
        shown = _day(day)
        start_day = grid.week_start(shown)
        return self.timegrid(shown, [start_day + timedelta(days=i) for i in range(7)], "week")

    def timegrid(self, shown: date, dates: list[date], view: str) -> HttpResponseBase:
        today = self.today()
        tz = selectors.user_time_zone(user=self.user)
        days = [grid.Day(date=d, is_today=d == today) for d in dates]
        start, _ = selectors.window(day=dates[0], tz=tz)
        _, end = selectors.window(day=dates[-1], tz=tz)
        events = selectors.events_for_user(user=self.user, start=start, end=end, tz=tz)
        hours = grid.lay_out(events, days, tz, slots=True)
        step = timedelta(days=len(dates))
        name = "agenda_calendar:week" if view == "week" else "agenda_calendar:day"
        context = self.nav(
            view, shown,
            previous=reverse(name, args=[(shown - step).isoformat()]),
            following=reverse(name, args=[(shown + step).isoformat()]),
        )  # fmt: skip
        if view == "week":
            heading = f"{formats.day(dates[0])} \N{EN DASH} {formats.day(dates[-1])}"
        else:
            heading = f"{days[0].weekday}, {formats.day(dates[0])}"
        context.update(days=days, hours=[time(h) for h in hours], first=dates[0], last=dates[-1], heading_text=heading)
        return self.page(f"agenda_calendar/{view}.html", context)


class DayView(WeekView):
    def get(self, request: HttpRequest, day: str) -> HttpResponseBase:
        shown = _day(day)
        return self.timegrid(shown, [shown], "day")


class EventFormMixin(CalendarPage):
    def attendee_choices(self) -> list[tuple[str, str]]:
        return [
            (str(u.pk), u.full_name or u.email)
            for u in selectors.attendee_choices(user=self.user)
            if u.pk != self.user.pk
        ]

    def chosen_contacts(self, ids: list[str]) -> list[Contact]:
        return crm_selectors.contacts_by_ids(user=self.user, ids=ids)

    def render_form(
        self, form: EventForm, *, event: Event | None, contacts: list[Contact], status: int = 200
    ) -> HttpResponse:
        fallback = reverse("agenda_calendar:month-today")
        return self.page(
            "agenda_calendar/event_form.html",
            {"form": form, "event": event, "contacts": contacts, "next": safe_next(self.request, fallback)},
            status=status,
        )

    def save(self, form: EventForm, event: Event | None) -> HttpResponseBase:
        request = self.request
        contact_ids = request.POST.getlist("contacts")
        contacts = self.chosen_contacts(contact_ids)
        if not form.is_valid():
            return self.render_form(form, event=event, contacts=contacts, status=400)
        if len(contacts) != len({i for i in contact_ids if i.isdigit()}) or any(not i.isdigit() for i in contact_ids):
            form.add_error(None, "Choose contacts among yours.")
            return self.render_form(form, event=event, contacts=contacts, status=400)
        data = form.cleaned_data
        fields = {
            "title": data["title"], "all_day": data["all_day"], "start": data["start"], "end": data["end"],
            "time_zone": data["time_zone"], "location": data["location"], "description": data["description"],
            "reminder_minutes": data["reminder_minutes"],
        }  # fmt: skip
        try:
            if event is None:
                saved = services.event_create(actor=self.user, contacts=contacts, attendees=data["attendees"], **fields)
                messages.success(request, f"Added “{saved.title}”.")
            else:
                saved = services.event_update(
                    actor=self.user, event=event, contacts=contacts, attendees=data["attendees"], **fields
                )
                messages.success(request, f"Saved “{saved.title}”.")
        except ValidationError as error:
            _put_errors(form, error)
            return self.render_form(form, event=event, contacts=contacts, status=400)
        local = saved.start.astimezone(selectors.user_time_zone(user=self.user)).date()
        day = saved.first_day if saved.all_day and saved.first_day else local
        return redirect(safe_next(request, reverse("agenda_calendar:day", args=[day.isoformat()])))


class EventCreateView(EventFormMixin):
    def initial(self) -> dict[str, Any]:
        params = self.request.GET
        tz_name = selectors.user_time_zone_name(user=self.user)
        start: datetime
        if "start" in params:
            try:
                start = datetime.fromisoformat(params["start"][:16]).replace(tzinfo=None, second=0, microsecond=0)
            except ValueError:
                start = datetime.combine(self.today(), time(9))
        else:
            try:
                day = date.fromisoformat(params.get("date", ""))
            except ValueError:
                day = self.today()
            start = datetime.combine(day, time(9))
        end = start + timedelta(hours=1)
        return {
            "start_date": start.date(), "start_time": start.time(), "end_date": end.date(), "end_time": end.time(),
            "time_zone": tz_name, "all_day": params.get("all_day") == "1",
        }  # fmt: skip

    def get(self, request: HttpRequest) -> HttpResponseBase:
        form = EventForm(initial=self.initial(), attendee_choices=self.attendee_choices())
        contacts = self.chosen_contacts(request.GET.getlist("contact"))
        return self.render_form(form, event=None, contacts=contacts)

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = EventForm(request.POST, attendee_choices=self.attendee_choices())
        return self.save(form, None)


class EventEditView(EventFormMixin):
    def event(self, pk: int) -> Event:
        try:
            return selectors.event_get(user=self.user, pk=pk)
        except Event.DoesNotExist:
            raise Http404("No such event.") from None

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        event = self.event(pk)
        tz = event.tz
        start, end = event.start.astimezone(tz), event.end.astimezone(tz)
        initial = {
            "title": event.title, "all_day": event.all_day, "time_zone": event.time_zone,
            "location": event.location, "description": event.description,
            "reminder_minutes": event.reminder_minutes, "attendees": [str(u.pk) for u in event.attendees],  # type: ignore[attr-defined]
        }  # fmt: skip
        if event.all_day:
            initial.update(start_date=event.first_day, end_date=event.last_day, start_time=time(9), end_time=time(10))
        else:
            initial.update(start_date=start.date(), start_time=start.time(), end_date=end.date(), end_time=end.time())
        form = EventForm(initial=initial, attendee_choices=self.attendee_choices())
        return self.render_form(form, event=event, contacts=list(event.shown_contacts))  # type: ignore[attr-defined]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        event = self.event(pk)
        form = EventForm(request.POST, attendee_choices=self.attendee_choices())
        return self.save(form, event)


class EventDeleteView(EventEditView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        event = self.event(pk)
        fallback = reverse("agenda_calendar:month-today")
        return self.page("agenda_calendar/event_delete.html", {"event": event, "next": safe_next(request, fallback)})

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        event = self.event(pk)
        services.event_delete(actor=self.user, event=event)
        messages.success(request, f"Deleted “{event.title}”.")
        next_url = safe_next(request, reverse("agenda_calendar:month-today"))
        if next_url.startswith(reverse("agenda_calendar:event-edit", args=[pk])):
            next_url = reverse("agenda_calendar:month-today")
        return redirect(next_url)


class ContactChoicesView(CalendarPage):
    """The contacts matching what was typed in the event form's contact search (htmx)."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        q = request.GET.get("contact_q", "").strip()[:100]
        chosen = {i for i in request.GET.getlist("contacts") if i.isdigit()}
        contacts: list[Contact] = []
        more = False
        if len(q) >= 2:
            page = crm_selectors.contact_page(user=self.user, q=q, size=CONTACT_CHOICES)
            contacts = [c for c in page.rows if str(c.pk) not in chosen]
            more = bool(page.next_cursor)
        return self.page(
            "agenda_calendar/_contact_choices.html", {"q": q if len(q) >= 2 else "", "contacts": contacts, "more": more}
        )


class ImportView(CalendarPage):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return self.page("agenda_calendar/import.html", {"form": ImportForm()})

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                upload = read_upload(form.cleaned_data["file"], limit=services.ICS_MAX_BYTES)
                result = services.ics_import(actor=self.user, data=upload.data)
            except FileRefused as error:
                form.add_error("file", str(error))
            except ValidationError as error:
                form.add_error("file", error.message_dict.get("file", error.messages))
            else:
                messages.success(request, result.message)
                return redirect("agenda_calendar:month-today")
        return self.page("agenda_calendar/import.html", {"form": form}, status=400)


def feed_url(request: HttpRequest, token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("agenda_calendar:feed", args=[token])


class SettingsView(CalendarPage):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return self.render_settings(SettingsForm(initial={"time_zone": selectors.user_time_zone_name(user=self.user)}))

    def render_settings(self, form: SettingsForm, *, new_url: str = "", status: int = 200) -> HttpResponse:
        feed = selectors.open_feed(user=self.user)
        context = {"form": form, "feed": feed, "new_url": new_url,
                   "webcal_url": new_url.replace("https://", "webcal://").replace("http://", "webcal://")}  # fmt: skip
        return self.page("agenda_calendar/settings.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponseBase:
        action = request.POST.get("action", "")
        if action == "feed-new":
            token = services.feed_issue(user=self.user)
            messages.success(request, "Your new calendar address is below. Any older address no longer works.")
            form = SettingsForm(initial={"time_zone": selectors.user_time_zone_name(user=self.user)})
            return self.render_settings(form, new_url=feed_url(request, token))
        if action == "feed-revoke":
            if services.feed_revoke(user=self.user):
                messages.success(
                    request, "Your calendar address no longer works. Calendars subscribed to it stop updating."
                )
            return redirect("agenda_calendar:settings")
        form = SettingsForm(request.POST)
        if form.is_valid():
            services.calendar_settings_set(user=self.user, time_zone=form.cleaned_data["time_zone"])
            messages.success(request, f"Your calendar now shows times in {form.cleaned_data['time_zone']}.")
            return redirect("agenda_calendar:settings")
        return self.render_settings(form, status=400)


class FeedView(PublicView):
    public_reason = (
        "A phone's calendar fetches its user's private iCalendar feed without a session: the secret in "
        "the address is the credential (only its hash is stored; a revoked or unknown address is a 404)."
    )

    def get(self, request: HttpRequest, token: str) -> HttpResponseBase:
        match = FEED_TOKEN.fullmatch(token) if len(token) <= 80 else None
        if match is None:
            raise Http404("No such calendar.")
        firm_id = int(match[1])
        current = current_firm_id()
        if current is not None and current != firm_id:
            raise Http404("No such calendar.")
        with firm_scope(firm_id):
            feed = selectors.feed_by_token_hash(token_hash=services.feed_token_hash(match[2]))
            if feed is None or not feed.user.is_active or not has_right(feed.user, Right.CRM):
                raise Http404("No such calendar.")
            user = feed.user
            events = selectors.feed_events(user=user, now=timezone.now())
            site = settings.SITE_URL.rstrip("/")
            body = ical.feed(
                events,
                name=f"{user.firm.name}: {user.full_name or user.email}",
                event_url=lambda e: site + reverse("agenda_calendar:event-edit", args=[e.pk]),
            )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="calendar.ics"'
        response["Cache-Control"] = "private, no-store"
        response["X-Robots-Tag"] = "noindex"
        return response


class ContactEventsView(CalendarPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        try:
            contact = crm_selectors.contact_get(user=self.user, pk=pk)
        except Contact.DoesNotExist:
            raise Http404("No such contact.") from None
        events = selectors.contact_events(user=self.user, contact=contact)
        now = timezone.now()
        upcoming = sorted((e for e in events if e.end >= now), key=lambda e: (e.start, e.pk))
        past = [e for e in events if e.end < now]
        new_url = reverse("agenda_calendar:event-new") + "?" + urlencode({"contact": contact.pk, "next": request.path})
        return self.page(
            "agenda_calendar/contact_events.html",
            {"contact": contact, "upcoming": upcoming, "past": past, "new_url": new_url},
        )
