"""Stateless return and distribution calculators (issue #19): XIRR, XNPV, IRR, the returns of a
held-away account (TWR, MWR, Modified Dietz) and required minimum distributions.

Pure: no Django, no database. Amounts and rates come in and go out as ``Decimal``. The rate
solvers find a root in binary floating point (Newton's method from 10 %, and if that fails
Brent's method on the first sign change found scanning outwards from there), then refine it with
two Newton steps in 28-digit decimal arithmetic; rates are answered to ``RATE_DIGITS`` significant
digits. Conventions, rounding and the cases without an answer are in docs/reports.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, DecimalException, localcontext

from reports import rmd_tables

RATE_DIGITS = 12  # significant digits of every rate answered
VALUE_PLACES = Decimal("0.000001")  # XNPV values: six decimal places, half up
CENT = Decimal("0.01")
DAYS_PER_YEAR = 365
MAX_FLOWS = 10_000

Cashflow = tuple[date, Decimal]


class CalculationError(ValueError):
    """Input a calculator cannot answer, with the input ``field`` it is about and a message a
    person can act on."""

    def __init__(self, message: str, *, field: str = "cashflows") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- Rates ------------------------------------------------------------------------------------------


def significant(value: Decimal, digits: int = RATE_DIGITS) -> Decimal:
    """``value`` rounded half up to ``digits`` significant digits (zero keeps ``digits`` places)."""
    if value == 0:
        return Decimal(0).quantize(Decimal(1).scaleb(-digits))
    exponent = value.adjusted() - digits + 1
    return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)


def _scaled(times: Sequence[float], amounts: Sequence[float]) -> Callable[[float], float]:
    """g(x) = sum a_i e^(-t_i x) e^(-m(x)) with x = ln(1 + r): the same sign and roots as the NPV at
    rate r, finite for every x (m is the largest exponent), continuous in x."""

    def g(x: float) -> float:
        exponents = [-t * x for t in times]
        top = max(exponents)
        return math.fsum(a * math.exp(e - top) for a, e in zip(amounts, exponents, strict=True))

    return g


def _newton(times: Sequence[float], amounts: Sequence[float], guess: float) -> float | None:
    rate = guess
    scale = math.fsum(abs(a) for a in amounts)
    for _ in range(100):
        try:
            log = math.log1p(rate)
            discounted = [a * math.exp(-t * log) for a, t in zip(amounts, times, strict=True)]
        except (OverflowError, ValueError):
            return None
        value = math.fsum(discounted)
        slope = math.fsum(-t * d for d, t in zip(discounted, times, strict=True)) / (1 + rate)
        if slope == 0 or not math.isfinite(slope):
            return None
        step = value / slope
        following = rate - step
        if following <= -1:
            following = (rate - 1) / 2  # halfway to -100 %: stay where the NPV is defined
        if abs(following - rate) <= 1e-13 * max(1.0, abs(rate)):
            size = math.fsum(abs(d) for d in discounted) or scale
            return following if abs(value) <= 1e-9 * size else None
        rate = following
    return None


def _brent(g: Callable[[float], float], a: float, b: float, fa: float, fb: float) -> float:
    """Brent's method on a bracket [a, b] with g(a), g(b) of opposite signs."""
    c, fc, d = a, fa, b - a
    e = d
    for _ in range(200):
        if fb * fc > 0:
            c, fc, d = a, fa, b - a
            e = d
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tolerance = 2e-16 * abs(b) + 1e-15
        middle = (c - b) / 2
        if abs(middle) <= tolerance or fb == 0:
            return b
        if abs(e) >= tolerance and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p, q = 2 * middle * s, 1 - s
            else:
                q, r = fa / fc, fb / fc
                p = s * (2 * middle * q * (q - r) - (b - a) * (r - 1))
                q = (q - 1) * (r - 1) * (s - 1)
            if p > 0:
                q = -q
            p = abs(p)
            if 2 * p < min(3 * middle * q - abs(tolerance * q), abs(e * q)):
                e, d = d, p / q
            else:
                d = e = middle
        else:
            d = e = middle
        a, fa = b, fb
        b += d if abs(d) > tolerance else math.copysign(tolerance, middle)
        fb = g(b)
    return b


