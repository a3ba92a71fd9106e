"""Who is acting, from where: read by the audit trail without threading it through every call."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class RequestContext:
    actor_id: int | None = None
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


_context: ContextVar[RequestContext] = ContextVar("request_context", default=RequestContext())  # noqa: B039 - frozen
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current() -> RequestContext:
    return _context.get()


@contextmanager
def acting(context: RequestContext) -> Iterator[None]:
    token = _context.set(context)
    try:
        yield
    finally:
        _context.reset(token)


def set_actor(actor_id: int | None) -> None:
    """Record the actor once authentication is known (API tokens authenticate inside the view)."""
    context = _context.get()
    _context.set(RequestContext(actor_id, context.ip, context.user_agent, context.request_id))


TOKEN_KEYWORDS = ("token", "bearer")


def bears_api_token(request: HttpRequest) -> bool:
    """True when the request names an API token (``Authorization: Token …``). Such a request is
    authenticated by its token alone (the first of DRF's authentication classes), so the
    middleware leaves its session user unread: no session, user, 2FA-device or session-touch
    queries for a user the token replaces."""
    keyword = request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0]
    return keyword.lower() in TOKEN_KEYWORDS


class RequestContextMiddleware:
    """Sets the request's id (echoed in ``X-Request-ID``), client address and user agent."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        user = None if bears_api_token(request) else getattr(request, "user", None)
        actor_id = user.pk if user is not None and user.is_authenticated else None
        context = RequestContext(
            actor_id=actor_id,
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("User-Agent", "")[:300],
            request_id=request_id,
        )
        with acting(context):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
