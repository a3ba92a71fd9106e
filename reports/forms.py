"""The calculators' forms: a held-away account's valuations and flows pasted as lines, and the RMD
inputs. Each form's ``clean`` runs the calculator, so a refusal is a form error on its field."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms

from crm.models import TradingPermission
from portfolios.models import AccountStatus, AccountType, MarginType
from reports import queries, returns

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


# --- Client data queries and account queries (issue #19, point 4): GET forms ---------------------


class QueryForm(forms.Form):
    """A query's inputs; ``run`` answers the query or adds the refusal to its field."""

    def query(self, *, user: Any, today: date) -> queries.QueryResult:
        raise NotImplementedError

    def run(self, *, user: Any, today: date) -> queries.QueryResult | None:
        if not self.is_valid():
            return None
        try:
            return self.query(user=user, today=today)
        except queries.QueryInputError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
            return None


def _percent_field(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=False, max_digits=12, decimal_places=4, min_value=Decimal(-100),
        max_value=Decimal(100_000), help_text=help_text,
    )  # fmt: skip


PERIOD_CHOICES = [
    ("MTD", "Month to date"), ("QTD", "Quarter to date"), ("YTD", "Year to date"), ("1Y", "1 year"),
    ("3Y", "3 years"), ("5Y", "5 years"), ("ITD", "Since inception"), ("CUSTOM", "Custom range"),
]  # fmt: skip


class PerformanceQueryForm(QueryForm):
    period = forms.ChoiceField(label="Period", choices=PERIOD_CHOICES, initial="YTD")
    start = forms.DateField(label="From", required=False, widget=DateInput(), help_text="Custom range only.")
    end = forms.DateField(
        label="To", required=False, widget=DateInput(), help_text="Custom range only; blank: the latest value."
    )
    above = _percent_field("TWR above (%)", "E.g. 5 for accounts that returned more than 5 %.")
    below = _percent_field("TWR below (%)", "E.g. -2 for accounts that lost more than 2 %. Both: between them.")

    def query(self, *, user: Any, today: date) -> queries.QueryResult:
        data = self.cleaned_data
        custom = data["period"] == "CUSTOM"
        return queries.performance_query(
            user=user, code=data["period"],
            above=data["above"] / 100 if data["above"] is not None else None,
            below=data["below"] / 100 if data["below"] is not None else None,
            start=data["start"] if custom else None, end=data["end"] if custom else None, today=today,
        )  # fmt: skip


class SymbolQueryForm(QueryForm):
    symbol = forms.CharField(label="Symbol", max_length=32, help_text="As the custodian reports it, e.g. AAPL.")
    start = forms.DateField(label="From", widget=DateInput())
    end = forms.DateField(label="To", required=False, widget=DateInput(), help_text="Blank: today.")

    def query(self, *, user: Any, today: date) -> queries.QueryResult:
        data = self.cleaned_data
        return queries.symbol_query(user=user, symbol=data["symbol"], start=data["start"], end=data["end"], today=today)


class ActivityQueryForm(QueryForm):
    start = forms.DateField(label="From", widget=DateInput())
    end = forms.DateField(label="To", required=False, widget=DateInput(), help_text="Blank: today.")
    threshold = forms.IntegerField(
        label="More than", min_value=0, max_value=1_000_000, help_text="Trades, dividends and position transfers."
    )

    def query(self, *, user: Any, today: date) -> queries.QueryResult:
        data = self.cleaned_data
        return queries.activity_query(
            user=user, start=data["start"], end=data["end"], threshold=data["threshold"], today=today
        )


class RmdQueryForm(QueryForm):
    year = forms.IntegerField(label="Tax year", min_value=1990, max_value=2200)

    def query(self, *, user: Any, today: date) -> queries.QueryResult:
        return queries.rmd_query(user=user, year=self.cleaned_data["year"], today=today)


YES_NO = [("", "Either"), ("yes", "Yes"), ("no", "No")]


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class AccountQueryForm(QueryForm):
    account_type = forms.MultipleChoiceField(
        label="Account type", required=False, choices=AccountType.choices, widget=forms.CheckboxSelectMultiple
    )
    status = forms.MultipleChoiceField(
        label="Status", required=False, choices=AccountStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    margin_type = forms.MultipleChoiceField(
        label="Margin type", required=False, choices=MarginType.choices, widget=forms.CheckboxSelectMultiple
    )
    permission = forms.MultipleChoiceField(
        label="Trading permissions (any of)", required=False, choices=TradingPermission.choices,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    currency = forms.CharField(
        label="Base currency", required=False, max_length=80, help_text="ISO codes, comma-separated, e.g. USD, EUR."
    )
    opened_from = forms.DateField(label="Opened from", required=False, widget=DateInput())
    opened_to = forms.DateField(label="Opened to", required=False, widget=DateInput())
    value_min = forms.DecimalField(label="Value at least", required=False, max_digits=20, decimal_places=2)
    value_max = forms.DecimalField(label="Value at most", required=False, max_digits=20, decimal_places=2)
    household = forms.ChoiceField(label="In a household", required=False, choices=YES_NO)
    sub_account = forms.ChoiceField(label="Sub-account", required=False, choices=YES_NO)

    def clean_currency(self) -> list[str]:
        codes = [c.strip().upper() for c in re.split(r"[,\s]+", self.cleaned_data.get("currency", "")) if c.strip()]
        for code in codes:
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise forms.ValidationError(f"{code!r} is not an ISO 4217 code (three letters, e.g. USD).")
        return codes

    def criteria(self) -> queries.AccountCriteria:
        data = self.cleaned_data
        return queries.AccountCriteria(
            account_types=data["account_type"], statuses=data["status"], margin_types=data["margin_type"],
            permissions=data["permission"], currencies=data["currency"], opened_from=data["opened_from"],
            opened_to=data["opened_to"], value_min=data["value_min"], value_max=data["value_max"],
            in_household=_yes_no(data["household"]), sub_accounts=_yes_no(data["sub_account"]),
        )  # fmt: skip

    def query(self, *, user: Any, today: date) -> queries.QueryResult:
        return queries.account_query(user=user, criteria=self.criteria())