def _bracketed(times: Sequence[float], amounts: Sequence[float], guess: float) -> float | None:
    """x = ln(1 + r) of the root nearest ``guess``, found by scanning outwards for a sign change
    (|x| up to 10,000: rates from about -100 % to far beyond a float's range); None when the NPV
    keeps one sign there."""
    g = _scaled(times, amounts)
    centre = math.log1p(guess)
    steps = [0.0]
    width = 0.01
    while width < 10_000:
        steps.append(width)
        width *= 1.25
    sides = []
    for direction in (1.0, -1.0):
        previous_x, previous_g = centre, g(centre)
        if previous_g == 0:
            return centre
        for step in steps[1:]:
            x = centre + direction * step
            value = g(x)
            if value == 0:
                sides.append((step, x, x, value, value))
                break
            if (value > 0) != (previous_g > 0):
                sides.append((step, previous_x, x, previous_g, value))
                break
            previous_x, previous_g = x, value
    if not sides:
        return None
    _, a, b, fa, fb = min(sides)
    return a if fa == 0 else b if fb == 0 else _brent(g, a, b, fa, fb)


def _polish(log_rate: float, times: Sequence[Decimal], amounts: Sequence[Decimal]) -> Decimal:
    """Two Newton steps in 28-digit decimals on x = ln(1 + r) from the binary root (kept if they
    do not help). Working on x keeps its digits where 1 + r is tiny or huge."""
    with localcontext() as context:
        context.prec = 28
        start = current = Decimal(repr(log_rate))
        try:
            for _ in range(2):
                discounted = [a * (-t * current).exp() for a, t in zip(amounts, times, strict=True)]
                value = sum(discounted, Decimal(0))
                slope = sum((-t * d for d, t in zip(discounted, times, strict=True)), Decimal(0))
                if slope == 0:
                    break
                following = current - value / slope
                if abs(following - current) > Decimal("0.001"):
                    break  # a step that large means the binary root was not close: keep it
                current = following
        except DecimalException:
            return start
        return current


def _solve(times_days: Sequence[int], amounts: Sequence[Decimal], *, per: int, what: str) -> Decimal:
    """x = ln(1 + r) of the rate r, unrounded (``rate_of`` gives r)."""
    if not any(a > 0 for a in amounts) or not any(a < 0 for a in amounts):
        raise CalculationError(f"{what} needs at least one positive and one negative cash flow.")
    float_times = [d / per for d in times_days]
    float_amounts = [float(a) for a in amounts]
    guess = 0.1
    rate = _newton(float_times, float_amounts, guess)
    log_rate = math.log1p(rate) if rate is not None else _bracketed(float_times, float_amounts, guess)
    if log_rate is None or not math.isfinite(log_rate):
        raise CalculationError(f"No rate makes the net present value of these cash flows zero: {what} has no solution.")
    decimal_times = [Decimal(d) / Decimal(per) for d in times_days]
    return _polish(log_rate, decimal_times, amounts)


def rate_of(log_rate: Decimal, years: Decimal = Decimal(1)) -> Decimal:
    """(1 + r)^years - 1 from x = ln(1 + r), unrounded."""
    with localcontext() as context:
        context.prec = 28
        return (log_rate * years).exp() - 1


def _check_cashflows(cashflows: Sequence[Cashflow]) -> None:
    if len(cashflows) < 2:
        raise CalculationError("Give at least 2 cash flows.")
    if len(cashflows) > MAX_FLOWS:
        raise CalculationError(f"Give at most {MAX_FLOWS:,} cash flows.")
    first = cashflows[0][0]
    for index, (day, _) in enumerate(cashflows):
        if day < first:
            raise CalculationError(
                f"Cash flow {index + 1} ({day.isoformat()}) is before the first cash flow ({first.isoformat()}): "
                "the first cash flow starts the calculation, so none may be earlier."
            )


