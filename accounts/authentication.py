"""Sign-in by email, the session's user and API tokens. Users are under row-level security, so
each finds its user through ``accounts.identity`` first and then loads it in its firm's scope.

A session remembers its user's firm (``SESSION_FIRM_KEY``, written by the server at sign-in from
the user's own membership; session data is server-side, never the browser's), so loading the
session's user is one query in that firm's scope instead of the identity lookup and then the
user: row-level security still decides, and a firm that does not hold the user finds none."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import update_last_login
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.identity import identity_by_email, identity_by_id, user_of
from accounts.models import User
from accounts.services import api_token_authenticate
from advisorportal.request_context import TOKEN_KEYWORDS
from advisorportal.tenancy.context import firm_scope

SESSION_FIRM_KEY = "_auth_firm_id"
_session_firm: ContextVar[int | None] = ContextVar("session_firm", default=None)


class SessionFirmMiddleware:
    """Hands the session's firm to ``EmailBackend.get_user`` (Django's lazy ``request.user`` gives
    the backend only the user id). Between the session and authentication middlewares."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        firm_id = request.session.get(SESSION_FIRM_KEY)
        token = _session_firm.set(firm_id if isinstance(firm_id, int) else None)
        try:
            return self.get_response(request)
        finally:
            _session_firm.reset(token)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token ap_<prefix>_<secret>`` (also accepts ``Bearer``)."""

    keywords = TOKEN_KEYWORDS

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header.")
        token = api_token_authenticate(header[1].decode(errors="replace"))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return "Token"


def login_username(request: Any, credentials: dict[str, Any] | None) -> str:
    """The email a sign-in attempt names, normalised as stored, for throttling and login history."""
    return str((credentials or {}).get("username") or request.POST.get("username") or "").strip().lower()


class LoginThrottle(AxesDatabaseHandler):
    """django-axes counts failures per email *and* address together (``AXES_LOCKOUT_PARAMETERS``):
    one firm's user failing cannot lock out another firm's user at the same office or behind the
    same proxy. Guessing across many emails from one address is capped separately, at the higher
    ``LOGIN_ADDRESS_FAILURE_LIMIT``, summed over axes' own attempt records of that address in the
    cool-off window (axes applies one limit to every parameter set, so this one is ours)."""

    def is_locked(self, request: Any, credentials: dict[str, Any] | None = None) -> bool:
        return super().is_locked(request, credentials) or self._address_exhausted(request)

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not getattr(request, "axes_locked_out", False) and self._address_exhausted(request):
            request.axes_locked_out = True  # this failure reached the limit: answer with the lockout page
            request.axes_credentials = credentials

    @staticmethod
    def _address_exhausted(request: Any) -> bool:
        address = getattr(request, "axes_ip_address", None)
        if not address:
            return False
        failures = AccessAttempt.objects.filter(
            ip_address=address, attempt_time__gte=get_cool_off_threshold(request)
        ).aggregate(total=Sum("failures_since_start"))["total"]
        return (failures or 0) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


class EmailBackend(ModelBackend):
    """Email login, case-insensitive; inactive users cannot log in."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if password is None:
            return None
        identity = identity_by_email(kwargs.get("email") or username or "")
        user = user_of(identity) if identity is not None and identity.is_active else None
        if user is None:
            User().set_password(password)  # as long as a wrong password takes: no hint the email is unknown
            return None
        with firm_scope(user.firm_id):  # an outdated hash is upgraded, which saves the user
            valid = user.check_password(password)
        return user if valid and self.user_can_authenticate(user) else None

    def get_user(self, user_id: Any) -> Any:
        firm_id = _session_firm.get()
        if firm_id is not None:
            # Every page shows the firm's brand, so the user comes with their firm.
            with firm_scope(firm_id):
                user = User.objects.select_related("firm").filter(pk=user_id).first()
        else:  # a session from before SESSION_FIRM_KEY, or a caller without a session
            identity = identity_by_id(user_id)
            user = user_of(identity) if identity is not None and identity.is_active else None
        return user if user is not None and self.user_can_authenticate(user) else None


def record_last_login(sender: Any, user: User, request: Any = None, **kwargs: Any) -> None:
    """Django's ``update_last_login``, in the user's firm: signing in happens before one is in scope.
    The session remembers the firm for loading its user on later requests."""
    with firm_scope(user.firm_id):
        update_last_login(sender, user, **kwargs)
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_FIRM_KEY] = user.firm_id


def connect() -> None:
    from django.contrib.auth.signals import user_logged_in

    user_logged_in.disconnect(dispatch_uid="update_last_login")
    user_logged_in.connect(record_last_login, dispatch_uid="update_last_login")
