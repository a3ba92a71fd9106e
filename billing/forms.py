"""The fee calculator page's form: the same body as the API's, typed into a page."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from billing import fees

FORM_BANDS = 6
_NUMBER = re.compile(r"^-?[\d,]*\.?\d*$")


def _decimal_text(value: str) -> str:
    """A typed amount as a decimal string: thousands separators dropped."""
    return value.replace(",", "").strip()


class FeeCalculatorForm(forms.Form):
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
        for n in range(1, FORM_BANDS + 1):
            self.fields[f"band_{n}_up_to"] = forms.CharField(
                label=f"Band {n}: values below", required=False, max_length=30
            )
            self.fields[f"band_{n}_rate"] = forms.CharField(
                label=f"Band {n}: annual rate %", required=False, max_length=12
            )
        self._band_fields: list[int] = []  # form band number of each band sent, in order
        self._account_lines: list[int] = []  # the textarea line of each account sent

    def band_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"band_{n}_up_to"], self[f"band_{n}_rate"]) for n in range(1, FORM_BANDS + 1)]

    def schedule_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("method", "flat_annual_fee", "minimum_annual_fee", "maximum_annual_fee")]

    def period_fields(self) -> list[forms.BoundField]:
        names = ("frequency", "proration", "period_start", "period_end", "billable_from", "billable_to")
        return [self[name] for name in names]

    def body(self) -> dict[str, Any]:
        """The calculator body (the API's shape) of the cleaned form."""
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
            n = self._band_fields[int(match.group(1))]
            return f"band_{n}_up_to" if match.group(2) == "up_to" else f"band_{n}_rate"
        if path == "schedule.tiers":
            return "band_1_rate"
        name = path.removeprefix("schedule.").split("[")[0].split(".")[0]
        return name if name in self.fields else None
