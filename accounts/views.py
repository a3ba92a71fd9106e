from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.generic import TemplateView

from accounts.forms import EmailAuthenticationForm
from accounts.models import Firm
from accounts.selectors import firm_users, user_rights
from advisorportal.tenancy.access import SIGNED_IN, FirmScopedView, PublicView, public_view


class LoginView(PublicView, auth_views.LoginView):
    public_reason = "Signing in happens before the user is known; /login/<slug>/ shows only the firm's public brand."
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        slug = self.kwargs.get("firm_slug")
        if slug:
            # A firm's own sign-in page (/login/<slug>/) wears its name and colours.
            context["firm"] = context["login_firm"] = get_object_or_404(Firm, slug=slug)
        return context


class LogoutView(PublicView, auth_views.LogoutView):
    public_reason = "Signing out only ends the caller's own session (POST only)."
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        slug = request.user.firm.slug if request.user.is_authenticated else None  # type: ignore[union-attr]
        response = super().post(request, *args, **kwargs)
        if slug:
            response["Location"] = reverse("accounts:firm-login", args=[slug])
        return response


class SettingsView(FirmScopedView, TemplateView):
    required_right = SIGNED_IN
    template_name = "accounts/settings.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["my_rights"] = sorted(user_rights(user=user), key=lambda r: r.label)  # type: ignore[arg-type]
        context["colleagues"] = firm_users(firm_id=user.firm_id)  # type: ignore[union-attr]
        return context


@public_view("Brand colours are shown on client-facing pages before anyone signs in.")
@cache_control(max_age=300, public=True)
def brand_css(request: HttpRequest, slug: str) -> HttpResponse:
    firm = get_object_or_404(Firm, slug=slug)
    css = f":root {{ --brand-primary: {firm.brand_primary}; --brand-accent: {firm.brand_accent}; }}\n"
    return HttpResponse(css, content_type="text/css")