def xirr(cashflows: Sequence[Cashflow]) -> Decimal:
    """The rate per year r with sum(amount_i / (1 + r)^((d_i - d_0) / 365)) = 0, d_0 the first
    cash flow's date (the spreadsheet XIRR; actual days over 365), to 12 significant digits."""
    return significant(rate_of(_xirr(cashflows)))


def _xirr(cashflows: Sequence[Cashflow]) -> Decimal:
    _check_cashflows(cashflows)
    first = cashflows[0][0]
    return _solve([(d - first).days for d, _ in cashflows], [a for _, a in cashflows], per=DAYS_PER_YEAR, what="XIRR")


def xnpv(rate: Decimal, cashflows: Sequence[Cashflow]) -> Decimal:
    """sum(amount_i / (1 + rate)^((d_i - d_0) / 365)) (the spreadsheet XNPV), to six decimal
    places, half up."""
    if rate <= -1:
        raise CalculationError("The rate must be more than -1 (-100 %).", field="rate")
    if not cashflows:
        raise CalculationError("Give at least 1 cash flow.")
    if len(cashflows) > MAX_FLOWS:
        raise CalculationError(f"Give at most {MAX_FLOWS:,} cash flows.")
    first = cashflows[0][0]
    if any(day < first for day, _ in cashflows):
        raise CalculationError(
            "No cash flow may be before the first one: the first cash flow's date starts the discounting."
        )
    with localcontext() as context:
        context.prec = 28
        try:
            log = (1 + rate).ln()
            total = sum(
                (a * (-(Decimal((d - first).days) / DAYS_PER_YEAR) * log).exp() for d, a in cashflows), Decimal(0)
            )
        except DecimalException:
            raise CalculationError(
                "The discount factors are too large to compute at this rate.", field="rate"
            ) from None
        return total.quantize(VALUE_PLACES, rounding=ROUND_HALF_UP)


def irr(amounts: Sequence[Decimal]) -> Decimal:
    """The rate per period r with sum(amount_k / (1 + r)^k) = 0 for equal periods k = 0, 1, …"""
    if len(amounts) < 2:
        raise CalculationError("Give at least 2 cash flows.")
    if len(amounts) > MAX_FLOWS:
        raise CalculationError(f"Give at most {MAX_FLOWS:,} cash flows.")
    return significant(rate_of(_solve(list(range(len(amounts))), list(amounts), per=1, what="IRR")))


# --- Returns of an account -------------------------------------------------------------------------


@dataclass
class Returns:
    twr: Decimal | None
    twr_annualized: Decimal | None
    mwr: Decimal | None
    mwr_annualized: Decimal | None
    modified_dietz: Decimal | None
    days: int
    explanation: str
    notes: list[str] = field(default_factory=list)


def annualized(rate: Decimal, days: int) -> Decimal:
    """(1 + rate)^(365 / days) - 1."""
    with localcontext() as context:
        context.prec = 28
        base = 1 + rate
        if base == 0:
            return Decimal(-1)
        return base ** (Decimal(DAYS_PER_YEAR) / Decimal(days)) - 1


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(CENT, rounding=ROUND_HALF_UP)} %"


def _check_series(valuations: Sequence[Cashflow], flows: Sequence[Cashflow]) -> None:
    if len(valuations) < 2:
        raise CalculationError("Give at least 2 valuations: the start and the end of the period.", field="valuations")
    if len(valuations) > MAX_FLOWS:
        raise CalculationError(f"Give at most {MAX_FLOWS:,} valuations.", field="valuations")
    if len(flows) > MAX_FLOWS:
        raise CalculationError(f"Give at most {MAX_FLOWS:,} flows.", field="flows")
    for index in range(1, len(valuations)):
        if valuations[index][0] <= valuations[index - 1][0]:
            raise CalculationError(
                f"Valuation {index + 1} ({valuations[index][0].isoformat()}) is not after the one before it: "
                "list valuations by date, one per date.",
                field="valuations",
            )
    for index, (day, value) in enumerate(valuations):
        if value < 0 and index > 0:
            raise CalculationError(
                f"Valuation {index + 1} ({day.isoformat()}) is negative: a market value is zero or more.",
                field="valuations",
            )
    start, end = valuations[0][0], valuations[-1][0]
    for index, (day, amount) in enumerate(flows):
        if index and day < flows[index - 1][0]:
            raise CalculationError(
                f"Flow {index + 1} ({day.isoformat()}) is before the flow above it: list flows by date.", field="flows"
            )
        if not start <= day < end:
            raise CalculationError(
                f"Flow {index + 1} ({day.isoformat()}) is outside the period: a flow must be on or after the first "
                f"valuation ({start.isoformat()}) and before the last ({end.isoformat()}); a flow on the last date "
                "comes after the closing value, so it belongs to the next period.",
                field="flows",
            )
        if amount == 0:
            raise CalculationError(f"Flow {index + 1} ({day.isoformat()}) is zero: leave it out.", field="flows")


