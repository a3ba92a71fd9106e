"""Sign-in by email, the session's user and API tokens. Users are under row-level security, so
each finds its user through ``accounts.identity`` first and then loads it in its firm's scope."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import update_last_login
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.identity import identity_by_email, identity_by_id, user_of
from accounts.models import User
from accounts.services import api_token_authenticate
from advisorportal.request_context import TOKEN_KEYWORDS
from advisorportal.tenancy.context import firm_scope


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
        identity = identity_by_id(user_id)
        if identity is None or not identity.is_active:
            return None
        # Every page shows the firm's brand, so the user comes with their firm.
        user = user_of(identity)
        return user if user is not None and self.user_can_authenticate(user) else None


def record_last_login(sender: Any, user: User, **kwargs: Any) -> None:
    """Django's ``update_last_login``, in the user's firm: signing in happens before one is in scope."""
    with firm_scope(user.firm_id):
        update_last_login(sender, user, **kwargs)


def connect() -> None:
    from django.contrib.auth.signals import user_logged_in

    user_logged_in.disconnect(dispatch_uid="update_last_login")
    user_logged_in.connect(record_last_login, dispatch_uid="update_last_login")
