from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.utils import timezone

from accounts.identity import identity_by_email, user_of
from accounts.models import Firm
from advisorportal.formats import DateFormat, day, moment


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    error_messages = {
        "invalid_login": "That email and password do not match an active account.",
        "inactive": "That email and password do not match an active account.",
    }


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's, with the account found through ``accounts.identity`` (no firm is in scope yet)."""

    def get_users(self, email: str) -> Any:
        identity = identity_by_email(email)
        user = user_of(identity) if identity is not None and identity.is_active else None
        return [user] if user is not None and user.has_usable_password() else []


class AuditFilterForm(forms.Form):
    """Filters of the audit trail viewer and its CSV export; bad values are reported per field."""

    actor = forms.TypedChoiceField(label="Who", required=False, coerce=int, empty_value=None)
    action = forms.ChoiceField(label="Action", required=False)
    object_type = forms.ChoiceField(label="Object type", required=False)
    object_id = forms.CharField(label="Object id", required=False, max_length=64)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, users: Any, object_types: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from accounts.models import AuditAction

        self.fields["actor"].choices = [("", "Anyone"), *((u.pk, f"{u.full_name} <{u.email}>") for u in users)]  # type: ignore[attr-defined]
        self.fields["action"].choices = [("", "Any action"), *AuditAction.choices]  # type: ignore[attr-defined]
        self.fields["object_type"].choices = [("", "Any object"), *object_types]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data


class TwoFactorCodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
    )


class ApiTokenForm(forms.Form):
    """A new token: nothing is ticked, so every right it carries was chosen; the service refuses a
    token without rights or longer than the firm allows (``accounts.services.api_token_create``)."""

    name = forms.CharField(label="Name", max_length=100, help_text='What the token is for, e.g. "Reporting script".')
    expires_in_days = forms.IntegerField(label="Expires in (days)", min_value=1)
    rights = forms.MultipleChoiceField(
        label="Access rights",
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The token can do only these. Tick at least one.",
    )

    def __init__(self, *args: Any, held: Any, max_days: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rights"].choices = sorted(((r.value, r.label) for r in held), key=lambda c: c[1])  # type: ignore[attr-defined]
        days = self.fields["expires_in_days"]
        days.initial = max_days
        days.widget.attrs["max"] = max_days
        days.help_text = f"At most {max_days} days: the longest your firm allows."


class FirmSecurityForm(forms.ModelForm):
    """The firm's security policy, set by its security officers (``services.firm_security_update``)."""

    class Meta:
        model = Firm
        fields = ["two_factor_policy", "session_idle_minutes", "session_absolute_hours", "token_max_days"]
        labels = {
            "two_factor_policy": "Two-factor authentication",
            "session_idle_minutes": "Sign out after idle minutes",
            "session_absolute_hours": "Sign out after hours in any case",
            "token_max_days": "Longest API token lifetime (days)",
        }
        help_texts = {
            "session_idle_minutes": "5 to 240.",
            "session_absolute_hours": "1 to 24.",
            "token_max_days": "1 to 365. New tokens expire after at most this; existing tokens keep their expiry.",
        }


def _previewed(code: str, label: str, now: datetime) -> str:
    return f"{label}: {day(now, code)} · {moment(now, code)}"


class DateFormatForm(forms.Form):
    """A date format, each choice shown with today's date and time in it. ``firm_default`` (the
    firm's choice) adds a blank choice, "as the firm", for a user's own preference."""

    date_format = forms.ChoiceField(label="Date format", widget=forms.RadioSelect)

    def __init__(self, *args: Any, firm_default: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        now = timezone.now()
        choices = [(code, _previewed(code, str(label), now)) for code, label in DateFormat.choices]
        if firm_default is not None:
            firm_label = str(DateFormat(firm_default).label) if firm_default in DateFormat.values else ""
            choices.insert(0, ("", _previewed(firm_default, f"Your firm's ({firm_label})", now)))
        field = self.fields["date_format"]
        field.choices = choices  # type: ignore[attr-defined]
        field.required = firm_default is None


class UserInviteForm(forms.Form):
    email = forms.EmailField(label="Email")
    full_name = forms.CharField(label="Full name", max_length=200)
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from accounts.rights import Role

        # No role is preselected: the person inviting chooses one (the least privilege is not guessed).
        self.fields["role"].choices = [("", "Choose a role"), *Role.choices]  # type: ignore[attr-defined]

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        if identity_by_email(email) is not None:
            # Emails are unique across firms (sign-in names no firm); say only that this one cannot be used.
            raise forms.ValidationError("This email address cannot be invited.")
        return email


class UserEditForm(forms.Form):
    role = forms.ChoiceField(label="Role")
    is_active = forms.BooleanField(label="Active (may sign in)", required=False)
    rights = forms.MultipleChoiceField(label="Access rights", widget=forms.CheckboxSelectMultiple, required=False)
    scope = forms.ChoiceField(label="Client scope", widget=forms.RadioSelect)
    households = forms.MultipleChoiceField(
        label="Households", required=False, help_text="Their members and every account of these households."
    )
    groups = forms.MultipleChoiceField(
        label="Contact groups", required=False, help_text="Their contacts and every account these contacts own."
    )
    account_numbers = forms.CharField(
        label="Account numbers", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Separated by commas or spaces.",
    )  # fmt: skip

    def __init__(self, *args: Any, households: Any = (), groups: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from accounts.models import AccountScope
        from accounts.rights import Right, Role

        self.fields["role"].choices = Role.choices  # type: ignore[attr-defined]
        self.fields["rights"].choices = sorted(Right.choices, key=lambda c: c[1])  # type: ignore[attr-defined]
        self.fields["scope"].choices = AccountScope.choices  # type: ignore[attr-defined]
        self.fields["households"].choices = [(str(h.pk), h.name) for h in households]  # type: ignore[attr-defined]
        self.fields["groups"].choices = [(str(g.pk), g.name) for g in groups]  # type: ignore[attr-defined]

    def clean_account_numbers(self) -> list[str]:
        return [n for n in str(self.cleaned_data.get("account_numbers") or "").replace(",", " ").split() if n]
