from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse

from advisorportal.request_context import bears_api_token
from advisorportal.tenancy.context import _current_firm_id


class FirmScopeMiddleware:
    """Puts the authenticated user's firm in scope for the request, and always takes it out.

    The firm comes from the user's membership only. API requests authenticated by token are
    scoped by ``FirmScopedAPIView.initial`` once DRF has authenticated them (their session user,
    if a cookie came along, is not read).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = None if bears_api_token(request) else request.user
        firm_id = user.firm_id if user is not None and user.is_authenticated and user.is_active else None
        token = _current_firm_id.set(firm_id)
        try:
            return self.get_response(request)
        finally:
            _current_firm_id.reset(token)


class RequestQueryCountMiddleware:
    """Development and benchmark aid: the request's SQL query count in ``X-Query-Count``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enabled = settings.QUERY_COUNT_HEADER

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.enabled:
            return self.get_response(request)
        count = 0

        def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        # Connect first: a thread's first request would otherwise count the type lookups Django
        # makes once per new connection (two queries that are no part of the page).
        connections["default"].ensure_connection()
        with connections["default"].execute_wrapper(counter):
            response = self.get_response(request)
        response["X-Query-Count"] = str(count)
        return response
