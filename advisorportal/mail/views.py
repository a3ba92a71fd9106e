"""The unsubscribe page: no sign-in, the signed token names firm and address. GET asks, POST (the
button, or a mail client's one-click ``List-Unsubscribe-Post``) records the opt-out."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from advisorportal.mail import branding, services


@csrf_exempt  # mail clients' one-click POST carries no CSRF token; the signed token is the authority
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    named = services.read_unsubscribe_token(token) if len(token) <= 400 else None
    if named is None:
        raise Http404("This unsubscribe link is not valid.")
    firm_id, email = named
    try:
        brand = branding.for_firm(firm_id)
    except Exception as exc:  # a firm that no longer exists
        raise Http404("This unsubscribe link is not valid.") from exc
    done = False
    if request.method == "POST":
        services.unsubscribe(firm_id=firm_id, email=email)
        done = True
    return render(request, "mail/unsubscribe.html", {"brand": brand, "email": email, "done": done})


unsubscribe_view.public_reason = (  # type: ignore[attr-defined]
    "People who are not users follow it from a marketing email; the signed token names the firm and address, "
    "and it can only add an opt-out."
)