def returns(valuations: Sequence[Cashflow], flows: Sequence[Cashflow]) -> Returns:
    """TWR, MWR and Modified Dietz of an account from its valuations (market value at the end of
    each date, before that date's flows) and external flows (positive: money in; each after its
    date's valuation). A figure that is undefined is None, and ``explanation`` says why."""
    _check_series(valuations, flows)
    start, start_value = valuations[0]
    end, end_value = valuations[-1]
    days = (end - start).days
    by_date: dict[date, Decimal] = {}
    for day, amount in flows:
        by_date[day] = by_date.get(day, Decimal(0)) + amount
    total_flows = sum(by_date.values(), Decimal(0))
    notes: list[str] = []
    start_invested = start_value + by_date.get(start, Decimal(0))

    twr: Decimal | None = None
    md: Decimal | None = None
    mwr: Decimal | None = None
    mwr_rate: Decimal | None = None
    blocked = ""
    if start_value < 0:
        blocked = f"The starting value on {start.isoformat()} is negative: no return can be measured from it."
    elif start_invested <= 0:
        blocked = (
            f"The account starts at {start_value} on {start.isoformat()} with nothing invested that day: "
            "a return on nothing is undefined. Start the period at the first date with money in the account."
        )
    else:
        for day, value in valuations:
            flow = by_date.get(day)
            if flow is not None and value + flow < 0:
                blocked = (
                    f"On {day.isoformat()} the withdrawal of {-flow} is larger than the account ({value}): the value "
                    "would go negative, so a valuation or a flow is probably wrong (or its sign)."
                )
                break
    if blocked:
        notes.append(blocked)
    else:
        twr = _twr(valuations, by_date, notes)
        md = modified_dietz(start, start_value, end_value, days, by_date, total_flows, notes)
        mwr, mwr_rate = money_weighted(start, start_value, end, end_value, days, flows, notes)

    result = Returns(
        twr=None if twr is None else significant(twr),
        twr_annualized=None if twr is None or days <= DAYS_PER_YEAR else significant(annualized(twr, days)),
        mwr=mwr,
        mwr_annualized=mwr_rate if mwr_rate is not None and days > DAYS_PER_YEAR else None,
        modified_dietz=None if md is None else significant(md),
        days=days,
        explanation="",
        notes=notes,
    )
    result.explanation = _explain(result, start, end, len(flows))
    return result


def _twr(valuations: Sequence[Cashflow], by_date: dict[date, Decimal], notes: list[str]) -> Decimal | None:
    valued = {day for day, _ in valuations}
    missing = sorted(day for day in by_date if day not in valued)
    if missing:
        shown = ", ".join(day.isoformat() for day in missing[:5]) + (" …" if len(missing) > 5 else "")
        notes.append(
            f"No time-weighted return: it breaks the period at every flow and needs the account's value on each "
            f"flow's date, and there is no valuation on {shown}."
        )
        return None
    growth = Decimal(1)
    with localcontext() as context:
        context.prec = 28
        for (day, value), (following_day, following_value) in itertools.pairwise(valuations):
            invested = value + by_date.get(day, Decimal(0))
            if invested == 0:
                notes.append(
                    f"No time-weighted return: the sub-period from {day.isoformat()} to {following_day.isoformat()} "
                    "starts at zero (the account was empty), and a return on nothing is undefined."
                )
                return None
            growth *= following_value / invested
    return growth - 1


