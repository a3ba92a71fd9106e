"""``/dev/outbox/``: included by the root urls only when not ``settings.PRODUCTION``."""

from django.urls import path

from advisorportal.mail import outbox_views

app_name = "outbox"

urlpatterns = [
    path("", outbox_views.outbox_list, name="list"),
    path("<str:message_id>/", outbox_views.outbox_detail, name="detail"),
    path("<str:message_id>/html/", outbox_views.outbox_html, name="html"),
]
