"""The fee calculator page's form: the same body as the API's, typed into a page."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from billing import exclusions, fees
from billing.models import (
    AdjustmentKind,
    Frequency,
    Method,
    PeriodBasis,
    Proration,
    RecurringKind,
    Timing,
    Valuation,
)
from portfolios.models import AssetClass

FORM_BANDS = 6
_NUMBER = re.compile(r"^-?[\d,]*\.?\d*$")


def _decimal_text(value: str) -> str:
    """A typed amount as a decimal string: thousands separators dropped."""
    return value.replace(",", "").strip()


class BandFields(forms.Form):
    """Six band rows ("values below", "annual rate %"), as the calculator and schedules type them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for n in range(1, FORM_BANDS + 1):
            self.fields[f"band_{n}_up_to"] = forms.CharField(
                label=f"Band {n}: values below", required=False, max_length=30
            )
            self.fields[f"band_{n}_rate"] = forms.CharField(
                label=f"Band {n}: annual rate %", required=False, max_length=12
            )
        self._band_fields: list[int] = []  # form band number of each band sent, in order

    def band_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"band_{n}_up_to"], self[f"band_{n}_rate"]) for n in range(1, FORM_BANDS + 1)]

    def tiers(self) -> list[dict[str, Any]]:
        """The bands typed in, in the API's shape (thousands separators and % dropped)."""
        data = self.cleaned_data
        tiers = []
        self._band_fields = []
        for n in range(1, FORM_BANDS + 1):
            up_to, rate = data.get(f"band_{n}_up_to", ""), data.get(f"band_{n}_rate", "")
            if up_to or rate:
                tiers.append(
                    {"up_to": _decimal_text(up_to) or None, "annual_rate_pct": _decimal_text(rate).rstrip("%")}
                )
                self._band_fields.append(n)
        return tiers

    def band_field(self, index: int, part: str) -> str:
        """The form field of the ``index``-th band sent (``part``: up_to or annual_rate_pct)."""
        n = self._band_fields[index] if index < len(self._band_fields) else 1
        return f"band_{n}_up_to" if part == "up_to" else f"band_{n}_rate"


