"""The delivery-report webhook of the firm's email service provider (django-anymail's tracking
view of ``EMAIL_PROVIDER``), at ``/mail/anymail/<provider>/tracking/``: another provider's, or any
without ``EMAIL_PROVIDER``, is a 404, and anymail's inbound-mail views are not mounted. Public to
the URL guard (the provider calls it, not a signed-in user); anymail authenticates the call with
HTTP basic auth (``ANYMAIL_WEBHOOK_SECRET``) before any report is read."""

from __future__ import annotations

from typing import Any

from anymail import urls as anymail_urls
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponseBase
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

SUFFIX = "_tracking_webhook"
TRACKING_VIEWS = {
    str(p.name).removesuffix(SUFFIX): p.callback for p in anymail_urls.urlpatterns if str(p.name or "").endswith(SUFFIX)
}


@method_decorator(csrf_exempt, name="dispatch")
class TrackingWebhookView(View):
    public_reason = "An email service provider's delivery reports; HTTP basic auth with ANYMAIL_WEBHOOK_SECRET."

    def dispatch(self, request: HttpRequest, *args: Any, provider: str = "", **kwargs: Any) -> HttpResponseBase:
        if not provider or provider != settings.EMAIL_PROVIDER or provider not in TRACKING_VIEWS:
            raise Http404("No delivery reports here.")
        response: HttpResponseBase = TRACKING_VIEWS[provider](request)
        return response


urlpatterns = [path("<slug:provider>/tracking/", TrackingWebhookView.as_view(), name="mail-delivery-reports")]
