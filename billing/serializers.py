"""The fee calculator's body and answer (issue #18, point 7: the shapes are a contract)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from advisorportal.serializers import StrictSerializer
from billing import fees
from billing.models import (
    FeeAssignment,
    FeeLine,
    FeeRun,
    FeeSchedule,
    FeeScheduleVersion,
    Frequency,
    Method,
    PeriodBasis,
    Proration,
    Timing,
    Valuation,
)

MAX_ACCOUNTS = 1000
MAX_BANDS = 50


def _amount(**options: Any) -> serializers.DecimalField:
    """A value or a fee: a decimal string up to 999 trillion, to the cent."""
    return serializers.DecimalField(max_digits=17, decimal_places=2, **options)


RULES = """\
A band covers the values from the previous band's `up_to` (0 for the first) up to, but not
including, its own `up_to`: a value equal to `up_to` falls in the next band. Bands rise, do not
overlap, and the last is open-ended (`up_to` null). `tiered` applies each band's rate to the part
of the value inside it; `breakpoint` applies the rate of the band the whole value falls in to the
whole value; `flat` bills `flat_annual_fee` (no bands). The minimum and maximum annual fees apply
to each billing unit: the combined accounts when `householding` is true (the fee is then shared
pro rata by value), else each account; a unit without value pays no percent fee and no minimum.
Without `proration` the period fee is the annual fee ÷ the frequency (12, 4, 2, 1). With it
(`period_start` and `period_end` needed; `billable_from` and `billable_to` inclusive, by default
the whole period): `actual/365` = annual × billed days ÷ 365; `actual/actual` = annual × the
billed days of each calendar year ÷ that year's days; `period_fraction` = annual ÷ frequency ×
billed days ÷ the period's days. Every amount is rounded once to the cent, half up, from the
unrounded figure; shares by largest remainder so the accounts add up to the total exactly;
`blended_rate_pct` = annual fee ÷ total value × 100 to 4 decimals (null without value). A line's
`annual_fee` is its band's share before any minimum or maximum. Nothing is stored."""


SCHEDULE_METHODS = tuple(fees.METHODS)  # named for the schema (FeeScheduleMethodEnum)


class BandSerializer(serializers.Serializer):
    up_to = _amount(
        allow_null=True, min_value=Decimal("0.01"),
        help_text="The band covers values below this (decimal string); null for the last, open-ended band.",
    )  # fmt: skip
    annual_rate_pct = serializers.DecimalField(
        max_digits=10,
        decimal_places=6,
        min_value=Decimal(0),
        max_value=Decimal(100),
        help_text='Annual rate in percent, e.g. "1.00".',
    )


class ScheduleSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=SCHEDULE_METHODS)
    tiers = BandSerializer(many=True, required=False, max_length=MAX_BANDS, default=list)  # type: ignore[call-arg]
    flat_annual_fee = _amount(required=False, allow_null=True, default=None)
    minimum_annual_fee = _amount(required=False, allow_null=True, default=None)
    maximum_annual_fee = _amount(required=False, allow_null=True, default=None)


class AccountValueSerializer(serializers.Serializer):
    ref = serializers.CharField(max_length=100, help_text="Any reference of yours; echoed in the answer.")
    value = _amount(min_value=Decimal(0))


class FeeCalculatorSerializer(serializers.Serializer):
    schedule = ScheduleSerializer()
    accounts = AccountValueSerializer(many=True, min_length=1, max_length=MAX_ACCOUNTS)  # type: ignore[call-arg]
    householding = serializers.BooleanField(
        help_text="True: bands on the combined value, the fee shared pro rata; false: each account on its own."
    )
    frequency = serializers.ChoiceField(choices=list(fees.FREQUENCIES))
    period_start = serializers.DateField(required=False, allow_null=True, default=None)
    period_end = serializers.DateField(required=False, allow_null=True, default=None)
    billable_from = serializers.DateField(required=False, allow_null=True, default=None, help_text="Inclusive.")
    billable_to = serializers.DateField(required=False, allow_null=True, default=None, help_text="Inclusive.")
    proration = serializers.ChoiceField(choices=list(fees.PRORATIONS), required=False, allow_null=True, default=None)

    def calculate(self) -> fees.Result:
        """The fee of the validated body (``fees.FeeInputError`` naming the field for what the
        shapes alone cannot say: unordered bands, a minimum above the maximum, dates out of the period)."""
        data = self.validated_data
        schedule = data["schedule"]
        return fees.calculate(
            fees.Schedule(
                method=schedule["method"],
                bands=tuple(fees.Band(b["up_to"], b["annual_rate_pct"]) for b in schedule["tiers"]),
                flat_annual_fee=schedule["flat_annual_fee"],
                minimum_annual_fee=schedule["minimum_annual_fee"],
                maximum_annual_fee=schedule["maximum_annual_fee"],
            ),
            [(a["ref"], a["value"]) for a in data["accounts"]],
            householding=data["householding"],
            period=fees.Period(
                frequency=data["frequency"], start=data["period_start"], end=data["period_end"],
                billable_from=data["billable_from"], billable_to=data["billable_to"], proration=data["proration"],
            ),
        )  # fmt: skip