class FeeCalculatorForm(BandFields):
    method = forms.ChoiceField(
        label="Method", choices=[(k, k.capitalize()) for k in fees.METHODS], initial=fees.TIERED,
        help_text="Tiered: each band's rate on its part of the value. Breakpoint: one rate on the whole value.",
    )  # fmt: skip
    flat_annual_fee = forms.CharField(label="Flat annual fee", required=False, max_length=30,
                                      help_text="For the flat method only.")  # fmt: skip
    minimum_annual_fee = forms.CharField(label="Minimum annual fee", required=False, max_length=30)
    maximum_annual_fee = forms.CharField(label="Maximum annual fee", required=False, max_length=30)
    accounts = forms.CharField(
        label="Accounts and values",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        max_length=60_000,
        help_text="One account a line: a reference, then its value, e.g. “U1234567 900,000.00”.",
    )
    householding = forms.BooleanField(
        label="Household these accounts (the combined value sets the bands; the fee is shared pro rata)", required=False
    )
    frequency = forms.ChoiceField(
        label="Billing frequency", choices=list(fees.FREQUENCY_LABELS.items()), initial="quarterly"
    )
    proration = forms.ChoiceField(
        label="Proration",
        required=False,
        choices=[("", "None"), ("actual/actual", "Actual/actual"), ("actual/365", "Actual/365"),
                 ("period_fraction", "Period fraction")],
        help_text="None: the annual fee ÷ the frequency. The others count the billed days (see the rules below).",
    )  # fmt: skip
    period_start = forms.DateField(label="Period start", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label="Period end", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    billable_from = forms.DateField(label="Billed from (inclusive)", required=False,
                                    widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip
    billable_to = forms.DateField(label="Billed to (inclusive)", required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._account_lines: list[int] = []  # the textarea line of each account sent

    def schedule_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("method", "flat_annual_fee", "minimum_annual_fee", "maximum_annual_fee")]

    def period_fields(self) -> list[forms.BoundField]:
        names = ("frequency", "proration", "period_start", "period_end", "billable_from", "billable_to")
        return [self[name] for name in names]

    def body(self) -> dict[str, Any]:
        """The calculator body (the API's shape) of the cleaned form."""
        data = self.cleaned_data
        tiers = self.tiers()
        accounts = []
        self._account_lines = []
        for number, line in enumerate(data.get("accounts", "").splitlines(), 1):
            if not line.strip():
                continue
            ref, _, value = line.strip().rpartition(" ")
            if not ref:  # one word: a value without a reference, or a reference without a value
                ref, value = (f"Account {number}", line.strip()) if _NUMBER.match(line.strip()) else (line.strip(), "")
            accounts.append({"ref": ref.strip().rstrip(",;"), "value": _decimal_text(value)})
            self._account_lines.append(number)
        optional = lambda name: _decimal_text(data.get(name) or "") or None  # noqa: E731
        return {
            "schedule": {"method": data["method"], "tiers": tiers, "flat_annual_fee": optional("flat_annual_fee"),
                         "minimum_annual_fee": optional("minimum_annual_fee"),
                         "maximum_annual_fee": optional("maximum_annual_fee")},
            "accounts": accounts, "householding": data.get("householding", False), "frequency": data["frequency"],
            "proration": data.get("proration") or None,
            **{name: data.get(name) and data[name].isoformat()
               for name in ("period_start", "period_end", "billable_from", "billable_to")},
        }  # fmt: skip

    def show_errors(self, errors: dict[str, str]) -> None:
        """Put the calculator's errors (by body path) on the fields they name."""
        for path, message in errors.items():
            field, text = self._field_of(path), message
            if match := re.match(r"accounts\[(\d+)\]", path):
                text = f"Line {self._account_lines[int(match.group(1))]}: {message}"
            self.add_error(field, text)

    def _field_of(self, path: str) -> str | None:
        if match := re.match(r"schedule\.tiers\[(\d+)\]\.(up_to|annual_rate_pct)", path):
            return self.band_field(int(match.group(1)), match.group(2))
        if path == "schedule.tiers":
            return "band_1_rate"
        name = path.removeprefix("schedule.").split("[")[0].split(".")[0]
        return name if name in self.fields else None


DATE = forms.DateInput(attrs={"type": "date"})


def _amount(value: str) -> Decimal | None:
    text = _decimal_text(value or "")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise forms.ValidationError("Type an amount, e.g. 1,000.00.") from None


class ExclusionFields(forms.Form):
    """What is left out of the billed value (``billing.exclusions``), as typed."""

    exclude_symbols = forms.CharField(
        label="Exclude securities", required=False, max_length=4000,
        help_text="Symbols, separated by commas, e.g. “AAPL, BND”.",
    )  # fmt: skip
    exclude_asset_classes = forms.MultipleChoiceField(
        label="Exclude asset classes", required=False, choices=AssetClass.choices, widget=forms.CheckboxSelectMultiple
    )
    exclude_cash = forms.BooleanField(label="Exclude cash", required=False)
    exclude_positions = forms.CharField(
        label="Exclude part of a position", required=False, max_length=4000,
        help_text="A symbol and the % left out, separated by commas, e.g. “MSFT 50, VTI 25”.",
    )  # fmt: skip
    exclusion_names = ("exclude_symbols", "exclude_asset_classes", "exclude_cash", "exclude_positions")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        initial = kwargs.get("initial")
        if initial and isinstance(initial.get("exclusions"), dict):
            kwargs["initial"] = {**initial, **exclusions.as_text(initial["exclusions"])}
        super().__init__(*args, **kwargs)

    def exclusion_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.exclusion_names]

    def exclusions(self) -> dict[str, Any]:
        """The exclusions typed in, in the stored shape (``billing.exclusions.clean`` checks them)."""
        data = self.cleaned_data
        positions = []
        for part in re.split(r"[,;\n]+", data.get("exclude_positions", "")):
            if part.strip():
                symbol, _, pct = part.strip().rpartition(" ")
                positions.append({"symbol": symbol.strip() or pct, "pct": pct.rstrip("%") if symbol else ""})
        return {
            "symbols": data.get("exclude_symbols", ""),
            "asset_classes": list(data.get("exclude_asset_classes") or []),
            "cash": bool(data.get("exclude_cash")),
            "positions": positions,
        }

    def show_exclusion_errors(self, messages: list[str]) -> None:
        for message in messages:
            field = "exclude_positions" if message.startswith("Position") else "exclude_symbols"
            if message.startswith("Unknown asset class"):
                field = "exclude_asset_classes"
            self.add_error(field, message)


class VersionForm(ExclusionFields, BandFields):
    """The terms of a schedule from a date: what ``services.version_add`` takes."""

    effective_from = forms.DateField(
        label="Effective from",
        widget=DATE,
        help_text="The first period this version bills is the one starting on or after it.",
    )
    method = forms.ChoiceField(
        label="Method",
        choices=Method.choices,
        initial=Method.TIERED,
        help_text=fees.METHODS[fees.TIERED] + ". " + fees.METHODS[fees.BREAKPOINT] + ".",
    )
    flat_annual_fee = forms.CharField(
        label="Flat annual fee", required=False, max_length=30, help_text="For the flat method only."
    )
    minimum_annual_fee = forms.CharField(label="Minimum annual fee", required=False, max_length=30)
    maximum_annual_fee = forms.CharField(label="Maximum annual fee", required=False, max_length=30)
    frequency = forms.ChoiceField(label="Billing cycle", choices=Frequency.choices, initial=Frequency.QUARTERLY)
    timing = forms.ChoiceField(label="Billed", choices=Timing.choices, initial=Timing.ARREARS)
    valuation = forms.ChoiceField(label="Valuation", choices=Valuation.choices, initial=Valuation.AVERAGE_DAILY)
    period_basis = forms.ChoiceField(label="Period fee", choices=PeriodBasis.choices, initial=PeriodBasis.FREQUENCY)
    proration = forms.ChoiceField(
        label="Day count (part periods)",
        choices=Proration.choices,
        initial=Proration.ACTUAL_365,
        help_text="How an account opened mid-period, or a period fee by days, counts days.",
    )
    note = forms.CharField(label="Note", required=False, max_length=300, help_text="Why this version, for the record.")
    flow_threshold_amount = forms.CharField(
        label="Flow threshold (amount)", required=False, max_length=30,
        help_text="A deposit or withdrawal above it during a period billed in arrears on the period-end value is "
        "prorated by its days in the account.",
    )  # fmt: skip
    flow_threshold_pct = forms.CharField(
        label="Flow threshold (% of the value)", required=False, max_length=14,
        help_text="The same, as a share of the account's billed value (give one or the other).",
    )  # fmt: skip

    service_terms = (
        "method",
        "flat_annual_fee",
        "minimum_annual_fee",
        "maximum_annual_fee",
        "frequency",
        "timing",
        "valuation",
        "period_basis",
        "proration",
    )
    # The version's fields a form starts from (the schedule page reads these off the latest version).
    term_names = (*service_terms, "exclusions", "flow_threshold_amount", "flow_threshold_pct")

    def clean_flat_annual_fee(self) -> Decimal | None:
        return _amount(self.cleaned_data.get("flat_annual_fee", ""))

    def clean_minimum_annual_fee(self) -> Decimal | None:
        return _amount(self.cleaned_data.get("minimum_annual_fee", ""))

    def clean_maximum_annual_fee(self) -> Decimal | None:
        return _amount(self.cleaned_data.get("maximum_annual_fee", ""))

    def term_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.service_terms]

    def flow_fields(self) -> list[forms.BoundField]:
        return [self["flow_threshold_amount"], self["flow_threshold_pct"]]

    def terms(self) -> dict[str, Any]:
        """What ``services.version_add`` takes."""
        data = self.cleaned_data
        return {
            "effective_from": data["effective_from"],
            "note": data.get("note", ""),
            "tiers": self.tiers(),
            **{name: data.get(name) for name in self.service_terms},
        }

    def extras(self) -> dict[str, Any]:
        """What ``billing.exclusion_services`` adds to the terms."""
        data = self.cleaned_data
        return {
            "exclusions": self.exclusions(),
            "flow_threshold_amount": data.get("flow_threshold_amount") or None,
            "flow_threshold_pct": (data.get("flow_threshold_pct") or "").rstrip("%") or None,
        }

    def show_service_errors(self, error: ValidationError) -> None:
        """A service's errors on the fields they name; band errors on their band's row."""
        for name, messages in error.message_dict.items():
            for message in messages:
                match = re.match(r"Band (\d+): ", message)
                if name == "tiers" and match:
                    self.add_error(self.band_field(int(match.group(1)) - 1, "up_to"), message)
                elif name == "exclusions":
                    self.show_exclusion_errors([message])
                else:
                    self.add_error(name if name in self.fields else None, message)


