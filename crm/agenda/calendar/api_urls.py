"""API routes of the calendar, included under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm.agenda.calendar.api import CalendarFeedAPIView, ContactEventsAPIView, EventViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("calendar-events", EventViewSet, basename="calendar-event")

urlpatterns = [
    path("calendar-feed/", CalendarFeedAPIView.as_view(), name="calendar-feed"),
    path("contacts/<int:pk>/events/", ContactEventsAPIView.as_view(), name="contact-events"),
    path("", include(router.urls)),
]
