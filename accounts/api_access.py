"""Layer 5 for the API: one scoped base class for every endpoint (see tests/test_urls_guard.py)."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import Token
from typing import TYPE_CHECKING, Any, ClassVar

from rest_framework import permissions, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import SIGNED_IN
from accounts.policy import has_right
from accounts.rights import Right
from accounts.two_factor import pending_step, recently_verified
from advisorportal import request_context
from advisorportal.tenancy.context import _current_firm_id

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass


class HasRequiredRight(permissions.BasePermission):
    message = "You do not have the access right this needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        right = getattr(view, "required_right", None)
        if right is None or not request.user.is_authenticated:
            return False
        # A browser session, not an API token: its 2FA step must be done.
        if request.auth is None and pending_step(request._request) is not None:
            self.message = "Two-factor verification is required for this session."
            return False
        if right == SIGNED_IN:
            return True
        token = request.auth
        if token is not None and right not in getattr(token, "rights", ()):
            self.message = "This API token does not carry the access right this needs."
            return False
        return has_right(request.user, Right(right))


class FirmScopedAPIMixin:
    """Puts the authenticated user's firm in scope once DRF has authenticated the request."""

    required_right: ClassVar[Right | str]
    permission_classes: Sequence[_PermissionClass] = (permissions.IsAuthenticated, HasRequiredRight)
    _firm_token: Token[int | None] | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        user = request.user  # authenticates
        if user.is_authenticated:
            self._firm_token = _current_firm_id.set(user.firm_id)
            request_context.set_actor(user.pk)
        super().initial(request, *args, **kwargs)  # type: ignore[misc]

    def describing_schema(self) -> bool:
        """True while drf-spectacular inspects the view to write the OpenAPI schema (no request, no firm)."""
        return bool(getattr(self, "swagger_fake_view", False))

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        token = getattr(self, "_firm_token", None)
        if token is not None:
            _current_firm_id.reset(token)
            self._firm_token = None
        # An error answers in the one JSON shape even where a file was asked for (``?format=pdf``).
        renderer = getattr(request, "accepted_renderer", None)
        if getattr(response, "exception", False) and getattr(renderer, "render_style", "") == "binary":
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


class FirmScopedAPIView(FirmScopedAPIMixin, APIView):
    pass


class FirmScopedViewSet(FirmScopedAPIMixin, viewsets.GenericViewSet):
    pass


class FirmScopedModelViewSet(FirmScopedAPIMixin, viewsets.ModelViewSet):
    pass


def require_stepped_up_session(request: Request, *, what: str) -> None:
    """Clear secrets (a tax id, the full client data export) and new credentials (API tokens) go
    only to a person in a signed-in browser session who confirmed their second factor within
    ``STEP_UP_MINUTES``; never to an API token, a long-lived secret that a script, a log or a leak
    can carry. ``what`` names the thing in the refusal ("Reading a full tax id")."""
    if request.auth is not None:
        raise PermissionDenied(
            f"{what} is possible only from a signed-in browser session after confirming your second factor, "
            "never with an API token."
        )
    if not recently_verified(request._request):
        raise PermissionDenied(
            f"{what} needs a recent second-factor confirmation: confirm your second factor again in the "
            "browser, then retry.",
            code="step_up_required",
        )
