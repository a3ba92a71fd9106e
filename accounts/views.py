from __future__ import annotations

import csv
import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST
from django.views.generic import FormView, TemplateView

from accounts import audit, services, sessions, two_factor
from accounts.access import (
    SIGNED_IN,
    AuthenticatedRequest,
    FirmScopedView,
    PublicView,
    firm_view,
    get_scoped_or_404,
    public_view,
)
from accounts.forms import (
    ApiTokenForm,
    AuditFilterForm,
    DateFormatForm,
    EmailAuthenticationForm,
    FirmSecurityForm,
    PasswordResetForm,
    TwoFactorCodeForm,
    UserInviteForm,
)
from accounts.identity import identity_by_id, user_of
from accounts.models import ApiToken, Firm, UserSession
from accounts.rights import Right
from accounts.selectors import (
    api_tokens,
    audit_entries,
    audit_object_types,
    firm_user_overview,
    firm_users,
    login_history,
    user_rights,
)
from advisorportal.redirects import safe_next
from advisorportal.tenancy.context import firm_scope, firm_stream
from advisorportal.tenancy.pagination import keyset_page


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
        slug = request.user.firm.slug if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if slug:
            response["Location"] = reverse("accounts:firm-login", args=[slug])
        return response


class SettingsView(FirmScopedView, TemplateView):
    required_right = SIGNED_IN
    template_name = "accounts/settings.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.user
        context["my_rights"] = sorted(user_rights(user=user), key=lambda r: r.label)
        context["colleagues"] = firm_users(firm_id=user.firm_id)
        context["sign_ins"] = login_history(user=user)
        context["two_factor_on"] = two_factor.has_two_factor(user)
        context["sessions"] = sessions.live_sessions(user=user)
        context["this_session"] = self.request.session.session_key
        context["time_zone_name"] = timezone.get_current_timezone_name()
        context["date_form"] = DateFormatForm(
            initial={"date_format": user.date_format}, firm_default=user.firm.date_format, auto_id="id_my_%s"
        )
        if Right.USER_MANAGEMENT in user_rights(user=user):
            firm_initial = {"date_format": user.firm.date_format}
            context["firm_date_form"] = DateFormatForm(initial=firm_initial, auto_id="id_firm_%s")
        return context


@require_POST
@firm_view(SIGNED_IN)
def date_format_set(request: AuthenticatedRequest) -> HttpResponseBase:
    """The user's own date format (blank: the firm's)."""
    form = DateFormatForm(request.POST, firm_default=request.user.firm.date_format)
    if not form.is_valid():
        messages.error(request, "Choose one of the date formats.")
        return redirect("accounts:settings")
    services.user_date_format_set(user=request.user, date_format=form.cleaned_data["date_format"])
    messages.success(request, "Date format saved.")
    return redirect("accounts:settings")


@require_POST
@firm_view(Right.USER_MANAGEMENT)
def firm_date_format_set(request: AuthenticatedRequest) -> HttpResponseBase:
    """The firm's date format, for its users who chose none."""
    form = DateFormatForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the date formats.")
        return redirect("accounts:settings")
    services.firm_date_format_set(actor=request.user, date_format=form.cleaned_data["date_format"])
    messages.success(request, "The firm's date format saved.")
    return redirect("accounts:settings")


@public_view("Brand colours are shown on client-facing pages before anyone signs in.")
@cache_control(max_age=300, public=True)
def brand_css(request: HttpRequest, slug: str) -> HttpResponse:
    firm = get_object_or_404(Firm, slug=slug)
    css = f":root {{ --brand-primary: {firm.brand_primary}; --brand-accent: {firm.brand_accent}; }}\n"
    return HttpResponse(css, content_type="text/css")


def _audit_filters(request: HttpRequest) -> AuditFilterForm:
    user = request.user
    return AuditFilterForm(
        request.GET or None,
        users=firm_users(firm_id=user.firm_id),  # type: ignore[union-attr]
        object_types=audit_object_types(user=user),  # type: ignore[arg-type]
    )


def _filtered_entries(request: HttpRequest, form: AuditFilterForm) -> Any:
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    return audit_entries(
        user=request.user,  # type: ignore[arg-type]
        actor_id=filters.get("actor"),
        action=filters.get("action") or "",
        object_type=filters.get("object_type") or "",
        object_id=filters.get("object_id") or "",
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )


class AuditTrailView(FirmScopedView, TemplateView):
    """The firm's audit trail for security officers, with filters and a CSV export."""

    required_right = Right.USER_MANAGEMENT
    template_name = "accounts/audit.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = _audit_filters(self.request)
        entries = _filtered_entries(self.request, form)
        page = keyset_page(entries, keys=("-id",), after=self.request.GET.get("after", ""), size=50)
        query = self.request.GET.copy()
        query.pop("after", None)
        context.update(form=form, page=page, query=query.urlencode())
        return context