def modified_dietz(
    start: date, start_value: Decimal, end_value: Decimal, days: int, by_date: dict[date, Decimal],
    total_flows: Decimal, notes: list[str],
) -> Decimal | None:  # fmt: skip
    """(V_end - V_start - sum F) / (V_start + sum F_i (CD - D_i) / CD), unrounded; ``by_date`` holds
    the flows by date (none before ``start``; one on the end date weighs 0). None, with the reason
    added to ``notes``, when the denominator is not positive."""
    with localcontext() as context:
        context.prec = 28
        weighted = sum(
            (amount * Decimal(days - (day - start).days) / Decimal(days) for day, amount in by_date.items()), Decimal(0)
        )
        base = start_value + weighted
        if base <= 0:
            notes.append(
                "No Modified Dietz return: the average capital invested (the starting value plus the time-weighted "
                f"flows, {base.quantize(CENT, rounding=ROUND_HALF_UP)}) is not positive."
            )
            return None
        return (end_value - start_value - total_flows) / base


def money_weighted(
    start: date, start_value: Decimal, end: date, end_value: Decimal, days: int, flows: Sequence[Cashflow],
    notes: list[str],
) -> tuple[Decimal | None, Decimal | None]:  # fmt: skip
    """The money-weighted return over the period and per year, from the XIRR of -V_start at
    ``start``, -F at each flow's date (by date, none before ``start``) and +V_end at ``end``; each to
    12 significant digits. (None, None), with the reason added to ``notes``, without a solution."""
    cashflows = [(start, -start_value), *((day, -amount) for day, amount in flows), (end, end_value)]
    try:
        log_rate = _xirr(cashflows)
    except CalculationError as error:
        notes.append(f"No money-weighted return: {error.message}")
        return None, None
    period = rate_of(log_rate, Decimal(days) / DAYS_PER_YEAR)
    return significant(period), significant(rate_of(log_rate))


def _explain(result: Returns, start: date, end: date, flow_count: int) -> str:
    lines = [
        f"Period {start.isoformat()} to {end.isoformat()}: {result.days} day{'s' if result.days != 1 else ''}, "
        f"{flow_count} external flow{'s' if flow_count != 1 else ''}."
    ]
    long = result.days > DAYS_PER_YEAR
    if result.twr is not None:
        line = f"Time-weighted return: {percent(result.twr)} over the period"
        line += f", {percent(result.twr_annualized)} a year." if result.twr_annualized is not None else "."
        lines.append(line)
    if result.mwr is not None:
        line = f"Money-weighted return (from XIRR): {percent(result.mwr)} over the period"
        line += f", {percent(result.mwr_annualized)} a year." if result.mwr_annualized is not None else "."
        lines.append(line)
    if result.modified_dietz is not None:
        lines.append(f"Modified Dietz return: {percent(result.modified_dietz)} over the period (never annualised).")
    if not long:
        lines.append("The period is a year or less, so no figure is annualised.")
    lines.extend(result.notes)
    if result.twr is not None and result.mwr is not None:
        gap = result.mwr - result.twr
        if flow_count == 0:
            lines.append("With no flows, the time- and money-weighted returns measure the same thing.")
        elif abs(gap) < Decimal("0.00005"):
            lines.append("The time- and money-weighted returns agree: the timing of the flows made little difference.")
        elif gap > 0:
            lines.append(
                "The money-weighted return is higher than the time-weighted return: the flows were timed well — "
                "more money was in the account while it did better (or was taken out before it did worse). The "
                "time-weighted return shows the investments' result whatever the flows; the money-weighted return "
                "is what this investor's money earned."
            )
        else:
            lines.append(
                "The money-weighted return is lower than the time-weighted return: the flows were timed badly — "
                "more money was in the account while it did worse (or was taken out before it did better). The "
                "time-weighted return shows the investments' result whatever the flows; the money-weighted return "
                "is what this investor's money earned."
            )
    lines.append(
        "Convention: each valuation is the account's market value at the end of its date, before that date's "
        "flows; each flow (positive: money in, negative: money out) happens after its date's valuation."
    )
    return "\n".join(lines)


