"""The fee of a schedule on given values: the one calculation behind the fee calculator (API and
page) and, next, every fee line of a fee run. Pure: no database, Decimal in and out.

The rules (issue #18, point 7) are ``RULES`` below: the calculator page shows them, and the API
schema and docs/billing.md say the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from advisorportal import formats

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)

TIERED, BREAKPOINT, FLAT = "tiered", "breakpoint", "flat"
METHODS = {
    TIERED: "Tiered: each band's rate on the part of the value inside it",
    BREAKPOINT: "Breakpoint: one rate, chosen by the band the whole value falls in, on the whole value",
    FLAT: "Flat: a fixed annual fee, whatever the value",
}
FREQUENCIES = {"annual": 1, "semiannual": 2, "quarterly": 4, "monthly": 12}
FREQUENCY_LABELS = {"annual": "Annual", "semiannual": "Semi-annual", "quarterly": "Quarterly", "monthly": "Monthly"}
# The longest period of each frequency, in days: a longer one is a mistake, not a period.
LONGEST_PERIOD = {"annual": 366, "semiannual": 184, "quarterly": 92, "monthly": 31}
PRORATIONS = ("actual/actual", "actual/365", "period_fraction")


RULES: tuple[tuple[str, str], ...] = (
    ("Bands", "A band covers the values from the previous band's upper bound (0 for the first) up to, but not "
     "including, its own: a value equal to a band's upper bound falls in the next band. Bands rise without "
     "overlapping, and the last has no upper bound."),
    ("Tiered", "Each band's rate on the part of the value inside it (marginal)."),
    ("Breakpoint", "One rate, the rate of the band the whole value falls in, on the whole value."),
    ("Flat", "The flat annual fee, whatever the value."),
    ("Minimum and maximum", "They apply to the annual fee of each billing unit (the household when householding, "
     "else each account), the minimum first. A unit without value pays no percent fee and no minimum; a flat fee "
     "is owed whatever the value."),
    ("Householding", "The accounts' combined value sets the bands, and the fee is shared pro rata by value "
     "(equally when they have no value)."),
    ("The period", "Without proration the period fee is the annual fee ÷ the frequency (12, 4, 2 or 1). With it, "
     "the billed days run from the first to the last billed day, both included (by default the whole period): "
     "actual/365 is the annual fee × billed days ÷ 365; actual/actual × the billed days of each calendar year ÷ "
     "that year's days; period fraction ÷ the frequency × billed days ÷ the period's days."),
    ("Rounding", "Every amount is rounded once to the cent, half up, from the unrounded figure (the period fee "
     "from the unrounded annual fee). Shares are rounded by largest remainder, so the accounts' fees add up to "
     "the total exactly. The blended rate is the annual fee ÷ the value × 100, to 4 decimals. A band's line "
     "shows its share before any minimum or maximum."),
)  # fmt: skip


@dataclass(frozen=True)
class Band:
    up_to: Decimal | None  # None: the last band, open-ended
    annual_rate_pct: Decimal


@dataclass(frozen=True)
class Schedule:
    method: str
    bands: tuple[Band, ...] = ()
    flat_annual_fee: Decimal | None = None
    minimum_annual_fee: Decimal | None = None
    maximum_annual_fee: Decimal | None = None


@dataclass(frozen=True)
class Period:
    frequency: str = "quarterly"
    start: date | None = None
    end: date | None = None
    billable_from: date | None = None
    billable_to: date | None = None
    proration: str | None = None


@dataclass(frozen=True)
class Line:
    start: Decimal  # "from"
    end: Decimal | None  # "to"; None for the open-ended band
    annual_rate_pct: Decimal
    base: Decimal
    annual_fee: Decimal  # rounded to the cent


@dataclass(frozen=True)
class AccountFee:
    ref: str
    value: Decimal
    annual_fee: Decimal
    period_fee: Decimal


@dataclass(frozen=True)
class Result:
    annual_fee: Decimal
    period_fee: Decimal
    blended_rate_pct: Decimal | None  # None when there is no value to divide by
    accounts: tuple[AccountFee, ...]
    lines: tuple[Line, ...]
    steps: tuple[str, ...]  # the explanation, one sentence a step

    @property
    def explanation(self) -> str:
        return " ".join(self.steps)


class FeeInputError(ValueError):
    """Input the calculation cannot take: ``errors`` maps a field path (``schedule.tiers[1].up_to``)
    to what is wrong, in words."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- Checks --------------------------------------------------------------------------------------


