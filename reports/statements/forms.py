"""Forms of the statements pages. Choices that are the firm's (households, benchmarks) are given
by the view; the services check everything again (scope, rights, the period's rules)."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from reports.statements.models import Frequency, Kind, Period, Section, Style

SECTION_CHOICES = Section.choices
_NUMBERS = re.compile(r"[\s,;]+")


class StatementForm(forms.Form):
    account = forms.CharField(
        label="Account number", max_length=32, required=False, help_text="Or choose a household below."
    )
    household = forms.TypedChoiceField(label="Household", required=False, coerce=int, empty_value=None)
    kind = forms.ChoiceField(label="Document", choices=Kind.choices, initial=Kind.ACTIVITY)
    style = forms.ChoiceField(
        label="Detail", choices=Style.choices, initial=Style.DETAILED,
        help_text="A snapshot performance report has fewer sections (balances, performance, chart, allocation).",
    )  # fmt: skip
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    benchmark = forms.ChoiceField(label="Benchmark", required=False)
    sections = forms.MultipleChoiceField(
        label="Sections", choices=SECTION_CHOICES, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: the document's usual sections.",
    )  # fmt: skip

    def __init__(self, *args: Any, households: list[Any], benchmarks: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["household"].choices = [("", "—"), *((h.pk, h.name) for h in households)]  # type: ignore[attr-defined]
        self.fields["benchmark"].choices = [("", "The default"), *((b, b) for b in benchmarks)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("account")) == bool(data.get("household")):
            self.add_error("account", "Give one account number or choose one household.")
        return data


class DefinitionForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    kind = forms.ChoiceField(label="Document", choices=Kind.choices, initial=Kind.ACTIVITY)
    style = forms.ChoiceField(label="Detail", choices=Style.choices, initial=Style.DETAILED)
    sections = forms.MultipleChoiceField(
        label="Sections", choices=SECTION_CHOICES, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: the document's usual sections.",
    )  # fmt: skip
    period = forms.ChoiceField(label="Period", choices=Period.choices, initial=Period.PREVIOUS_QUARTER)
    benchmark = forms.ChoiceField(label="Benchmark", required=False)
    every_account = forms.BooleanField(label="Every open account in my scope (one statement each)", required=False)
    accounts = forms.CharField(
        label="Account numbers", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Separated by spaces, commas or new lines.",
    )  # fmt: skip
    households = forms.TypedMultipleChoiceField(label="Households", required=False, coerce=int)
    frequency = forms.ChoiceField(label="Schedule", choices=Frequency.choices, initial=Frequency.NONE)
    email_clients = forms.BooleanField(label="Email each client a download link", required=False, initial=True)
    active = forms.BooleanField(label="Switched on", required=False, initial=True)

    def __init__(self, *args: Any, households: list[Any], benchmarks: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["households"].choices = [(h.pk, h.name) for h in households]  # type: ignore[attr-defined]
        self.fields["benchmark"].choices = [("", "The default"), *((b, b) for b in benchmarks)]  # type: ignore[attr-defined]

    def clean_accounts(self) -> list[str]:
        return [n for n in _NUMBERS.split(self.cleaned_data.get("accounts") or "") if n]


class DisclosuresForm(forms.Form):
    disclosures = forms.CharField(
        label="Disclosures printed on every statement", max_length=5000, required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )  # fmt: skip
