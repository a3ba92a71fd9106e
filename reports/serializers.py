"""What the calculators' API reads and answers (``reports.api``).

Amounts and rates travel as decimal strings both ways ("2500.00", "0.0725"): a JSON number is a
float to most clients. A list of cash flows is read by one field (``DatedAmountsField``) rather
than a nested serializer per row: 10,000 rows are read in milliseconds, and a bad row is named by
its number and key ("Row 3: amount: …").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from advisorportal.serializers import StrictSerializer
from crm.models import TradingPermission
from portfolios.models import AccountStatus, AccountType, MarginType
from reports.returns import MAX_FLOWS

# Digits, an optional sign and fraction: no exponent, no NaN or Infinity (never a non-finite number).
_DECIMAL = re.compile(r"[+-]?[0-9]{1,18}(\.[0-9]{1,20})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NOT_A_DECIMAL = 'Enter a decimal number as a string, e.g. "2500.00" (at most 18 digits before the point, 20 after).'


def decimal_text(value: Decimal | None) -> str | None:
    """A Decimal as a plain decimal string (never an exponent), None as null."""
    return None if value is None else format(value, "f")


def parse_decimal(data: Any) -> Decimal:
    """A finite decimal from a JSON string; ValueError with the message to show otherwise."""
    if not isinstance(data, str):
        raise ValueError('Send it as a decimal string, e.g. "2500.00", not as a JSON number.')
    text = data.strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError(NOT_A_DECIMAL)
    return Decimal(text)


def parse_date(data: Any) -> date:
    if not isinstance(data, str) or not _DATE.fullmatch(data.strip()):
        raise ValueError("Enter a date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(data.strip())
    except ValueError:
        raise ValueError("Enter a real date as YYYY-MM-DD.") from None


@extend_schema_field({"type": "string", "format": "decimal", "example": "2500.00"})
class DecimalStringField(serializers.Field):
    """A finite decimal number sent as a JSON string."""

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return parse_decimal(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_representation(self, value: Any) -> str | None:
        return decimal_text(value)


def _rows_schema(value_key: str, example: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": "array",
        "maxItems": MAX_FLOWS,
        "items": {
            "type": "object",
            "required": ["date", value_key],
            "properties": {
                "date": {"type": "string", "format": "date"},
                value_key: {"type": "string", "format": "decimal"},
            },
            "additionalProperties": False,
        },
        "example": example,
    }


class DatedAmountsField(serializers.Field):
    """A list of ``{"date": "YYYY-MM-DD", "<value_key>": "<decimal string>"}`` rows, at most
    ``MAX_FLOWS``, read into ``[(date, Decimal), …]`` in the order sent."""

    def __init__(self, *, value_key: str = "amount", **kwargs: Any) -> None:
        self.value_key = value_key
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[tuple[date, Decimal]]:
        if not isinstance(data, list):
            raise serializers.ValidationError(f'Send a list of {{"date", "{self.value_key}"}} objects.')
        if len(data) > MAX_FLOWS:
            raise serializers.ValidationError(f"At most {MAX_FLOWS:,} rows.")
        rows = []
        keys = {"date", self.value_key}
        for number, row in enumerate(data, start=1):
            if not isinstance(row, Mapping):
                raise serializers.ValidationError(f'Row {number}: send an object {{"date", "{self.value_key}"}}.')
            unknown = sorted(set(row) - keys)
            if unknown:
                raise serializers.ValidationError(f"Row {number}: {', '.join(unknown)} is not part of a row.")
            for key in sorted(keys):
                if key not in row:
                    raise serializers.ValidationError(f"Row {number}: {key} is required.")
            try:
                day = parse_date(row["date"])
            except ValueError as error:
                raise serializers.ValidationError(f"Row {number}: date: {error}") from None
            try:
                value = parse_decimal(row[self.value_key])
            except ValueError as error:
                raise serializers.ValidationError(f"Row {number}: {self.value_key}: {error}") from None
            rows.append((day, value))
        return rows

    def to_representation(self, value: Any) -> Any:
        return [{"date": d.isoformat(), self.value_key: decimal_text(v)} for d, v in value]


@extend_schema_field(
    _rows_schema("amount", [{"date": "2008-01-01", "amount": "-10000"}, {"date": "2008-03-01", "amount": "2750"}])
)
class CashflowsField(DatedAmountsField):
    pass


@extend_schema_field(
    _rows_schema("value", [{"date": "2024-01-01", "value": "100000.00"}, {"date": "2024-12-31", "value": "108000.00"}])
)
class ValuationsField(DatedAmountsField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(value_key="value", **kwargs)


@extend_schema_field({"type": "array", "maxItems": MAX_FLOWS, "items": {"type": "string", "format": "decimal"},
                      "example": ["-70000", "12000", "15000", "18000", "21000", "26000"]})  # fmt: skip
class AmountsField(serializers.Field):
    def to_internal_value(self, data: Any) -> list[Decimal]:
        if not isinstance(data, list):
            raise serializers.ValidationError('Send a list of decimal strings, e.g. ["-1000", "300", "800"].')
        if len(data) > MAX_FLOWS:
            raise serializers.ValidationError(f"At most {MAX_FLOWS:,} amounts.")
        amounts = []
        for number, item in enumerate(data, start=1):
            try:
                amounts.append(parse_decimal(item))
            except ValueError as error:
                raise serializers.ValidationError(f"Amount {number}: {error}") from None
        return amounts

    def to_representation(self, value: Any) -> Any:
        return [decimal_text(v) for v in value]


# --- Requests -----------------------------------------------------------------------------------------


class ToolXirrRequestSerializer(StrictSerializer):
    cashflows = CashflowsField(
        help_text="Dated amounts (negative: paid out, positive: received), at least one of each sign; the first "
        "row's date starts the discounting and no row may be earlier. At most 10,000."
    )


class ToolXnpvRequestSerializer(StrictSerializer):
    rate = DecimalStringField(help_text='The discount rate per year, more than -1, e.g. "0.09" for 9 %.')
    cashflows = CashflowsField(help_text="Dated amounts; the first row's date is day 0. At most 10,000.")


class ToolIrrRequestSerializer(StrictSerializer):
    cashflows = AmountsField(help_text="Amounts at equal periods, the first at period 0. At most 10,000.")


class ToolReturnsRequestSerializer(StrictSerializer):
    valuations = ValuationsField(
        help_text="The account's market value at the END of each date, BEFORE that date's flows; at least 2, "
        "strictly increasing dates. The first is the start of the period, the last its end. At most 10,000."
    )
    flows = CashflowsField(
        required=False,
        default=list,
        help_text="External flows (positive: contribution, negative: withdrawal), each AFTER its date's valuation, "
        "by date, on or after the first valuation's date and before the last one's. At most 10,000.",
    )


class ToolRmdQuerySerializer(serializers.Serializer[Any]):
    birth_date = serializers.DateField(help_text="The account owner's birth date (YYYY-MM-DD).")
    year = serializers.IntegerField(min_value=1900, max_value=2200, help_text="The distribution year.")
    balance = DecimalStringField(help_text="The account balance on December 31 of the year before, e.g. 250000.00.")
    spouse_birth_date = serializers.DateField(required=False, help_text="The spouse's birth date (YYYY-MM-DD).")
    spouse_sole_beneficiary = serializers.BooleanField(
        required=False, default=False, help_text="true when the spouse is the sole beneficiary all year."
    )

    def validate_balance(self, value: Decimal) -> Decimal:
        if value < 0:
            raise serializers.ValidationError("The balance cannot be negative.")
        if value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise serializers.ValidationError("Give the balance to the cent at most (2 decimal places).")
        return value


# --- Answers ------------------------------------------------------------------------------------------


class ToolRateSerializer(serializers.Serializer[Any]):
    rate = DecimalStringField(help_text="The rate as a decimal string, 12 significant digits, e.g. 0.373362533519.")


class ToolValueSerializer(serializers.Serializer[Any]):
    value = DecimalStringField(help_text="The net present value, to six decimal places (half up).")


def _nullable_rate(help_text: str, **kwargs: Any) -> DecimalStringField:
    return DecimalStringField(allow_null=True, help_text=help_text, **kwargs)


class ToolReturnsSerializer(serializers.Serializer[Any]):
    twr = _nullable_rate(
        "Time-weighted return over the whole period (geometrically linked, broken at every flow); null when "
        "undefined: a flow on a date without a valuation, a sub-period starting at zero, a non-positive start."
    )
    twr_annualized = _nullable_rate("(1 + twr)^(365 / days) - 1; null for periods of 365 days or less.")
    mwr = _nullable_rate(
        "Money-weighted return over the whole period: (1 + XIRR)^(days / 365) - 1, where XIRR is of -first value, "
        "-each flow, +last value; null when XIRR has no solution."
    )
    mwr_annualized = _nullable_rate("The XIRR rate itself; null for periods of 365 days or less.")
    modified_dietz = _nullable_rate(
        "(V_end - V_start - sum F) / (V_start + sum F_i (CD - D_i) / CD), over the period, never annualised; null "
        "when the denominator is not positive."
    )
    days = serializers.IntegerField(help_text="Days from the first valuation to the last.")
    explanation = serializers.CharField(
        help_text="Plain-language text: the figures, why TWR and MWR differ, the flow-timing convention, and why any "
        "figure is null."
    )


class ToolRmdSerializer(serializers.Serializer[Any]):
    age = serializers.IntegerField(help_text="The age the owner attains in the year.")
    applicable_age = DecimalStringField(help_text="70.5, 72, 73 or 75 by birth date (SECURE 2.0).")
    # A field named like Field.required (the metaclass moves declared fields off the class).
    required = serializers.BooleanField(  # type: ignore[assignment]
        help_text="Whether an RMD is due for the year (none for 2020: CARES Act)."
    )
    first_rmd_year = serializers.IntegerField(help_text="The year of the first RMD (the applicable age is reached).")
    first_deadline = serializers.DateField(
        help_text="When this year's RMD is due: April 1 of the following year for the first RMD year, December 31 "
        "for later years; before the first RMD year, the first RMD's deadline."
    )
    table = serializers.CharField(allow_null=True, help_text='"Uniform Lifetime" or "Joint and Last Survivor".')
    distribution_period = DecimalStringField(allow_null=True, help_text="The table's divisor, e.g. 26.5.")
    rmd = DecimalStringField(allow_null=True, help_text="balance / distribution_period, to the cent, half up.")


# --- Performance of an account or a household (GET /api/v1/reports/performance/) ----------------------


class PerformanceQuerySerializer(StrictSerializer):
    account = serializers.IntegerField(required=False, min_value=1, help_text="An account's id.")
    household = serializers.IntegerField(required=False, min_value=1, help_text="A household's id.")
    group = serializers.IntegerField(required=False, min_value=1, help_text="A CRM group's id.")
    firm = serializers.BooleanField(required=False, help_text="true: every account of your scope (the firm).")
    start = serializers.DateField(
        required=False, help_text="Start of a custom range (YYYY-MM-DD), measured from the close of the day before."
    )
    end = serializers.DateField(
        required=False, help_text="The last day measured (YYYY-MM-DD); default: the latest value. Sets every period."
    )
    benchmark = serializers.CharField(required=False, max_length=32, help_text="A benchmark's symbol, e.g. SPX.")
    blend = serializers.IntegerField(
        required=False, min_value=1, help_text="One of your firm's blended benchmarks, measured beside every period."
    )
    contribution = serializers.ChoiceField(
        required=False, choices=["MTD", "QTD", "YTD", "1Y", "3Y", "5Y", "ITD", "CUSTOM"],
        help_text="The period of the contribution by position; default CUSTOM with a start, else YTD.",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        given = [key for key in ("account", "household", "group") if key in attrs]
        given += ["firm"] if attrs.get("firm") else []
        if len(given) != 1:
            raise serializers.ValidationError(
                {"account": ["Give exactly one of account, household, group or firm=true."]}
            )
        return attrs


class PerformanceFiguresSerializer(serializers.Serializer[Any]):
    twr = _nullable_rate("Time-weighted: the daily return index, end over start, minus 1.")
    twr_annualized = _nullable_rate(
        "(1 + twr)^(365 / days) - 1; null for a period of a year or less (see convention).", source="twr_annualised"
    )
    mwr = _nullable_rate("Money-weighted over the period: (1 + XIRR)^(days / 365) - 1.")
    mwr_annualized = _nullable_rate(
        "The XIRR itself (actual/365); null for a period of a year or less.", source="mwr_annualised"
    )
    modified_dietz = _nullable_rate("Modified Dietz over the period (flows weighted (CD - D) / CD); never annualised.")


class PerformanceTimingSerializer(serializers.Serializer[Any]):
    verdict = serializers.ChoiceField(
        choices=["none", "same", "well", "badly"],
        help_text="none: no flows; same: the two agree; well: money-weighted above time-weighted; badly: below.",
    )
    text = serializers.CharField(help_text="Why, in plain words (the largest flow and what followed it).")


class PerformancePeriodSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="MTD, QTD, YTD, 1Y, 3Y, 5Y, ITD (since inception) or CUSTOM.")
    # A field named like Field.label (the metaclass moves declared fields off the class).
    label = serializers.CharField(help_text="The period's name, e.g. Year to date.")  # type: ignore[assignment]
    start = serializers.DateField(
        source="base", allow_null=True, help_text="The close measured from; null when the history is too short."
    )
    end = serializers.DateField(help_text="The last close measured.")
    days = serializers.IntegerField(allow_null=True)
    start_value = DecimalStringField(allow_null=True, help_text="The value at the start's close.")
    end_value = DecimalStringField(allow_null=True)
    flows = DecimalStringField(allow_null=True, help_text="External flows in the period (negative: money out).")
    fees = DecimalStringField(allow_null=True, help_text="Fees less refunds charged in the period (negative: paid).")
    gain = DecimalStringField(allow_null=True, help_text="end_value - start_value - flows (net of fees).")
    net = PerformanceFiguresSerializer(allow_null=True, help_text="Net of fees: fees lower the return.")
    gross = PerformanceFiguresSerializer(allow_null=True, help_text="Gross of fees: fees count as money taken out.")
    benchmark = _nullable_rate("The benchmark's change over the same days.")
    benchmark_annualized = _nullable_rate("Per year, over more than a year.", source="benchmark_annualised")
    blend = _nullable_rate("The blended benchmark's change over the same days (null without one).")
    blend_annualized = _nullable_rate("Per year, over more than a year.", source="blend_annualised")
    undefined = serializers.CharField(help_text="Why nothing is measured (empty when figures are given).")
    notes = serializers.ListField(child=serializers.CharField(), help_text="Why a single figure is null.")
    timing = PerformanceTimingSerializer(allow_null=True, help_text="Why TWR and MWR differ; null without both.")


class PerformanceAccountSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    number = serializers.CharField()
    title = serializers.CharField()
    base_currency = serializers.CharField()


class BlendComponentSerializer(serializers.Serializer[Any]):
    benchmark = serializers.CharField(source="benchmark.symbol", help_text="The index series' symbol.")
    weight = DecimalStringField(help_text='Target weight in percent, e.g. "60.00".')


class BlendSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    rebalance = serializers.ChoiceField(
        choices=["daily", "monthly", "quarterly", "annually"],
        help_text="Set back to the target weights at the close of each such period's last day with levels.",
    )
    components = BlendComponentSerializer(many=True, source="components.all")


class BlendWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    rebalance = serializers.ChoiceField(choices=["daily", "monthly", "quarterly", "annually"], default="monthly")
    components = serializers.ListField(
        child=serializers.DictField(), min_length=2, max_length=8,
        help_text='[{"benchmark": "SPX", "weight": "60.00"}, …]: weights in percent, adding up to 100.',
    )  # fmt: skip

    def validate_components(self, value: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
        out = []
        for number, row in enumerate(value, start=1):
            if set(row) != {"benchmark", "weight"}:
                raise serializers.ValidationError(f"Row {number}: give exactly benchmark and weight.")
            symbol = row["benchmark"]
            if not isinstance(symbol, str) or not symbol.strip() or len(symbol) > 32 or "\x00" in symbol:
                raise serializers.ValidationError(f"Row {number}: benchmark: give an index series' symbol.")
            try:
                weight = parse_decimal(row["weight"])
            except ValueError as error:
                raise serializers.ValidationError(f"Row {number}: weight: {error}") from None
            out.append((symbol.strip(), weight))
        return out


class AllocationLineSerializer(serializers.Serializer[Any]):
    # A field named like Field.label (the metaclass moves declared fields off the class).
    label = serializers.CharField(help_text="The class, sector, region or currency; Cash; Unclassified.")  # type: ignore[assignment]
    value = DecimalStringField(help_text="Market value in the subject's currency.")
    weight = DecimalStringField(allow_null=True, help_text="Share of the total (a fraction); null if not positive.")
    cash = serializers.BooleanField(help_text="The cash line.")
    cash_value = DecimalStringField(help_text="By currency: how much of the line is cash.")


class AllocationBreakdownSerializer(serializers.Serializer[Any]):
    key = serializers.ChoiceField(choices=["asset_class", "sector", "region", "currency"])
    # A field named like Field.label (the metaclass moves declared fields off the class).
    label = serializers.CharField()  # type: ignore[assignment]
    lines = AllocationLineSerializer(many=True)


class AllocationSerializer(serializers.Serializer[Any]):
    as_of = serializers.DateField()
    currency = serializers.CharField()
    total = DecimalStringField()
    breakdowns = AllocationBreakdownSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField(), help_text="What could not be valued.")


class PositionContributionSerializer(serializers.Serializer[Any]):
    security_id = serializers.IntegerField(allow_null=True, help_text="Null for interest, fees and the rest.")
    symbol = serializers.CharField()
    name = serializers.CharField()
    start_value = DecimalStringField()
    end_value = DecimalStringField()
    net_bought = DecimalStringField(help_text="Bought less sold (and positions moved in less out), at their values.")
    income = DecimalStringField(help_text="Dividends (interest, for the interest line).")
    gain = DecimalStringField(help_text="end_value - start_value - net_bought + income: price change plus income.")
    contribution = DecimalStringField(allow_null=True, help_text="gain / capital.")


class ContributionSerializer(serializers.Serializer[Any]):
    period = serializers.CharField(source="code", help_text="The period's code (MTD … CUSTOM).")
    start = serializers.DateField(source="base", help_text="The close measured from.")
    end = serializers.DateField()
    method = serializers.CharField(help_text="How the contributions are measured.")
    capital = DecimalStringField(help_text="Starting value + each external flow x (CD - D) / CD.")
    total_gain = DecimalStringField(help_text="end value - start value - flows, net of fees.")
    total = DecimalStringField(allow_null=True, help_text="total_gain / capital: the Modified Dietz return, net.")
    positions = PositionContributionSerializer(many=True, help_text="By contribution, highest first.")
    others = PositionContributionSerializer(many=True, help_text="Interest, fees, exchange-rate changes and rounding.")
    top = PositionContributionSerializer(many=True)
    bottom = PositionContributionSerializer(many=True)
    undefined = serializers.CharField()
    notes = serializers.ListField(child=serializers.CharField())


class PerformanceSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["account", "household", "group", "firm"])
    id = serializers.IntegerField()
    name = serializers.CharField()
    currency = serializers.CharField(help_text="Every amount's currency (ISO 4217).")
    accounts = PerformanceAccountSerializer(many=True, help_text="The accounts measured.")
    left_out = PerformanceAccountSerializer(
        many=True, help_text="A household's accounts in another base currency: not converted, not included."
    )
    account_count = serializers.IntegerField(help_text="How many accounts are measured (accounts lists at most 100).")
    left_out_count = serializers.IntegerField(help_text="How many are left out (left_out lists at most 100).")
    first = serializers.DateField(allow_null=True, help_text="The first day with a value; null before any.")
    as_of = serializers.DateField(allow_null=True, help_text="The last day measured; null before any value.")
    benchmark = serializers.CharField(help_text="The benchmark's symbol (empty: none loaded).")
    periods = PerformancePeriodSerializer(many=True)
    custom = PerformancePeriodSerializer(allow_null=True, help_text="The range from start to end; null without start.")
    blend = BlendSerializer(allow_null=True, help_text="The blended benchmark measured beside the periods.")
    allocation = AllocationSerializer(allow_null=True, help_text="At the close of as_of; null before any value.")
    contribution = ContributionSerializer(allow_null=True, help_text="Null when the period is not measured.")
    contribution_undefined = serializers.CharField(help_text="Why no contribution is given (empty otherwise).")
    convention = serializers.CharField(help_text="How the figures are measured.")


# --- Client data queries and account queries (GET /api/v1/reports/queries/…) ------------------------


class QueryLimitMixin(StrictSerializer):
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=20_000, default=1000,
        help_text="At most this many rows (default 1,000; count says how many matched).",
    )  # fmt: skip


class PerformanceQueryParamsSerializer(QueryLimitMixin):
    period = serializers.ChoiceField(
        choices=["MTD", "QTD", "YTD", "1Y", "3Y", "5Y", "ITD", "CUSTOM"], default="YTD",
        help_text="The period, as on the performance report; CUSTOM takes start and end.",
    )  # fmt: skip
    start = serializers.DateField(required=False, help_text="CUSTOM: the first day (measured from the close before).")
    end = serializers.DateField(required=False, help_text="CUSTOM: the last day (default: the latest value).")
    above = DecimalStringField(required=False, help_text='TWR above this fraction ("0.05" is 5 %).')
    below = DecimalStringField(required=False, help_text='TWR below this fraction ("-0.02" is -2 %).')


class SymbolQueryParamsSerializer(QueryLimitMixin):
    symbol = serializers.CharField(max_length=32, help_text="The security's symbol, e.g. AAPL.")
    start = serializers.DateField(help_text="The period's first day.")
    end = serializers.DateField(required=False, help_text="The period's last day (default: today).")


class ActivityQueryParamsSerializer(QueryLimitMixin):
    start = serializers.DateField(help_text="The period's first day.")
    end = serializers.DateField(required=False, help_text="The period's last day (default: today).")
    threshold = serializers.IntegerField(min_value=0, help_text="More than this many trades, dividends and transfers.")


class RmdQueryParamsSerializer(QueryLimitMixin):
    year = serializers.IntegerField(min_value=1990, max_value=2200, help_text="The tax year.")


class AccountQueryParamsSerializer(QueryLimitMixin):
    account_type = serializers.ListField(
        child=serializers.ChoiceField(choices=AccountType.choices), required=False, help_text="Any of (repeat)."
    )
    status = serializers.ListField(
        child=serializers.ChoiceField(choices=AccountStatus.choices), required=False, help_text="Any of (repeat)."
    )
    margin_type = serializers.ListField(
        child=serializers.ChoiceField(choices=MarginType.choices), required=False, help_text="Any of (repeat)."
    )
    permission = serializers.ListField(
        child=serializers.ChoiceField(choices=TradingPermission.choices), required=False,
        help_text="Trading permissions, any of (repeat).",
    )  # fmt: skip
    currency = serializers.ListField(
        child=serializers.RegexField(r"^[A-Z]{3}$", max_length=3), required=False,
        help_text="Base currencies (ISO 4217).",
    )  # fmt: skip
    opened_from = serializers.DateField(required=False)
    opened_to = serializers.DateField(required=False)
    value_min = DecimalStringField(required=False)
    value_max = DecimalStringField(required=False)
    household = serializers.BooleanField(required=False, allow_null=True, default=None, help_text="In a household.")
    sub_account = serializers.BooleanField(required=False, allow_null=True, default=None)


class QueryAnswerSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(help_text="How many rows matched (results holds at most `limit`).")
    truncated = serializers.BooleanField(help_text="Whether results holds fewer rows than matched.")
    summary = serializers.CharField(help_text="What was asked, in words.")
    notes = serializers.ListField(child=serializers.CharField(), help_text="What was left out, and why.")


class _AccountRow(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="The account's id.")
    number = serializers.CharField()
    title = serializers.CharField()


class PerformanceQueryRowSerializer(_AccountRow):
    currency = serializers.CharField()
    start = serializers.DateField(help_text="The close measured from.")
    end = serializers.DateField(help_text="The last close measured.")
    twr = DecimalStringField(help_text="Time-weighted return net of fees over the period (fraction, 10 places).")


class SymbolQueryRowSerializer(_AccountRow):
    held_at_start = DecimalStringField(help_text="The quantity held at the start of the period.")
    transactions = serializers.IntegerField(help_text="Transactions in the security during the period.")
    held_at_end = DecimalStringField(help_text="The quantity held at the end of the period.")


class ActivityQueryRowSerializer(_AccountRow):
    trades = serializers.IntegerField()
    dividends = serializers.IntegerField()
    position_transfers = serializers.IntegerField()
    total = serializers.IntegerField()


class RmdQueryRowSerializer(serializers.Serializer[Any]):
    contact_id = serializers.IntegerField(help_text="The owner's contact id.")
    client = serializers.CharField()
    date_of_birth = serializers.DateField()
    age = serializers.IntegerField(help_text="Age attained in the tax year.")
    id = serializers.IntegerField(help_text="The account's id.")
    number = serializers.CharField()
    account_type = serializers.CharField()
    currency = serializers.CharField()
    balance = DecimalStringField(help_text="Value at the close of December 31 of the year before.")
    distribution_period = DecimalStringField()
    rmd = DecimalStringField(help_text="The required minimum distribution, to the cent.")
    withdrawn = DecimalStringField(help_text="Withdrawn from the account in the tax year so far.")
    remaining = DecimalStringField(help_text="RMD less withdrawn, not below zero.")
    deadline = serializers.DateField(help_text="April 1 of the next year for the first RMD year, else December 31.")


class AccountQueryRowSerializer(_AccountRow):
    account_type = serializers.CharField()
    status = serializers.CharField()
    margin_type = serializers.CharField()
    permissions = serializers.CharField()
    currency = serializers.CharField()
    opened = serializers.DateField()
    household = serializers.CharField()
    value = DecimalStringField(allow_null=True)
    value_date = serializers.DateField(allow_null=True)


class PerformanceQueryAnswerSerializer(QueryAnswerSerializer):
    results = PerformanceQueryRowSerializer(many=True)


class SymbolQueryAnswerSerializer(QueryAnswerSerializer):
    results = SymbolQueryRowSerializer(many=True)


class ActivityQueryAnswerSerializer(QueryAnswerSerializer):
    results = ActivityQueryRowSerializer(many=True)


class RmdQueryAnswerSerializer(QueryAnswerSerializer):
    results = RmdQueryRowSerializer(many=True)


class AccountQueryAnswerSerializer(QueryAnswerSerializer):
    results = AccountQueryRowSerializer(many=True)
