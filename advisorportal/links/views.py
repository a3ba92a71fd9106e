"""The approval page for every link purpose that has one (``Purpose.show``): no staff login.

- ``GET``/``HEAD /approve/<token>/`` shows exactly what is approved and changes nothing (mail
  scanners open links), apart from the audit entry of a refused token.
- ``POST …/code/`` sends a one-time code to the holder's email or phone on file.
- ``POST …/decide/`` approves or declines with the code: the link and the code are consumed by
  conditional UPDATEs in the request's transaction, then the purpose's ``decide`` acts.

Every bad token (unknown, malformed, used, expired, revoked, another purpose's or firm's) gets the
same page. Bad tokens and wrong codes are counted per client address; past the limit the address
gets 429 for a while (``LINK_REFUSALS_PER_WINDOW``).
"""

from __future__ import annotations

import base64
from typing import Any

from django.core.cache import caches
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from advisorportal.links import purposes, selectors
from advisorportal.links.models import Link
from advisorportal.links.services import (
    CodeNotValid,
    LinkNotValid,
    code_send,
    link_consume,
    link_resolve_for_page,
    link_scope,
)
from advisorportal.mail import branding

REFUSALS_PER_WINDOW = 20
WINDOW_SECONDS = 15 * 60
PUBLIC_REASON = (
    "A client who is not a user opens it from an emailed approval link; the single-use token names what is "
    "approved, and approving needs a one-time code sent to the client's email or phone on file."
)


def _refusals_key(request: HttpRequest) -> str:
    return f"links:refusals:{request.META.get('REMOTE_ADDR', '')}"


def _throttled(request: HttpRequest) -> bool:
    return int(caches["best_effort"].get(_refusals_key(request)) or 0) >= REFUSALS_PER_WINDOW


def _count_refusal(request: HttpRequest) -> None:
    cache = caches["best_effort"]
    key = _refusals_key(request)
    if cache.add(key, 1, WINDOW_SECONDS) is False:
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, WINDOW_SECONDS)


def _brand(firm_id: int) -> dict[str, str]:
    brand = branding.for_firm(firm_id)
    logo = f"data:{brand.logo_type};base64,{base64.b64encode(brand.logo).decode()}" if brand.logo else ""
    return {"name": brand.name, "logo": logo, "firm_id": str(firm_id)}


def _not_valid(request: HttpRequest, *, status: int = 404) -> HttpResponse:
    _count_refusal(request)
    response = render(request, "links/not_valid.html", {"message": LinkNotValid().args[0]}, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response


def _too_many(request: HttpRequest) -> HttpResponse:
    message = "Too many tries from your address. Wait a quarter of an hour and open the link from your email again."
    return render(request, "links/not_valid.html", {"message": message}, status=429)


def _page(
    request: HttpRequest, token: str, link: Link, *, error: str = "", status: int = 200, **extra: Any
) -> HttpResponse:
    purpose = purposes.get(link.purpose)
    assert purpose.show is not None and purpose.code_destinations is not None
    code = selectors.open_code(link=link)
    context = {
        "brand": _brand(link.firm_id),
        "shown": purpose.show(link),
        "destinations": purpose.code_destinations(link),
        "code": code,
        "token": token,
        "error": error,
        "expires_at": link.expires_at,
        **extra,
    }
    response = render(request, "links/approve.html", context, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response


def _open(token: str) -> Link:
    return link_resolve_for_page(token=token)


@never_cache
@require_http_methods(["GET", "HEAD"])
def approve_view(request: HttpRequest, token: str) -> HttpResponseBase:
    if _throttled(request):
        return _too_many(request)
    with link_scope(token):
        try:
            link = _open(token)
        except LinkNotValid:
            return _not_valid(request)
        return _page(request, token, link, sent=request.GET.get("sent") == "1")


@never_cache
@require_POST
def code_view(request: HttpRequest, token: str) -> HttpResponseBase:
    if _throttled(request):
        return _too_many(request)
    with link_scope(token):
        try:
            link = _open(token)
        except LinkNotValid:
            return _not_valid(request)
        purpose = purposes.get(link.purpose)
        assert purpose.code_destinations is not None
        destinations = purpose.code_destinations(link)
        try:
            destination = destinations[int(request.POST.get("destination", "0"))]
        except (ValueError, IndexError):
            return _page(request, token, link, error="Choose where to send the code.", status=400)
        try:
            code_send(link=link, destination=destination)
        except CodeNotValid as refused:
            return _page(request, token, link, error=refused.message, status=429)
        except LinkNotValid:
            return _not_valid(request)
    return redirect(reverse("links:approve", args=[token]) + "?sent=1")


@never_cache
@require_POST
def decide_view(request: HttpRequest, token: str) -> HttpResponseBase:
    if _throttled(request):
        return _too_many(request)
    decision = request.POST.get("decision", "")
    reason = request.POST.get("reason", "").strip()[:500]
    with link_scope(token):
        try:
            link = _open(token)
        except LinkNotValid:
            return _not_valid(request)
        if decision not in ("approve", "decline"):
            return _page(request, token, link, error="Choose Approve or Decline.", status=400)
        purpose = purposes.get(link.purpose)
        assert purpose.decide is not None and purpose.fingerprint is not None
        # The code and the link are consumed in the request's transaction (ATOMIC_REQUESTS): a
        # refusal returns normally, so the counted try and its audit entry commit; if what the
        # purpose does is refused, the whole transaction rolls back and the link stays unused.
        try:
            link_consume(link=link, fingerprint=purpose.fingerprint(link), code=request.POST.get("code", ""))
        except CodeNotValid as refused:
            _count_refusal(request)
            try:
                return _page(request, token, _open(token), error=refused.message, status=400)
            except LinkNotValid:
                return _not_valid(request, status=400)
        except LinkNotValid:
            return _not_valid(request, status=400)
        try:
            with transaction.atomic():
                message = purpose.decide(link, decision == "approve", reason, link.recipient_email)
        except ValidationError as error:
            response = _page(request, token, link, error=" ".join(error.messages), status=400)
            transaction.set_rollback(True)  # the link and code stay unused
            return response
        return render(request, "links/done.html", {"brand": _brand(link.firm_id), "message": message})


@require_http_methods(["GET", "HEAD"])
def brand_css(request: HttpRequest, firm_id: int) -> HttpResponse:
    """The firm's colours for its approval pages (public, as on its sign-in page)."""
    try:
        brand = branding.for_firm(firm_id)
    except ObjectDoesNotExist:  # a firm that does not exist
        return HttpResponse(status=404)
    css = f":root {{ --brand-primary: {brand.primary}; --brand-accent: {brand.accent}; }}\n"
    response = HttpResponse(css, content_type="text/css")
    response["Cache-Control"] = "public, max-age=300"
    return response


brand_css.public_reason = "Brand colours of client-facing pages, as on the firm's sign-in page."  # type: ignore[attr-defined]

for _view in (approve_view, code_view, decide_view):
    _view.public_reason = PUBLIC_REASON  # type: ignore[attr-defined]
