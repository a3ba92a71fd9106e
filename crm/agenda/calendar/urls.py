"""Mounted at the site root: /calendar/… and a contact's events at /contacts/<pk>/events/."""

from django.urls import path

from crm.agenda.calendar import views

app_name = "agenda_calendar"
urlpatterns = [
    path("calendar/", views.MonthView.as_view(), name="month-today"),
    path("calendar/month/<int:year>/<int:month>/", views.MonthView.as_view(), name="month"),
    path("calendar/week/<str:day>/", views.WeekView.as_view(), name="week"),
    path("calendar/day/<str:day>/", views.DayView.as_view(), name="day"),
    path("calendar/events/new/", views.EventCreateView.as_view(), name="event-new"),
    path("calendar/events/<int:pk>/", views.EventEditView.as_view(), name="event-edit"),
    path("calendar/events/<int:pk>/delete/", views.EventDeleteView.as_view(), name="event-delete"),
    path("calendar/contact-choices/", views.ContactChoicesView.as_view(), name="contact-choices"),
    path("calendar/import/", views.ImportView.as_view(), name="import"),
    path("calendar/settings/", views.SettingsView.as_view(), name="settings"),
    path("calendar/feed/<str:token>.ics", views.FeedView.as_view(), name="feed"),
    path("contacts/<int:pk>/events/", views.ContactEventsView.as_view(), name="contact-events"),
]
