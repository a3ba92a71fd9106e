"""The development outbox pages (``/dev/outbox/``): the emails written to ``var/mail``, listed and
shown with clickable links. Mounted only outside production (advisorportal/urls.py), and refusing
there too; no sign-in, so a person trying the product can follow a client's emailed link."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_safe

from advisorportal.mail import outbox

QUERY_MAX_LENGTH = 200

# The HTML part is the email's, not ours: shown in a sandboxed frame (no scripts, no forms, an
# opaque origin), loading nothing but its inline styles and data: images, framed only by us.
HTML_PART_POLICY = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

_PUBLIC_REASON = (
    "Development only (not mounted in production): shows the emails the file backend wrote, so a person "
    "trying the product can follow an emailed link without a staff account."
)


def _development_only() -> None:
    if settings.PRODUCTION:
        raise Http404("The outbox exists only in development.")


def _message_or_404(message_id: str) -> outbox.StoredMessage:
    _development_only()
    stored = outbox.read_message(message_id)
    if stored is None:
        raise Http404("No such email in the outbox.")
    return stored


@require_safe
def outbox_list(request: HttpRequest) -> HttpResponse:
    _development_only()
    query = request.GET.get("q", "")[:QUERY_MAX_LENGTH]
    listing = outbox.list_messages(query=query)
    return render(
        request,
        "mail/outbox/list.html",
        {"listing": listing, "limit": outbox.LIST_LIMIT, "scan_limit": outbox.SEARCH_SCAN_LIMIT},
    )


@require_safe
def outbox_detail(request: HttpRequest, message_id: str) -> HttpResponse:
    return render(request, "mail/outbox/detail.html", {"message": _message_or_404(message_id)})


@require_safe
@xframe_options_sameorigin  # framed by the detail page only (and frame-ancestors 'self')
def outbox_html(request: HttpRequest, message_id: str) -> HttpResponse:
    stored = _message_or_404(message_id)
    if stored.html is None:
        raise Http404("This email has no HTML part.")
    response = HttpResponse(stored.html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = HTML_PART_POLICY  # ours, not the app's (django-csp keeps a set header)
    response["Referrer-Policy"] = "no-referrer"
    return response


outbox_list.public_reason = _PUBLIC_REASON  # type: ignore[attr-defined]
outbox_detail.public_reason = _PUBLIC_REASON  # type: ignore[attr-defined]
outbox_html.public_reason = _PUBLIC_REASON  # type: ignore[attr-defined]