def check_schedule(schedule: Schedule) -> None:
    """Refuse unordered, overlapping or gapped bands and fee fields that do not fit the method."""
    errors: dict[str, str] = {}
    if schedule.method not in METHODS:
        errors["schedule.method"] = f"Unknown method {schedule.method!r}: use tiered, breakpoint or flat."
        raise FeeInputError(errors)
    if schedule.method == FLAT:
        if schedule.flat_annual_fee is None:
            errors["schedule.flat_annual_fee"] = "A flat schedule needs its annual fee."
        if schedule.bands:
            errors["schedule.tiers"] = "A flat schedule has no bands; leave them out."
    else:
        if schedule.flat_annual_fee is not None:
            errors["schedule.flat_annual_fee"] = f"A {schedule.method} schedule has no flat fee; use method flat."
        if not schedule.bands:
            errors["schedule.tiers"] = f"A {schedule.method} schedule needs at least one band."
        previous = ZERO
        for index, band in enumerate(schedule.bands):
            where = f"schedule.tiers[{index}]"
            last = index == len(schedule.bands) - 1
            if band.up_to is None and not last:
                errors[f"{where}.up_to"] = "Only the last band is open-ended (up_to null)."
            elif band.up_to is not None and last:
                errors[f"{where}.up_to"] = (
                    f"The last band must be open-ended (up_to null): values from {formats.amount(band.up_to)} "
                    "would have no rate."
                )
            elif band.up_to is not None and band.up_to <= previous:
                errors[f"{where}.up_to"] = (
                    f"Bands must rise: {formats.amount(band.up_to)} is not above the band before it "
                    f"({formats.amount(previous)}); bands may not overlap."
                )
            if band.up_to is not None:
                previous = max(previous, band.up_to)
            if not ZERO <= band.annual_rate_pct <= HUNDRED:
                errors[f"{where}.annual_rate_pct"] = "The rate is a percentage from 0 to 100."
    for name in ("flat_annual_fee", "minimum_annual_fee", "maximum_annual_fee"):
        value = getattr(schedule, name)
        if value is not None and value < 0:
            errors[f"schedule.{name}"] = "A fee cannot be negative."
    low, high = schedule.minimum_annual_fee, schedule.maximum_annual_fee
    if low is not None and high is not None and low > high:
        errors["schedule.maximum_annual_fee"] = "The maximum fee is below the minimum fee."
    if errors:
        raise FeeInputError(errors)


def check_period(period: Period) -> None:
    errors: dict[str, str] = {}
    if period.frequency not in FREQUENCIES:
        raise FeeInputError({"frequency": "Use annual, semiannual, quarterly or monthly."})
    if period.proration is not None and period.proration not in PRORATIONS:
        raise FeeInputError({"proration": "Use actual/actual, actual/365 or period_fraction."})
    start, end = period.start, period.end
    if (start is None) != (end is None):
        errors["period_end" if end is None else "period_start"] = "Give both the period's start and its end."
    elif start is not None and end is not None:
        if end < start:
            errors["period_end"] = "The period ends before it starts."
        elif (end - start).days + 1 > LONGEST_PERIOD[period.frequency]:
            errors["period_end"] = (
                f"A {FREQUENCY_LABELS[period.frequency].lower()} period lasts at most "
                f"{LONGEST_PERIOD[period.frequency]} days."
            )
    partial = period.billable_from is not None or period.billable_to is not None
    if period.proration is None and partial:
        errors["proration"] = "Choose a proration method to bill part of the period."
    if period.proration is not None and start is None and "period_start" not in errors:
        errors["period_start"] = "Prorating needs the period's start and end."
    if start is not None and end is not None and not errors:
        billable_from, billable_to = period.billable_from or start, period.billable_to or end
        if not start <= billable_from <= end:
            errors["billable_from"] = "The billed days start inside the period."
        if not start <= billable_to <= end:
            errors["billable_to"] = "The billed days end inside the period."
        if not errors and billable_to < billable_from:
            errors["billable_to"] = "The billed days end before they start."
    if errors:
        raise FeeInputError(errors)


