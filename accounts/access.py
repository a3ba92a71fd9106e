"""Layer 5 for pages: every view is either firm-scoped with a declared right, or public.

``tests/test_urls_guard.py`` walks every route and fails for a view that is neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlencode

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.views import View

from accounts.models import User
from accounts.policy import has_right
from accounts.rights import Right
from accounts.two_factor import pending_step, recently_verified
from advisorportal.tenancy.context import current_firm_id

M = TypeVar("M", bound=Model)
F = TypeVar("F", bound=Callable[..., Any])


class AuthenticatedRequest(HttpRequest):
    """What a firm-scoped page receives: its user is signed in, a firm member, past the 2FA step.
    Function views under ``@firm_view`` take ``request: AuthenticatedRequest``; class views read
    ``self.user`` (Django's class views declare ``request: HttpRequest`` themselves)."""

    user: User


# Declared by views that any signed-in firm user may open (the dashboard, their own profile).
SIGNED_IN = "signed_in"


def two_factor_redirect(request: HttpRequest) -> HttpResponseBase | None:
    """Send a signed-in user who still owes a 2FA step to it, then back here."""
    step = pending_step(request)
    if step is None:
        return None
    target = reverse("accounts:two-factor-verify" if step == "verify" else "accounts:two-factor-enrol")
    return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")


def step_up_redirect(request: HttpRequest) -> HttpResponseBase | None:
    """For sensitive actions: a redirect to confirm 2FA unless it was confirmed in the last minutes."""
    if recently_verified(request):
        return None
    target = reverse("accounts:two-factor-verify")
    return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path(), 'step_up': 1})}")


def check_access(request: HttpRequest, required_right: Right | str) -> None:
    """Raise unless the request's user is an active firm member holding ``required_right``."""
    user = request.user
    if not user.is_authenticated or current_firm_id() is None:
        raise PermissionDenied
    if required_right != SIGNED_IN and not has_right(user, Right(required_right)):
        raise PermissionDenied


class FirmScopedView(LoginRequiredMixin, View):
    """Base of every page that shows or changes firm data. Subclasses declare ``required_right``."""

    required_right: ClassVar[Right | str]
    # Only the pages where the 2FA step itself happens may be used before it is done.
    two_factor_exempt: ClassVar[bool] = False
    # Sensitive pages (exports of client data, rights changes…) need a fresh 2FA confirmation.
    step_up: ClassVar[bool] = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not self.two_factor_exempt and (redirect := two_factor_redirect(request)):
            return redirect
        check_access(request, self.required_right)
        if self.needs_step_up(request) and (redirect := step_up_redirect(request)):
            return redirect
        return super().dispatch(request, *args, **kwargs)

    @property
    def user(self) -> User:
        """The signed-in firm user (``dispatch`` let nobody else in)."""
        user = self.request.user
        assert isinstance(user, User)
        return user

    def needs_step_up(self, request: HttpRequest) -> bool:
        return self.step_up


class PublicView(View):
    """Base of the few pages anyone may open (login, health). Declares why in ``public_reason``."""

    public_reason: ClassVar[str]


def firm_view(required_right: Right | str, *, step_up: bool = False) -> Callable[[F], F]:
    """Function-view form of ``FirmScopedView``."""

    def decorator(func: F) -> F:
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if redirect := two_factor_redirect(request):
                return redirect
            check_access(request, required_right)
            if step_up and (redirect := step_up_redirect(request)):
                return redirect
            return func(request, *args, **kwargs)

        wrapper.required_right = required_right  # type: ignore[attr-defined]
        wrapper.__name__ = func.__name__
        wrapper.__doc__ = func.__doc__
        return wrapper  # type: ignore[return-value]

    return decorator


def public_view(reason: str) -> Callable[[F], F]:
    def decorator(func: F) -> F:
        func.public_reason = reason  # type: ignore[attr-defined]
        return func

    return decorator


def get_scoped_or_404(queryset: QuerySet[M], **lookup: Any) -> M:
    """The object, from the firm-scoped queryset; another firm's object is as missing as a missing one."""
    try:
        return queryset.get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404 from None
