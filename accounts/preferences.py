"""The user's date format, applied to everything a request renders (issue #13, point 10).

``DateFormatMiddleware`` (after authentication) puts the signed-in user's choice, or else their
firm's, in the floor's context variable (``advisorportal.formats``) for the request and resets it
in ``finally``. The user comes with their firm (``EmailBackend.get_user``), so this costs no query.
API token requests are left alone: the API's dates are ISO 8601 whatever anyone chose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from advisorportal.formats import DEFAULT_DATE_FORMAT, activate_date_format, deactivate_date_format
from advisorportal.request_context import bears_api_token


def date_format_of(user: Any, *, firm_default: str | None = None) -> str:
    """The date format ``user`` reads: their own choice, or else their firm's (``firm_default``
    when the caller has it, as a background job writing to many users of one firm does)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return DEFAULT_DATE_FORMAT
    return user.date_format or firm_default or user.firm.date_format or DEFAULT_DATE_FORMAT


def firm_date_format(*, firm_id: int) -> str:
    """The firm's date format, for users who chose none."""
    from accounts.models import Firm

    return Firm.objects.filter(pk=firm_id).values_list("date_format", flat=True).first() or DEFAULT_DATE_FORMAT


class DateFormatMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = None if bears_api_token(request) else getattr(request, "user", None)
        token = activate_date_format(date_format_of(user))
        try:
            return self.get_response(request)
        finally:
            deactivate_date_format(token)
