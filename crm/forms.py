"""Forms of the CRM pages. They only shape and label input: every rule lives in the models and
services, whose ``ValidationError``s the views put back on the right field."""

from __future__ import annotations

from typing import Any

from django import forms

from crm.models import ActivityKind, Contact, ContactStatus, Group, Household, InvestmentObjective, TradingPermission
from crm.services import BULK_FIELDS, EDITABLE_FIELDS

# The sections of the contact form, as in the seed's "Configure Contact Profile" sheet.
SECTIONS: list[tuple[str, list[str]]] = [
    ("Contact information", [
        "kind", "status", "salutation", "first_name", "middle_name", "last_name", "suffix", "preferred_name",
        "organization", "email", "email_alt", "phone", "mobile_phone", "work_phone", "username", "date_of_birth",
        "gender", "marital_status", "dependents", "citizenship", "country_of_birth", "language",
    ]),
    ("Residential address", ["res_street", "res_street2", "res_city", "res_state", "res_postal_code", "res_country"]),
    ("Mailing address", [
        "mailing_same", "mail_street", "mail_street2", "mail_city", "mail_state", "mail_postal_code", "mail_country",
    ]),
    ("Tax information", ["tax_id_type", "tax_id", "tax_country"]),
    ("Employment", ["employment_status", "employer", "occupation", "employer_business"]),
    ("Financial information", ["annual_income", "net_worth", "liquid_net_worth", "source_of_funds"]),
    ("Investment profile", [
        "investment_objectives", "time_horizon", "risk_tolerance", "investment_experience", "trading_permissions",
    ]),
    ("Prospect information", ["prospect_account_type", "priority", "marketing_source", "advisor"]),
    ("Tags, dates and notes", ["tags", "client_since", "last_contacted", "next_review", "notes"]),
]  # fmt: skip


class ContactForm(forms.ModelForm):
    tax_id = forms.CharField(
        label="Tax id", required=False, strip=True, help_text="Stored encrypted; leave empty to keep the current one."
    )
    tags = forms.CharField(label="Tags", required=False, help_text="Separated by commas.")
    investment_objectives = forms.MultipleChoiceField(
        choices=InvestmentObjective.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    trading_permissions = forms.MultipleChoiceField(
        choices=TradingPermission.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Contact
        fields = [f for f in EDITABLE_FIELDS if f not in ("tags",)]
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}),
            "client_since": forms.DateInput(attrs={"type": "date"}),
            "last_contacted": forms.DateInput(attrs={"type": "date"}),
            "next_review": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, advisors: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["advisor"].queryset = advisors  # type: ignore[attr-defined]
        for name, field in self.fields.items():
            if name.endswith("country") or name == "citizenship":
                field.error_messages["max_length"] = "Enter a two-letter ISO 3166 country code, e.g. US."
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)
            if self.instance.tax_id_last4:
                self.fields["tax_id"].widget.attrs["placeholder"] = self.instance.tax_id_masked

    def clean_tags(self) -> list[str]:
        raw = str(self.cleaned_data.get("tags") or "")
        return list(dict.fromkeys(t.strip()[:40] for t in raw.split(",") if t.strip()))

    def _post_clean(self) -> None:
        # Validation happens in the service (full_clean with the tax id sealed); skip the
        # ModelForm's own instance validation so it is not done twice.
        pass

    def sections(self) -> list[tuple[str, list[Any]]]:
        return [(title, [self[name] for name in names if name in self.fields]) for title, names in SECTIONS]

    def changed_values(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data}
        data["tags"] = self.cleaned_data.get("tags", [])
        return data


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[c for c in ActivityKind.choices if c[0] in ("note", "call", "meeting", "email")], initial="note"
    )
    summary = forms.CharField(max_length=300)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class GroupForm(forms.ModelForm):
    class Meta:
        model = Group
        fields = ["name", "description", "is_private"]
        labels = {"is_private": "Private (only you see it)"}


class HouseholdForm(forms.ModelForm):
    class Meta:
        model = Household
        fields = ["name"]


BULK_ACTIONS = (
    ("status", "Change status"),
    ("tag", "Add tag"),
    ("untag", "Remove tag"),
    ("group", "Add to group"),
    ("field", "Edit a field"),
)


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=BULK_ACTIONS)
    status = forms.ChoiceField(choices=[("", "—"), *ContactStatus.choices], required=False)
    tag = forms.CharField(max_length=40, required=False)
    group = forms.IntegerField(required=False)
    field = forms.ChoiceField(choices=[("", "—"), *[(f, f.replace("_", " ")) for f in BULK_FIELDS]], required=False)
    value = forms.CharField(max_length=200, required=False)