@firm_view(Right.USER_MANAGEMENT, step_up=True)
def audit_csv(request: AuthenticatedRequest) -> HttpResponseBase:
    """The filtered trail as CSV, streamed. The export is itself recorded."""
    form = _audit_filters(request)
    if form.is_bound and not form.is_valid():
        return HttpResponse(
            "; ".join(f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in form.errors.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    entries = _filtered_entries(request, form)
    audit.record_read(what="audit trail CSV export", details=dict(request.GET.items()))

    rows = firm_stream(request.user.firm_id, _audit_rows(entries))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response


def _audit_rows(entries: Any) -> Any:
    writer = csv.writer(_Echo())
    yield writer.writerow(
        ["time", "actor", "action", "object type", "object id", "object", "changes", "ip", "request id"]
    )
    for entry in entries.iterator(chunk_size=2000):
        yield writer.writerow([
            entry.created_at.isoformat(), entry.actor.email if entry.actor else "", entry.action,
            entry.object_type, entry.object_id, _csv_safe(entry.object_repr),
            _csv_safe(json.dumps(entry.changes, ensure_ascii=False)), entry.ip or "", entry.request_id,
        ])  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in free text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class TwoFactorVerifyView(FirmScopedView, FormView):
    """Second step of signing in, and the step-up confirmation before sensitive actions."""

    required_right = SIGNED_IN
    two_factor_exempt = True
    template_name = "accounts/two_factor_verify.html"
    form_class = TwoFactorCodeForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and not two_factor.has_two_factor(request.user):
            return redirect(f"{reverse('accounts:two-factor-enrol')}?{urlencode({'next': safe_next(request)})}")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(next=safe_next(self.request), step_up=bool(self.request.GET.get("step_up")))
        return context

    def form_valid(self, form: TwoFactorCodeForm) -> HttpResponse:
        if not two_factor.verify(self.request, form.cleaned_data["code"]):
            form.add_error("code", "That code is not valid, or was already used. Try the next code from your app.")
            return self.form_invalid(form)
        sessions.cycle_key(self.request)
        return redirect(safe_next(self.request))


class TwoFactorEnrolView(FirmScopedView, FormView):
    """Set up an authenticator app: scan, confirm with a code, receive backup codes once."""

    required_right = SIGNED_IN
    two_factor_exempt = True
    template_name = "accounts/two_factor_enrol.html"
    form_class = TwoFactorCodeForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user: Any = request.user
        # Replacing an existing authenticator is a rights-level change: it needs the current one first.
        if user.is_authenticated and two_factor.has_two_factor(user) and not two_factor.recently_verified(request):
            return redirect(
                f"{reverse('accounts:two-factor-verify')}?{urlencode({'next': request.path, 'step_up': 1})}"
            )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        device = two_factor.start_enrolment(self.user)
        context.update(
            qr=two_factor.qr_svg_data_uri(device),
            secret=two_factor.totp_secret(device),
            next=safe_next(self.request),
            required=two_factor.required_for(self.user),
        )
        return context

    def form_valid(self, form: TwoFactorCodeForm) -> HttpResponse:
        device = two_factor.start_enrolment(self.user)
        codes = two_factor.confirm_enrolment(self.request, device, form.cleaned_data["code"])
        if codes is None:
            form.add_error("code", "That code does not match. Check the time on your phone and try the newest code.")
            return self.form_invalid(form)
        sessions.cycle_key(self.request)
        return render(self.request, "accounts/two_factor_codes.html", {"codes": codes, "next": safe_next(self.request)})


@require_POST
@firm_view(SIGNED_IN)
def session_end(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    """End one of the user's own sessions (another browser, a lost laptop)."""
    record = get_object_or_404(UserSession, pk=pk, user=request.user, ended_at__isnull=True)
    sessions.end_sessions(user=request.user, keys=[record.session_key], reason="revoked")
    messages.success(request, "The session was ended.")
    return redirect("accounts:settings")


@require_POST
@firm_view(SIGNED_IN)
def sessions_end_others(request: AuthenticatedRequest) -> HttpResponseBase:
    """Sign out everywhere else."""
    count = sessions.end_sessions(user=request.user, reason="revoked", keep=request.session.session_key)
    messages.success(request, f"Signed out of {count} other session{'s' if count != 1 else ''}.")
    return redirect("accounts:settings")


class ApiTokensView(FirmScopedView, FormView):
    """The user's personal API tokens: create (shown once), see when each was last used, revoke."""

    required_right = SIGNED_IN
    template_name = "accounts/api_tokens.html"
    form_class = ApiTokenForm

    def needs_step_up(self, request: HttpRequest) -> bool:
        # Minting a credential is sensitive: it needs a fresh second factor.
        return request.method == "POST"

    def get_form_kwargs(self) -> dict[str, Any]:
        max_days = self.user.firm.token_max_days
        return {**super().get_form_kwargs(), "held": user_rights(user=self.user), "max_days": max_days}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["tokens"] = api_tokens(user=self.user)
        return context

    def form_valid(self, form: ApiTokenForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            token, plain = services.api_token_create(
                user=self.user,
                name=data["name"],
                expires_in_days=data["expires_in_days"],
                rights=frozenset(Right(r) for r in data["rights"]),
            )
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
            return self.form_invalid(form)
        return render(self.request, "accounts/api_token_created.html", {"token": token, "plain": plain})


class FirmSecurityView(FirmScopedView, FormView):
    """Settings → Security: the firm's two-factor policy, session limits and longest token lifetime."""

    required_right = Right.USER_MANAGEMENT
    template_name = "accounts/firm_security.html"
    form_class = FirmSecurityForm

    def needs_step_up(self, request: HttpRequest) -> bool:
        # Weakening the firm's security policy is as sensitive as changing someone's rights.
        return request.method == "POST"

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "instance": Firm.objects.get(pk=self.user.firm_id)}

    def form_valid(self, form: FirmSecurityForm) -> HttpResponse:
        try:
            services.firm_security_update(actor=self.user, **form.cleaned_data)
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
            return self.form_invalid(form)
        messages.success(self.request, "Security settings saved.")
        return redirect("accounts:firm-security")


@require_POST
@firm_view(SIGNED_IN)
def api_token_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    try:
        token = services.api_token_revoke(user=request.user, token_id=pk)
    except ApiToken.DoesNotExist:
        raise Http404 from None
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("accounts:api-tokens")


class UsersView(FirmScopedView, FormView):
    """Settings → Users: the firm's users, and inviting a new one."""

    required_right = Right.USER_MANAGEMENT
    template_name = "accounts/users.html"
    form_class = UserInviteForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["people"] = firm_user_overview(firm_id=self.user.firm_id)
        return context

    def form_valid(self, form: UserInviteForm) -> HttpResponse:
        user = services.user_invite(firm=self.user.firm, actor=self.user, **form.cleaned_data)
        messages.success(self.request, f"Invitation sent to {user.email}.")
        return redirect("accounts:users")


@require_POST
@firm_view(Right.USER_MANAGEMENT, step_up=True)
def user_two_factor_reset(request: AuthenticatedRequest, pk: int) -> HttpResponseBase:
    person = get_scoped_or_404(firm_users(firm_id=request.user.firm_id), pk=pk)
    services.two_factor_reset(actor=request.user, user=person)
    messages.success(request, f"Two-factor authentication of {person.full_name} was reset; they enrol again.")
    return redirect("people:user-edit", pk=pk)


class _SignedLinkUser:
    """The user an emailed link names, found through ``accounts.identity`` and loaded in their firm
    (nobody is signed in, so no firm is in scope); setting the password runs in that firm too, and
    only once the link's token has been checked (``form_valid``)."""

    user: Any

    def get_user(self, uidb64: str) -> Any:
        try:
            uid = urlsafe_base64_decode(uidb64).decode()
        except (TypeError, ValueError):
            return None
        identity = identity_by_id(uid)
        return user_of(identity) if identity is not None else None

    def form_valid(self, form: Any) -> HttpResponse:
        with firm_scope(self.user.firm_id):
            return super().form_valid(form)  # type: ignore[misc]


class InviteAcceptView(_SignedLinkUser, PublicView, auth_views.PasswordResetConfirmView):
    """The link in an invitation: set a first password (once, before the link expires)."""

    public_reason = "An invited person has no password yet; the single-use signed link is the credential."
    template_name = "accounts/invite_accept.html"
    token_generator = services.invite_tokens
    post_reset_login = False
    success_url = reverse_lazy("accounts:login")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, "Your password is set. Sign in to continue.")
        return response


class PasswordChangeView(FirmScopedView, auth_views.PasswordChangeView):
    """Change one's own password (old password, then a new one the validators accept)."""

    required_right = SIGNED_IN
    template_name = "accounts/password_form.html"
    success_url = reverse_lazy("accounts:settings")
    extra_context = {"title": "Change your password"}

    def form_valid(self, form: Any) -> HttpResponse:
        old_key = self.request.session.session_key
        response = super().form_valid(form)  # keeps this browser signed in under a new session key
        sessions.rekey(old_key=old_key, new_key=self.request.session.session_key)
        # Other browsers keep no access with the old password.
        sessions.end_sessions(user=self.user, reason="password changed", keep=self.request.session.session_key)
        messages.success(self.request, "Your password was changed; your other sessions were ended.")
        return response


class PasswordResetView(PublicView, auth_views.PasswordResetView):
    """Forgotten password: always the same answer, whether or not the address has an account."""

    public_reason = "People who forgot their password are not signed in."
    form_class = PasswordResetForm
    template_name = "accounts/password_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-sent")
    extra_context = {"title": "Reset your password"}

    def form_valid(self, form: Any) -> HttpResponse:
        form.cleaned_data["email"] = form.cleaned_data["email"].strip().lower()
        return super().form_valid(form)


class PasswordResetSentView(PublicView, TemplateView):
    public_reason = "Says only that an email is on its way if the address is known."
    template_name = "accounts/password_reset_sent.html"


class PasswordResetConfirmView(_SignedLinkUser, PublicView, auth_views.PasswordResetConfirmView):
    public_reason = "The single-use signed link from the reset email is the credential."
    template_name = "accounts/invite_accept.html"
    success_url = reverse_lazy("accounts:login")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        sessions.end_sessions(user=form.user, reason="password reset")
        messages.success(self.request, "Your password is set. Sign in to continue.")
        return response