def calculate_body(data: object) -> fees.Result:
    """The fee of a calculator body (the API's and the page's); ``fees.FeeInputError`` names each
    field by its path (``schedule.tiers[1].up_to``), for the shapes as for the rules."""
    body = FeeCalculatorSerializer(data=data)
    if not body.is_valid():
        raise fees.FeeInputError({path: " ".join(messages) for path, messages in flat_errors(body.errors).items()})
    return body.calculate()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.quantize(fees.CENT):f}"


def _rate(value: Decimal) -> str:
    """A rate as given, with at least two decimals: 1 → "1.00", 0.125000 → "0.125"."""
    value = value.normalize()
    return f"{value.quantize(fees.CENT) if value.as_tuple().exponent > -2 else value:f}"  # type: ignore[operator]


def result_data(result: fees.Result) -> dict[str, Any]:
    return {
        "annual_fee": _money(result.annual_fee),
        "period_fee": _money(result.period_fee),
        "blended_rate_pct": None if result.blended_rate_pct is None else f"{result.blended_rate_pct:f}",
        "accounts": [
            {"ref": a.ref, "annual_fee": _money(a.annual_fee), "period_fee": _money(a.period_fee)}
            for a in result.accounts
        ],
        "lines": [
            {
                "from": _money(line.start),
                "to": _money(line.end),
                "annual_rate_pct": _rate(line.annual_rate_pct),
                "base": _money(line.base),
                "annual_fee": _money(line.annual_fee),
            }
            for line in result.lines
        ],
        "explanation": result.explanation,
    }


def flat_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as one level: ``{"schedule.tiers[1].up_to": [...]}``; a list's own error
    (too long, not a list) under the list's name."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                name = prefix or key
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for path, messages in flat_errors(value, name).items():
                out.setdefault(path, []).extend(messages)
    elif isinstance(detail, list) and any(isinstance(d, dict | list) for d in detail):
        for index, value in enumerate(detail):
            out.update(flat_errors(value, f"{prefix}[{index}]"))
    elif isinstance(detail, list):
        out[prefix or "non_field_errors"] = [str(d) for d in detail]
    elif detail:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


# The answer, for the schema only (the view builds it with ``result_data``).
class FeeAccountResultSerializer(serializers.Serializer):
    ref = serializers.CharField()
    annual_fee = serializers.CharField(help_text="Decimal string, to the cent.")
    period_fee = serializers.CharField(help_text="Decimal string, to the cent.")


FeeLineSerializer = type(
    "FeeLineSerializer",
    (serializers.Serializer,),
    {
        "from": serializers.CharField(help_text="The band's lower bound (inclusive)."),
        "to": serializers.CharField(allow_null=True, help_text="The band's upper bound (exclusive); null: open-ended."),
        "annual_rate_pct": serializers.CharField(),
        "base": serializers.CharField(help_text="The part of the value this band's rate applies to."),
        "annual_fee": serializers.CharField(help_text="base × rate, to the cent, before any minimum or maximum."),
    },
)


class FeeCalculatorResultSerializer(serializers.Serializer):
    annual_fee = serializers.CharField()
    period_fee = serializers.CharField()
    blended_rate_pct = serializers.CharField(allow_null=True)
    accounts = FeeAccountResultSerializer(many=True)
    lines = FeeLineSerializer(many=True)
    explanation = serializers.CharField()


# --- Schedules, assignments and runs --------------------------------------------------------------


class TierSerializer(serializers.Serializer[Any]):
    up_to = serializers.CharField(allow_null=True, max_length=30, help_text="Decimal string; null for the last band")
    annual_rate_pct = serializers.CharField(max_length=12, help_text="Decimal string, 0 to 100")


