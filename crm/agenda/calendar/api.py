"""The calendar API: events (the caller's calendar, or a contact's events), .ics import and the
caller's private feed address. Same selectors, services, right (CRM) and scope as the pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_access import FirmScopedAPIView, FirmScopedViewSet
from accounts.rights import Right
from advisorportal.api_schema import object_filter
from advisorportal.jobs.uploads import FileRefused, read_upload
from crm import selectors as crm_selectors
from crm.agenda.calendar import selectors, services
from crm.agenda.calendar.models import Event
from crm.agenda.calendar.serializers import EventSerializer, FeedSerializer, ImportResultSerializer, ImportSerializer
from crm.models import Contact

MAX_WINDOW_DAYS = 400
DEFAULT_WINDOW_DAYS = 31


def _bound(value: str, name: str, *, tz: Any, end: bool) -> datetime:
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, datetime.min.time(), tzinfo=tz)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError({name: ["Give a date (2026-12-07) or a date and time with its offset."]}) from None
    return moment.replace(tzinfo=tz) if timezone.is_naive(moment) else moment


def _contact_or_404(user: Any, pk: Any) -> Contact:
    try:
        return crm_selectors.contact_get(user=user, pk=pk)
    except Contact.DoesNotExist:
        raise Http404 from None


WINDOW_PARAMETERS = [
    OpenApiParameter(
        "start", OpenApiTypes.STR, description="From this date (your time zone) or instant; default today"
    ),
    OpenApiParameter("end", OpenApiTypes.STR, description="Up to this date (inclusive) or instant; default 31 days on"),
    object_filter("contact", "Every event with this contact that you may see"),
]


class EventViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    FirmScopedViewSet,
):
    """Calendar events. The list is your calendar (events you own or are invited to) within a
    window of at most 400 days, by start; with `contact`, that contact's events. An event with a
    contact outside your scope, or of another firm, is a 404."""

    required_right = Right.CRM
    serializer_class = EventSerializer
    keyset = ("start", "id")

    def get_queryset(self) -> QuerySet[Event]:
        if self.describing_schema():
            return Event.objects.unscoped().none()
        user = self.request.user
        if self.action != "list":
            return selectors.events_visible(user=user)
        params = self.request.query_params
        tz = selectors.user_time_zone(user=user)
        today = selectors.today_for_user(user=user)
        start = _bound(params["start"], "start", tz=tz, end=False) if params.get("start") else None
        start = start or datetime.combine(today, datetime.min.time(), tzinfo=tz)
        end = _bound(params["end"], "end", tz=tz, end=True) if params.get("end") else None
        end = end or start + timedelta(days=DEFAULT_WINDOW_DAYS)
        if end <= start:
            raise ValidationError({"end": ["The end must come after the start."]})
        if end - start > timedelta(days=MAX_WINDOW_DAYS):
            raise ValidationError({"end": [f"Ask for at most {MAX_WINDOW_DAYS} days at a time."]})
        contact = _contact_or_404(user, params["contact"]) if params.get("contact") else None
        return selectors.events_for_api(user=user, start=start, end=end, contact=contact)

    def get_object(self) -> Event:
        try:
            return selectors.event_get(user=self.request.user, pk=self.kwargs["pk"])
        except Event.DoesNotExist:
            raise Http404 from None

    @extend_schema(parameters=WINDOW_PARAMETERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = self.paginate_queryset(self.get_queryset())
        assert rows is not None
        data = self.get_serializer(selectors.finish(rows), many=True).data
        return self.get_paginated_response(data)

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        event = services.event_create(actor=self.request.user, **data)
        serializer.instance = selectors.event_get(user=self.request.user, pk=event.pk)

    def perform_update(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        event = self.get_object()
        if not serializer.partial:
            data.setdefault("contacts", [])
            data.setdefault("attendees", [])
        contacts, attendees = data.pop("contacts", None), data.pop("attendees", None)
        services.event_update(actor=self.request.user, event=event, contacts=contacts, attendees=attendees, **data)
        serializer.instance = selectors.event_get(user=self.request.user, pk=event.pk)

    def perform_destroy(self, instance: Event) -> None:
        services.event_delete(actor=self.request.user, event=instance)

    @extend_schema(request={"multipart/form-data": ImportSerializer}, responses={200: ImportResultSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser])
    def import_file(self, request: Request) -> Response:
        """Import an .ics file into your calendar, all or nothing: an event already imported (same
        UID and occurrence) is updated, a cancelled one removed; a malformed file is a 400 naming
        the problem, and nothing is imported."""
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            upload = read_upload(serializer.validated_data["file"], limit=services.ICS_MAX_BYTES)
        except FileRefused as error:
            raise ValidationError({"file": [str(error)]}) from None
        result = services.ics_import(actor=request.user, data=upload.data)
        body = {"created": result.created, "updated": result.updated, "removed": result.removed,
                "message": result.message}  # fmt: skip
        return Response(ImportResultSerializer(body).data)


class ContactEventsAPIView(FirmScopedAPIView):
    """Every event with this contact that you may see, the latest first (at most 200). A contact
    outside your scope or of another firm is a 404."""

    required_right = Right.CRM

    @extend_schema(responses={200: EventSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        contact = _contact_or_404(request.user, pk)
        events = selectors.contact_events(user=request.user, contact=contact)
        return Response(EventSerializer(events, many=True).data)  # type: ignore[arg-type]


class CalendarFeedAPIView(FirmScopedAPIView):
    """Your private iCalendar feed address. POST makes a new one (the old stops working) and
    answers it once; DELETE stops it (a stopped address answers 404)."""

    required_right = Right.CRM

    @extend_schema(responses={200: FeedSerializer})
    def get(self, request: Request) -> Response:
        feed = selectors.open_feed(user=request.user)
        return Response({"active": feed is not None, "created_at": feed.created_at if feed else None})

    @extend_schema(request=None, responses={201: FeedSerializer})
    def post(self, request: Request) -> Response:
        token = services.feed_issue(user=request.user)
        feed = selectors.open_feed(user=request.user)
        assert feed is not None
        url = settings.SITE_URL.rstrip("/") + reverse("agenda_calendar:feed", args=[token])
        return Response({"active": True, "created_at": feed.created_at, "url": url}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        services.feed_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