class ScheduleForm(VersionForm):
    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(
        label="Description", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    is_default = forms.BooleanField(
        label="Firm default (bills every account without a schedule of its own)", required=False
    )

    field_order = ["name", "description", "is_default", "effective_from"]


class AssignForm(ExclusionFields):
    accounts = forms.CharField(
        label="Account numbers",
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="One or more, separated by spaces, commas or lines.",
    )
    target = forms.ChoiceField(
        label="Assign to",
        widget=forms.RadioSelect,
        initial="accounts",
        choices=[("accounts", "These accounts"), ("households", "Their households (every account of each household)")],
    )
    householding = forms.BooleanField(
        label="Bill each household together (the combined value sets the bands)", required=False, initial=True
    )
    fee_cap_pct = forms.DecimalField(
        label="Fee cap (% a year of the value)",
        required=False,
        min_value=0,
        max_value=100,
        decimal_places=6,
        help_text="Accounts only: the run never bills above it.",
    )
    field_order = ["accounts", "target", "householding", "fee_cap_pct"]

    def numbers(self) -> list[str]:
        return list(dict.fromkeys(n for n in re.split(r"[\s,;]+", self.cleaned_data["accounts"]) if n))


class RunForm(forms.Form):
    period_start = forms.DateField(label="Period from", widget=DATE)
    period_end = forms.DateField(label="Period to", widget=DATE)
    accounts = forms.CharField(
        label="Only these accounts",
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="Account numbers; leave empty to bill every open account.",
    )

    def numbers(self) -> list[str]:
        return list(dict.fromkeys(n for n in re.split(r"[\s,;]+", self.cleaned_data.get("accounts", "")) if n))


class SettingsForm(forms.Form):
    four_eyes = forms.BooleanField(
        label="Four eyes: a run is approved by someone other than who prepared it", required=False
    )
    change_alert_pct = forms.DecimalField(
        label="Flag fees that changed by more than (%)", min_value=0, max_value=10_000, decimal_places=2
    )


# --- Adjustments ---------------------------------------------------------------------------------


class AdjustmentForm(forms.Form):
    """A one-off credit or reimbursement (``billing.adjustments.adjustment_post``). ``key`` is made
    when the form is shown, so a second click or a reload posts nothing more."""

    account = forms.CharField(label="Account number", max_length=32)
    kind = forms.ChoiceField(label="Type", choices=AdjustmentKind.choices, initial=AdjustmentKind.CREDIT)
    amount = forms.CharField(label="Amount", max_length=30, help_text="In the account's currency, e.g. 250.00.")
    reason = forms.CharField(label="Reason", max_length=300, help_text="Kept with the posting.")
    key = forms.CharField(widget=forms.HiddenInput, max_length=255)
    confirmed = forms.BooleanField(widget=forms.HiddenInput, required=False)

    def clean_amount(self) -> str:
        return _decimal_text(self.cleaned_data["amount"])


class RecurringForm(forms.Form):
    account = forms.CharField(label="Account number", max_length=32)
    kind = forms.ChoiceField(label="Type", choices=RecurringKind.choices, initial=RecurringKind.FEE_DISCOUNT)
    amount = forms.CharField(label="Credit per period", required=False, max_length=30,
                             help_text="Fixed credit: in the account's currency.")  # fmt: skip
    pct = forms.CharField(label="Discount %", required=False, max_length=14, help_text="Discount: a share of the fee.")
    reason = forms.CharField(label="Reason", max_length=300)
    starts_on = forms.DateField(label="From", widget=DATE)
    ends_on = forms.DateField(label="To (empty: until stopped)", required=False, widget=DATE)

    def clean_amount(self) -> str:
        return _decimal_text(self.cleaned_data.get("amount", ""))

    def clean_pct(self) -> str:
        return _decimal_text(self.cleaned_data.get("pct", "")).rstrip("%")


class StopForm(forms.Form):
    ends_on = forms.DateField(label="Last day", required=False, widget=DATE, help_text="Empty: today.")


def show_service_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's errors on the fields of ``form`` they name (others above the form)."""
    fields = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
    for name, texts in fields.items():
        for text in texts:
            form.add_error(name if name in form.fields else None, text)