def check_accounts(accounts: Sequence[tuple[str, Decimal]]) -> None:
    errors: dict[str, str] = {}
    if not accounts:
        errors["accounts"] = "Give at least one account and its value."
    seen: set[str] = set()
    for index, (ref, value) in enumerate(accounts):
        if not ref.strip():
            errors[f"accounts[{index}].ref"] = "Name the account (any reference)."
        elif ref in seen:
            errors[f"accounts[{index}].ref"] = f"{ref} is given twice."
        seen.add(ref)
        if value < 0:
            errors[f"accounts[{index}].value"] = "A value cannot be negative."
    if errors:
        raise FeeInputError(errors)


# --- The calculation -----------------------------------------------------------------------------


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _lines(schedule: Schedule, value: Decimal) -> list[tuple[Decimal, Decimal | None, Decimal, Decimal]]:
    """(from, to, rate %, base) per band for one unit's value."""
    rows = []
    start = ZERO
    for band in schedule.bands:
        end = band.up_to
        if schedule.method == TIERED:
            top = value if end is None else min(value, end)
            base = max(ZERO, top - start)
        else:  # breakpoint: the whole value in the one band it falls in
            base = value if value > 0 and start <= value and (end is None or value < end) else ZERO
        rows.append((start, end, band.annual_rate_pct, base))
        start = end if end is not None else start
    return rows


@dataclass
class _Unit:
    """One billing unit: a household (householding) or one account."""

    refs: list[str]
    values: list[Decimal]
    value: Decimal = ZERO
    bands: list[tuple[Decimal, Decimal | None, Decimal, Decimal]] = field(default_factory=list)
    annual: Decimal = ZERO  # unrounded, after the minimum and maximum
    limit_note: str = ""


def _unit_fee(schedule: Schedule, unit: _Unit) -> None:
    unit.value = sum(unit.values, ZERO)
    if schedule.method == FLAT:
        assert schedule.flat_annual_fee is not None
        fee = schedule.flat_annual_fee
    else:
        unit.bands = _lines(schedule, unit.value)
        fee = sum((base * rate / HUNDRED for _, _, rate, base in unit.bands), ZERO)
    billed = unit.value > 0 or schedule.method == FLAT
    low, high = schedule.minimum_annual_fee, schedule.maximum_annual_fee
    if billed and low is not None and fee < low:
        unit.limit_note = f"{formats.amount(fee)} raised to the minimum annual fee of {formats.amount(low)}"
        fee = low
    if high is not None and fee > high:
        unit.limit_note = f"{formats.amount(fee)} lowered to the maximum annual fee of {formats.amount(high)}"
        fee = high
    if not billed and low is not None:
        unit.limit_note = "without value, no minimum fee"
    unit.annual = fee