class VersionBodySerializer(StrictSerializer):
    """New terms of a schedule from ``effective_from``."""

    effective_from = serializers.DateField()
    method = serializers.ChoiceField(choices=Method.choices)
    tiers = TierSerializer(many=True, required=False, default=list)
    flat_annual_fee = serializers.DecimalField(max_digits=17, decimal_places=2, allow_null=True, required=False,
                                               coerce_to_string=True)  # fmt: skip
    minimum_annual_fee = serializers.DecimalField(max_digits=17, decimal_places=2, allow_null=True, required=False)
    maximum_annual_fee = serializers.DecimalField(max_digits=17, decimal_places=2, allow_null=True, required=False)
    frequency = serializers.ChoiceField(choices=Frequency.choices, default=Frequency.QUARTERLY)
    timing = serializers.ChoiceField(choices=Timing.choices, default=Timing.ARREARS)
    valuation = serializers.ChoiceField(choices=Valuation.choices, default=Valuation.AVERAGE_DAILY)
    period_basis = serializers.ChoiceField(choices=PeriodBasis.choices, default=PeriodBasis.FREQUENCY)
    proration = serializers.ChoiceField(choices=Proration.choices, default=Proration.ACTUAL_365)
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class ScheduleBodySerializer(VersionBodySerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)
    is_default = serializers.BooleanField(required=False, default=False)


class VersionSerializer(serializers.ModelSerializer[FeeScheduleVersion]):
    class Meta:
        model = FeeScheduleVersion
        fields = ["id", "effective_from", "method", "tiers", "flat_annual_fee", "minimum_annual_fee",
                  "maximum_annual_fee", "frequency", "timing", "valuation", "period_basis", "proration", "note",
                  "exclusions", "flow_threshold_amount", "flow_threshold_pct", "created_at"]  # fmt: skip
        extra_kwargs = {"exclusions": {"help_text": "What the version leaves out of the billed value (securities, "
                                       "asset classes, cash, part of a position); change it at "
                                       "/billing/versions/{id}/exclusions/."}}  # fmt: skip


class FeeScheduleSerializer(serializers.ModelSerializer[FeeSchedule]):
    versions = VersionSerializer(many=True, read_only=True)

    class Meta:
        model = FeeSchedule
        fields = ["id", "name", "description", "is_default", "versions", "created_at"]


class AssignBodySerializer(StrictSerializer):
    """Put a schedule on accounts (by number) or households (by id), replacing what they had."""

    schedule = serializers.IntegerField(allow_null=True, help_text="The schedule's id; null with excluded")
    accounts = serializers.ListField(child=serializers.CharField(max_length=32), required=False, default=list,
                                     max_length=20_000)  # fmt: skip
    households = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                       max_length=5_000)  # fmt: skip
    householding = serializers.BooleanField(required=False, default=True)
    payer = serializers.CharField(max_length=32, required=False, allow_null=True, default=None,
                                  help_text="Account number paying for one household's accounts")  # fmt: skip
    excluded = serializers.BooleanField(required=False, default=False)
    fee_cap_pct = serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        min_value=Decimal(0),
        max_value=Decimal(100),
        required=False,
        allow_null=True,
        default=None,
    )


class AssignmentSerializer(serializers.ModelSerializer[FeeAssignment]):
    account: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="number", read_only=True)

    class Meta:
        model = FeeAssignment
        fields = ["id", "schedule", "account", "household", "householding", "payer", "excluded", "fee_cap_pct",
                  "updated_at"]  # fmt: skip


class RunBodySerializer(StrictSerializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    accounts = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        default=list,
        max_length=20_000,
        help_text="Account numbers; empty: every open account",
    )


class RunSerializer(serializers.ModelSerializer[FeeRun]):
    reference = serializers.CharField(read_only=True)
    job_status = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = FeeRun
        fields = ["id", "reference", "period_start", "period_end", "account_numbers", "note", "status",
                  "job_status", "progress", "computed_at", "line_count", "total_fee", "total_to_post", "audit",
                  "prepared_by", "approved_by", "approved_at", "posted_by", "posted_at", "created_at"]  # fmt: skip

    def get_job_status(self, run: FeeRun) -> str | None:
        return run.job.status if run.job else None

    def get_progress(self, run: FeeRun) -> int | None:
        return run.job.percent if run.job else None


class LineSerializer(serializers.ModelSerializer[FeeLine]):
    account: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="number", read_only=True)
    payer: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="number",
        read_only=True,
        allow_null=True,
        help_text="The account debited for this one's fee, if another",
    )
    schedule = serializers.SerializerMethodField()

    class Meta:
        model = FeeLine
        fields = ["id", "account", "payer", "household", "schedule", "version", "status", "currency", "value",
                  "billable_from", "billable_to", "annual_fee", "period_fee", "previously_billed", "to_post",
                  "posted_amount", "transfer", "explanation", "details"]  # fmt: skip

    def get_schedule(self, line: FeeLine) -> str | None:
        return line.version.schedule.name if line.version else None
