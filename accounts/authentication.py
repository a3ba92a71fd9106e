from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import User
from accounts.services import api_token_authenticate
from advisorportal.request_context import TOKEN_KEYWORDS


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
        email = (kwargs.get("email") or username or "").strip().lower()
        return super().authenticate(request, username=email, password=password)

    def get_user(self, user_id: Any) -> Any:
        # Every page shows the firm's brand, so load it with the user in one query.
        user = User.objects.select_related("firm").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
