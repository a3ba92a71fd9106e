"""Filter forms of the account pages (GET forms: bad input is shown, never a 500)."""

from __future__ import annotations

from typing import Any

from django import forms

from portfolios.models import AccountStatus, AccountType, TransactionKind
from portfolios.selectors import ACCOUNT_ORDERING_CHOICES, CHART_PERIODS


class AccountFilterForm(forms.Form):
    q = forms.CharField(label="Number or title starts with", required=False, max_length=100)
    account_type = forms.ChoiceField(label="Type", required=False, choices=[("", "Any type"), *AccountType.choices])
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *AccountStatus.choices])
    household = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    owner = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    ordering = forms.ChoiceField(
        required=False, choices=[(name, name) for name in ACCOUNT_ORDERING_CHOICES], widget=forms.HiddenInput
    )

    def filters(self) -> dict[str, Any]:
        """The valid filters; an invalid one is left out (and shown as an error by the page)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in (None, "") and k != "ordering"}

    def sort_order(self) -> str:
        if not self.is_bound:
            return "number"
        self.is_valid()
        return str(getattr(self, "cleaned_data", {}).get("ordering") or "number")


class ChartPeriodForm(forms.Form):
    period = forms.ChoiceField(required=False, choices=[(p, p) for p in CHART_PERIODS])
    benchmark = forms.CharField(required=False, max_length=32)


class TransactionFilterForm(forms.Form):
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label="Type", required=False, choices=[("", "Any type"), *TransactionKind.choices])
    text = forms.CharField(label="Text or symbol", required=False, max_length=100)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid field is left out, so the page still shows the default)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in (None, "")}


class HoldForm(forms.Form):
    """Place a hold on the account's cash (the service checks the amount against available cash)."""

    currency = forms.CharField(label="Currency", max_length=3, min_length=3)
    amount = forms.DecimalField(label="Amount", max_digits=20, decimal_places=3, min_value=0)
    reason = forms.CharField(label="Reason", max_length=200)
    reference = forms.CharField(
        label="Reference", max_length=100, help_text="What the hold is for, e.g. a withdrawal request's number."
    )

    def clean_currency(self) -> str:
        return str(self.cleaned_data["currency"]).strip().upper()


class HoldReleaseForm(forms.Form):
    reason = forms.CharField(label="Why release it", max_length=200)


class AccountCloseForm(forms.Form):
    closed_on = forms.DateField(
        label="Last day open", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Fees are billed to this day; what was prepaid for the days after is refunded.",
    )  # fmt: skip