def period_factor(period: Period) -> tuple[Decimal, str]:
    """What the annual fee is multiplied by for the period's fee, and how, in words."""
    per_year = FREQUENCIES[period.frequency]
    label = FREQUENCY_LABELS[period.frequency]
    if period.proration is None:
        return Decimal(1) / per_year, f"{label}: the annual fee ÷ {per_year}"
    assert period.start is not None and period.end is not None
    first, last = period.billable_from or period.start, period.billable_to or period.end
    billed = (last - first).days + 1
    days = (period.end - period.start).days + 1
    span = f"{billed} of the period's {days} days ({formats.day(first)} to {formats.day(last)}, both billed)"
    if period.proration == "actual/365":
        return Decimal(billed) / 365, f"{label}, actual/365: {span}; the annual fee × {billed} ÷ 365"
    if period.proration == "period_fraction":
        return (
            Decimal(billed) / (per_year * days),
            f"{label}, period fraction: {span}; the annual fee ÷ {per_year} × {billed} ÷ {days}",
        )
    factor, parts, cursor = ZERO, [], first
    while cursor <= last:
        year_end = date(cursor.year, 12, 31)
        chunk_end = min(year_end, last)
        in_year = (chunk_end - cursor).days + 1
        year_days = 366 if _leap(cursor.year) else 365
        factor += Decimal(in_year) / year_days
        parts.append(f"{in_year} ÷ {year_days}")
        cursor = chunk_end + timedelta(days=1)
    return factor, f"{label}, actual/actual: {span}; the annual fee × ({' + '.join(parts)})"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``total`` (in cents) split pro rata by ``weights`` (equally when they are all zero), each
    share to the cent by largest remainder, so the shares add up to ``total`` exactly."""
    if not weights:
        return []
    weight_sum = sum(weights, ZERO)
    shares = [total * w / weight_sum for w in weights] if weight_sum > 0 else [total / len(weights)] * len(weights)
    floors = [s.quantize(CENT, ROUND_FLOOR) for s in shares]
    left = int((total - sum(floors, ZERO)) / CENT)
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += CENT
    return floors


def calculate(
    schedule: Schedule, accounts: Sequence[tuple[str, Decimal]], *, householding: bool, period: Period
) -> Result:
    """The fee of ``schedule`` on ``accounts`` ((ref, value) pairs) for ``period``; checks its input
    first (``FeeInputError`` naming the field)."""
    check_schedule(schedule)
    check_accounts(accounts)
    check_period(period)
    factor, period_words = period_factor(period)
    if householding:
        units = [_Unit([ref for ref, _ in accounts], [value for _, value in accounts])]
    else:
        units = [_Unit([ref], [value]) for ref, value in accounts]
    fees: list[AccountFee] = []
    for unit in units:
        _unit_fee(schedule, unit)
        annual, period_fee = cents(unit.annual), cents(unit.annual * factor)
        for ref, value, annual_share, period_share in zip(
            unit.refs, unit.values, allocate(annual, unit.values), allocate(period_fee, unit.values), strict=True
        ):
            fees.append(AccountFee(ref, value, annual_share, period_share))
    lines = _summed_lines(schedule, units)
    total_value = sum((value for _, value in accounts), ZERO)
    annual_total = sum((f.annual_fee for f in fees), ZERO)
    period_total = sum((f.period_fee for f in fees), ZERO)
    blended = (annual_total / total_value * HUNDRED).quantize(Decimal("0.0001"), ROUND_HALF_UP) if total_value else None
    steps = _explain(schedule, units, fees, householding, period_words, annual_total, period_total, blended)
    return Result(annual_total, period_total, blended, tuple(fees), lines, steps)


def _summed_lines(schedule: Schedule, units: list[_Unit]) -> tuple[Line, ...]:
    """Band by band over every unit: the bases and fees of all units in that band."""
    if schedule.method == FLAT:
        return ()
    totals: list[tuple[Decimal, Decimal | None, Decimal, Decimal]] = []
    for unit in units:
        if not totals:
            totals = list(unit.bands)
            continue
        totals = [(s, e, r, base + other[3]) for (s, e, r, base), other in zip(totals, unit.bands, strict=True)]
    return tuple(Line(s, e, r, base, cents(base * r / HUNDRED)) for s, e, r, base in totals)


def _band_words(start: Decimal, end: Decimal | None) -> str:
    return f"from {formats.amount(start)}" + (f" to under {formats.amount(end)}" if end is not None else " up")


def _explain(
    schedule: Schedule,
    units: list[_Unit],
    fees: list[AccountFee],
    householding: bool,
    period_words: str,
    annual_total: Decimal,
    period_total: Decimal,
    blended: Decimal | None,
) -> tuple[str, ...]:
    out = [f"{METHODS[schedule.method]}."]
    if householding and len(fees) > 1:
        out.append(
            f"Householding: the {len(fees)} accounts' combined value of {formats.amount(units[0].value)} sets the "
            "bands, and the fee is shared pro rata by value."
        )
    for unit in units:
        who = "Together" if householding and len(fees) > 1 else unit.refs[0]
        if schedule.method == FLAT:
            assert schedule.flat_annual_fee is not None
            text = f"{who}: flat annual fee {formats.amount(schedule.flat_annual_fee)}"
        else:
            used = [
                f"{formats.amount(base)} {_band_words(s, e)} at {formats.quantity(r)} % = "
                f"{formats.amount(base * r / HUNDRED)}"
                for s, e, r, base in unit.bands
                if base > 0
            ]
            text = f"{who}: value {formats.amount(unit.value)}; " + ("; ".join(used) if used else "no value, no fee")
        if unit.limit_note:
            text += f"; {unit.limit_note}"
        out.append(text + f"; annual fee {formats.amount(unit.annual)}.")
    out.append(f"{period_words}.")
    if householding and len(fees) > 1:
        out.append(
            "Shares: "
            + "; ".join(
                f"{f.ref} {formats.amount(f.annual_fee)} a year, {formats.amount(f.period_fee)} this period"
                for f in fees
            )
            + "."
        )
    rate = f" (a blended {blended} % of the value)" if blended is not None else ""
    out.append(
        f"Total: annual fee {formats.amount(annual_total)}{rate}; period fee {formats.amount(period_total)}. "
        "Amounts are rounded to the cent, half up."
    )
    return tuple(out)
