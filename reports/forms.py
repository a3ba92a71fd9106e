"""The calculators' forms: a held-away account's valuations and flows pasted as lines, and the RMD
inputs. Each form's ``clean`` runs the calculator, so a refusal is a form error on its field."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms

from reports import returns

MAX_TEXT = 400_000  # about 10,000 lines
_SEPARATOR = re.compile(r"\s*[,;\t]\s*|\s+")
_DECIMAL = re.compile(r"[+-]?[0-9]{1,18}(\.[0-9]{1,20})?")


def parse_lines(text: str, *, what: str) -> list[tuple[date, Decimal]]:
    """Lines "date, number" (ISO date; comma, semicolon, tab or spaces between; thousands
    separators and a leading $ allowed in the number; blank lines skipped)."""
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = _SEPARATOR.split(line, maxsplit=1)
        if len(parts) != 2:
            raise forms.ValidationError(f'Line {number}: write "YYYY-MM-DD, {what}".')
        try:
            day = date.fromisoformat(parts[0])
        except ValueError:
            raise forms.ValidationError(f"Line {number}: {parts[0]!r} is not a date as YYYY-MM-DD.") from None
        figure = parts[1].replace(",", "").replace("$", "").replace(" ", "")
        if not _DECIMAL.fullmatch(figure):
            raise forms.ValidationError(f"Line {number}: {parts[1]!r} is not a number (e.g. 1250.00 or -500).")
        try:
            rows.append((day, Decimal(figure)))
        except InvalidOperation:  # pragma: no cover - the pattern admits only finite decimals
            raise forms.ValidationError(f"Line {number}: {parts[1]!r} is not a number.") from None
        if len(rows) > returns.MAX_FLOWS:
            raise forms.ValidationError(f"At most {returns.MAX_FLOWS:,} lines.")
    return rows


class HeldAwayForm(forms.Form):
    valuations = forms.CharField(
        label="Valuations",
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": "2024-01-01, 100000.00\n2024-06-30, 104500.00"}),
        help_text="One line per date: the market value at the end of that day, before that day's flows. "
        "At least the first and last day of the period.",
    )
    flows = forms.CharField(
        label="Contributions and withdrawals",
        max_length=MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "2024-06-30, 25000.00\n2024-09-15, -5000.00"}),
        help_text="One line per flow: positive for money in, negative for money out, after that day's valuation. "
        "For a time-weighted return, give a valuation on each flow's date.",
    )

    def clean_valuations(self) -> list[tuple[date, Decimal]]:
        return parse_lines(self.cleaned_data["valuations"], what="value")

    def clean_flows(self) -> list[tuple[date, Decimal]]:
        return parse_lines(self.cleaned_data.get("flows", ""), what="amount")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            self.result = returns.returns(data["valuations"], data["flows"])
        except returns.CalculationError as error:
            self.add_error(error.field, error.message)
        return data


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class RmdForm(forms.Form):
    birth_date = forms.DateField(label="Owner's birth date", widget=DateInput())
    year = forms.IntegerField(label="Distribution year", min_value=1900, max_value=2200)
    balance = forms.DecimalField(
        label="Balance on December 31 of the year before",
        min_value=Decimal(0),
        max_digits=20,
        decimal_places=2,
        help_text="In dollars and cents, e.g. 250000.00.",
    )
    spouse_sole_beneficiary = forms.BooleanField(label="The spouse is the sole beneficiary all year", required=False)
    spouse_birth_date = forms.DateField(
        label="Spouse's birth date",
        required=False,
        widget=DateInput(),
        help_text="Needed when the spouse is the sole beneficiary: a spouse more than 10 years younger uses the "
        "Joint and Last Survivor Table.",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            self.result = returns.rmd(
                data["birth_date"],
                data["year"],
                data["balance"],
                spouse_birth_date=data.get("spouse_birth_date"),
                spouse_sole_beneficiary=data.get("spouse_sole_beneficiary", False),
            )
        except returns.CalculationError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return data


class PerformanceForm(forms.Form):
    """A performance page's choices (a GET form): a custom range and the benchmark. Without a start,
    the standard periods run to the end (default: the latest value)."""

    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Measured from the close of the day before.",
    )  # fmt: skip
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Blank: the latest value.",
    )  # fmt: skip
    benchmark = forms.ChoiceField(required=False, label="Benchmark")

    def __init__(self, *args: Any, benchmarks: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["benchmark"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Default"), *((s, s) for s in benchmarks)]