# --- Required minimum distributions ----------------------------------------------------------------


@dataclass
class Rmd:
    age: int
    applicable_age: Decimal
    required: bool
    first_rmd_year: int
    first_deadline: date
    table: str | None
    distribution_period: Decimal | None
    rmd: Decimal | None


UNIFORM = "Uniform Lifetime"
JOINT = "Joint and Last Survivor"
WAIVED_YEARS = frozenset({2020})  # CARES Act: no RMD was due for 2020


def applicable_age(birth_date: date) -> Decimal:
    """The age at which RMDs start (SECURE Act 2019 and SECURE 2.0 Act 2022)."""
    if birth_date < date(1949, 7, 1):
        return Decimal("70.5")
    if birth_date.year <= 1950:
        return Decimal(72)
    if birth_date.year <= 1959:
        return Decimal(73)
    return Decimal(75)


def _first_rmd_year(birth_date: date) -> int:
    start = applicable_age(birth_date)
    if start == Decimal("70.5"):
        # 70½ is six months after the 70th birthday: the year after it for those born after June.
        return birth_date.year + 70 + (1 if birth_date.month > 6 else 0)
    return birth_date.year + int(start)


def rmd(
    birth_date: date, year: int, balance: Decimal, spouse_birth_date: date | None = None,
    spouse_sole_beneficiary: bool = False,
) -> Rmd:  # fmt: skip
    """The RMD for ``year`` of an IRA owner born on ``birth_date`` with ``balance`` on December 31
    of the year before: balance / distribution period, to the cent, half up."""
    if balance < 0:
        raise CalculationError("The balance cannot be negative.", field="balance")
    if year < birth_date.year:
        raise CalculationError("The year is before the owner's birth.", field="year")
    if spouse_sole_beneficiary and spouse_birth_date is None:
        raise CalculationError(
            "Give the spouse's birth date when the spouse is the sole beneficiary.", field="spouse_birth_date"
        )
    age = year - birth_date.year
    first_year = _first_rmd_year(birth_date)
    required = year >= first_year and year not in WAIVED_YEARS
    deadline = date(first_year + 1, 4, 1) if year <= first_year else date(year, 12, 31)
    if not required:
        return Rmd(age, applicable_age(birth_date), False, first_year, deadline, None, None, None)
    recent = year >= 2022
    table, period = UNIFORM, None
    if spouse_sole_beneficiary and spouse_birth_date is not None:
        spouse_age = year - spouse_birth_date.year
        if spouse_age < 0:
            raise CalculationError("The spouse's birth date is after the year.", field="spouse_birth_date")
        if age - spouse_age > 10:
            table = JOINT
            if not recent:
                raise CalculationError(
                    f"The Joint and Last Survivor Table applies (the spouse, {spouse_age} in {year}, is more than 10 "
                    f"years younger than the owner, {age}), but this calculator holds only the table for 2022 and "
                    "later: for earlier years read the table of the 2002 regulations (IRS Publication 590-B of "
                    "2021 or earlier, Appendix B, Table II).",
                    field="year",
                )
            period = rmd_tables.joint_last_survivor_2022(age, spouse_age)
    if period is None:
        uniform = rmd_tables.UNIFORM_LIFETIME_2022 if recent else rmd_tables.UNIFORM_LIFETIME_PRE_2022
        last = max(uniform)
        period = uniform.get(min(age, last))
        if period is None:
            raise CalculationError(
                f"The Uniform Lifetime Table{' for 2022 and later' if recent else ''} has no entry for age {age}.",
                field="birth_date",
            )
    with localcontext() as context:
        context.prec = 28
        amount = (balance / period).quantize(CENT, rounding=ROUND_HALF_UP)
    return Rmd(age, applicable_age(birth_date), True, first_year, deadline, table, period, amount)
