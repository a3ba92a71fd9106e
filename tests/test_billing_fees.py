"""Issue #18, point 7: the fee calculation (``billing.fees``), by hand-computed cases for every rule
the issue names (band edges, tiered against breakpoint, householding, minimum and maximum, each
proration, rounding) and by properties against a plain recompute."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import fees
from billing.fees import Band, FeeInputError, Period, Schedule

D = Decimal
TWO_BANDS = (Band(D("1000000"), D("1.00")), Band(None, D("0.75")))
QUARTER = Period("quarterly")


def fee(
    method: str = "tiered",
    values: tuple[str, ...] = ("1250000",),
    *,
    householding: bool = False,
    period: Period = QUARTER,
    bands: tuple[Band, ...] = TWO_BANDS,
    **limits: str,
) -> fees.Result:
    schedule = Schedule(method, bands if method != "flat" else (), **{k: D(v) for k, v in limits.items()})
    accounts = [(f"A{i}", D(v)) for i, v in enumerate(values, 1)]
    return fees.calculate(schedule, accounts, householding=householding, period=period)


def test_tiered_applies_each_bands_rate_to_the_part_inside_it() -> None:
    result = fee("tiered")
    assert (result.annual_fee, result.period_fee, result.blended_rate_pct) == (D("11875.00"), D("2968.75"), D("0.9500"))
    assert [(line.start, line.end, line.base, line.annual_fee) for line in result.lines] == [
        (D(0), D(1000000), D(1000000), D("10000.00")),
        (D(1000000), None, D(250000), D("1875.00")),
    ]
    assert "1,000,000.00 from 0.00 to under 1,000,000.00 at 1 % = 10,000.00" in result.explanation
    assert "Quarterly: the annual fee ÷ 4" in result.explanation


def test_breakpoint_applies_one_rate_to_the_whole_value() -> None:
    result = fee("breakpoint")
    assert result.annual_fee == D("9375.00")
    assert [line.base for line in result.lines] == [D(0), D(1250000)]


@pytest.mark.parametrize(
    ("method", "value", "annual"),
    [
        ("breakpoint", "1000000", "7500.00"),  # a value equal to up_to falls in the next band
        ("breakpoint", "999999.99", "9999.9999"),
        ("tiered", "1000000", "10000.00"),  # all of it below the edge: the first band's rate
        ("tiered", "1000000.01", "10000.0000750"),
    ],
)
def test_a_value_on_a_band_edge_falls_in_the_next_band(method: str, value: str, annual: str) -> None:
    assert fee(method, (value,)).annual_fee == D(annual).quantize(D("0.01"), ROUND_HALF_UP)


def test_householding_sets_the_bands_on_the_combined_value_and_shares_pro_rata() -> None:
    apart = fee("tiered", ("900000", "350000"))
    together = fee("tiered", ("900000", "350000"), householding=True)
    assert apart.annual_fee == D("12500.00")  # 9,000 + 3,500, each on its own value
    assert together.annual_fee == D("11875.00")
    assert [(a.ref, a.annual_fee, a.period_fee) for a in together.accounts] == [
        ("A1", D("8550.00"), D("2137.50")),  # 72 % of the value
        ("A2", D("3325.00"), D("831.25")),
    ]
    assert "combined value of 1,250,000.00 sets the bands" in together.explanation


def test_shares_add_up_to_the_total_to_the_cent() -> None:
    result = fee(
        "tiered", ("100", "100", "100"), householding=True, bands=(Band(None, D("1.00")),), minimum_annual_fee="100"
    )
    assert [a.annual_fee for a in result.accounts] == [D("33.34"), D("33.33"), D("33.33")]
    assert sum(a.annual_fee for a in result.accounts) == result.annual_fee == D("100.00")


def test_minimum_and_maximum_apply_per_billing_unit() -> None:
    low = fee("tiered", ("50000",), minimum_annual_fee="1000")
    assert low.annual_fee == D("1000.00") and "500.00 raised to the minimum annual fee of 1,000.00" in low.explanation
    assert low.lines[0].annual_fee == D("500.00")  # the line keeps the band's own share
    high = fee("tiered", ("5000000",), maximum_annual_fee="20000")
    assert high.annual_fee == D("20000.00") and "lowered to the maximum annual fee" in high.explanation
    # Householded, the minimum applies once to the household, not to each account.
    assert fee("tiered", ("30000", "20000"), householding=True, minimum_annual_fee="1000").annual_fee == D("1000.00")
    assert fee("tiered", ("30000", "20000"), minimum_annual_fee="1000").annual_fee == D("2000.00")


def test_no_value_no_percent_fee_and_no_minimum_but_a_flat_fee_is_owed() -> None:
    empty = fee("tiered", ("0",), minimum_annual_fee="1000")
    assert (empty.annual_fee, empty.blended_rate_pct) == (D("0.00"), None)
    assert "without value, no minimum fee" in empty.explanation
    flat = fee("flat", ("0", "0"), householding=True, flat_annual_fee="1200")
    assert flat.annual_fee == D("1200.00") and flat.period_fee == D("300.00")
    assert [a.annual_fee for a in flat.accounts] == [D("600.00"), D("600.00")]  # equally, without value


@pytest.mark.parametrize(
    ("proration", "expected"),
    [
        ("period_fraction", "1250.00"),  # 10,000 ÷ 4 × 45 ÷ 90
        ("actual/365", "1232.88"),  # 10,000 × 45 ÷ 365 = 1,232.876…
        ("actual/actual", "1232.88"),  # 2026 has 365 days
    ],
)
def test_proration_of_part_of_a_quarter(proration: str, expected: str) -> None:
    period = Period(
        "quarterly", date(2026, 1, 1), date(2026, 3, 31), billable_from=date(2026, 2, 15), proration=proration
    )
    result = fee("tiered", ("1000000",), bands=(Band(None, D("1.00")),), period=period)
    assert result.annual_fee == D("10000.00") and result.period_fee == D(expected)
    assert "45 of the period's 90 days" in result.explanation


def test_actual_actual_counts_each_years_days_across_a_leap_year() -> None:
    period = Period("quarterly", date(2027, 12, 1), date(2028, 2, 29), proration="actual/actual")
    result = fee("tiered", ("1000000",), bands=(Band(None, D("1.00")),), period=period)
    assert result.period_fee == D("2488.66")  # 10,000 × (31 ÷ 365 + 60 ÷ 366) = 2,488.659…
    assert "(31 ÷ 365 + 60 ÷ 366)" in result.explanation


def test_without_proration_the_period_fee_is_the_annual_fee_over_the_frequency() -> None:
    for frequency, parts in fees.FREQUENCIES.items():
        result = fee("tiered", ("1000000",), bands=(Band(None, D("1.20")),), period=Period(frequency))
        assert result.period_fee == (D(12000) / parts).quantize(D("0.01"))


def test_the_period_fee_is_rounded_once_from_the_unrounded_annual_fee() -> None:
    # 1,000.01 at 1 % = 10.0001 a year; a quarter of the unrounded figure is 2.500025 → 2.50.
    result = fee("tiered", ("1000.01",), bands=(Band(None, D("1.00")),))
    assert (result.annual_fee, result.period_fee) == (D("10.00"), D("2.50"))
    half = fee("tiered", ("250",), bands=(Band(None, D("1.00")),), period=Period("annual"))
    assert half.annual_fee == D("2.50")
    assert fee("tiered", ("0.50",), bands=(Band(None, D("1.00")),), period=Period("annual")).annual_fee == D("0.01")


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        (Schedule("tiered", (Band(D(500), D(1)), Band(D(400), D(1)), Band(None, D(1)))), "schedule.tiers[1].up_to"),
        (Schedule("tiered", (Band(D(500), D(1)), Band(D(500), D(1)), Band(None, D(1)))), "schedule.tiers[1].up_to"),
        (Schedule("tiered", (Band(D(500), D(1)), Band(D(900), D(1)))), "schedule.tiers[1].up_to"),  # a gap at the top
        (Schedule("tiered", (Band(None, D(1)), Band(None, D(1)))), "schedule.tiers[0].up_to"),
        (Schedule("tiered", ()), "schedule.tiers"),
        (Schedule("tiered", (Band(None, D(101)),)), "schedule.tiers[0].annual_rate_pct"),
        (Schedule("cheap", (Band(None, D(1)),)), "schedule.method"),
        (Schedule("flat"), "schedule.flat_annual_fee"),
        (Schedule("breakpoint", (Band(None, D(1)),), flat_annual_fee=D(1)), "schedule.flat_annual_fee"),
        (Schedule("tiered", (Band(None, D(1)),), minimum_annual_fee=D(9), maximum_annual_fee=D(5)),
         "schedule.maximum_annual_fee"),
    ],
)  # fmt: skip
def test_bad_schedules_are_refused_naming_the_field(schedule: Schedule, field: str) -> None:
    with pytest.raises(FeeInputError) as refused:
        fees.calculate(schedule, [("A", D(100))], householding=False, period=QUARTER)
    assert field in refused.value.errors, refused.value.errors


@pytest.mark.parametrize(
    ("period", "field"),
    [
        (Period("quarterly", date(2026, 3, 31), date(2026, 1, 1)), "period_end"),
        (Period("quarterly", date(2026, 1, 1), date(2026, 6, 30)), "period_end"),  # 181 days is no quarter
        (Period("quarterly", date(2026, 1, 1)), "period_end"),
        (Period("quarterly", billable_from=date(2026, 2, 1)), "proration"),
        (Period("quarterly", proration="actual/365"), "period_start"),
        (Period("quarterly", date(2026, 1, 1), date(2026, 3, 31), billable_from=date(2025, 12, 1),
                proration="actual/365"), "billable_from"),
        (Period("quarterly", date(2026, 1, 1), date(2026, 3, 31), billable_from=date(2026, 3, 1),
                billable_to=date(2026, 2, 1), proration="actual/365"), "billable_to"),
        (Period("weekly"), "frequency"),
        (Period("quarterly", proration="30/360"), "proration"),
    ],
)  # fmt: skip
def test_bad_periods_are_refused_naming_the_field(period: Period, field: str) -> None:
    with pytest.raises(FeeInputError) as refused:
        fee(period=period)
    assert field in refused.value.errors, refused.value.errors


def test_bad_accounts_are_refused_naming_the_field() -> None:
    schedule = Schedule("tiered", TWO_BANDS)
    for accounts, field in (([], "accounts"), ([("A", D(-1))], "accounts[0].value"),
                            ([("A", D(1)), ("A", D(2))], "accounts[1].ref")):  # fmt: skip
        with pytest.raises(FeeInputError) as refused:
            fees.calculate(schedule, accounts, householding=False, period=QUARTER)
        assert field in refused.value.errors


# --- Properties ----------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
rate = st.decimals(min_value=0, max_value=3, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def schedules(draw: st.DrawFn, method: str = "tiered", falling: bool = False) -> Schedule:
    edges = sorted(set(draw(st.lists(st.decimals(min_value=1, max_value=10**8, places=0), max_size=5))))
    rates = draw(st.lists(rate, min_size=len(edges) + 1, max_size=len(edges) + 1))
    if falling:
        rates = sorted(rates, reverse=True)
    bands = (*(Band(D(e), r) for e, r in zip(edges, rates, strict=False)), Band(None, rates[-1]))
    return Schedule(method, bands)


def recompute_tiered(schedule: Schedule, value: Decimal) -> Decimal:
    """The marginal fee the plain way: for each band, its rate on what lies between its bounds."""
    total, lower = D(0), D(0)
    for band in schedule.bands:
        upper = band.up_to if band.up_to is not None else max(value, lower)
        total += max(D(0), min(value, upper) - lower) * band.annual_rate_pct / 100
        lower = upper
    return total.quantize(D("0.01"), ROUND_HALF_UP)


@given(schedules(), money)
def test_tiered_matches_a_plain_recompute_and_its_lines(schedule: Schedule, value: Decimal) -> None:
    result = fees.calculate(schedule, [("A", value)], householding=False, period=QUARTER)
    assert result.annual_fee == recompute_tiered(schedule, value)
    assert sum(line.base for line in result.lines) == value
    assert abs(sum(line.annual_fee for line in result.lines) - result.annual_fee) <= D("0.01") * len(result.lines)


@given(schedules(), money, money)
def test_tiered_fees_never_fall_as_the_value_rises(schedule: Schedule, a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    fee_of = lambda v: fees.calculate(schedule, [("A", v)], householding=False, period=QUARTER).annual_fee  # noqa: E731
    assert fee_of(low) <= fee_of(high)


@given(schedules(falling=True), money)
def test_with_falling_rates_breakpoint_never_bills_more_than_tiered(schedule: Schedule, value: Decimal) -> None:
    tiered = fees.calculate(schedule, [("A", value)], householding=False, period=QUARTER)
    breakpoint_ = fees.calculate(
        Schedule("breakpoint", schedule.bands), [("A", value)], householding=False, period=QUARTER
    )
    assert breakpoint_.annual_fee <= tiered.annual_fee


@given(schedules(falling=True), st.lists(money, min_size=1, max_size=8), st.sampled_from(list(fees.FREQUENCIES)))
def test_householding_shares_add_up_and_never_bill_more_with_falling_rates(
    schedule: Schedule, values: list[Decimal], frequency: str
) -> None:
    accounts = [(f"A{i}", v) for i, v in enumerate(values)]
    together = fees.calculate(schedule, accounts, householding=True, period=Period(frequency))
    apart = fees.calculate(schedule, accounts, householding=False, period=Period(frequency))
    assert sum(a.annual_fee for a in together.accounts) == together.annual_fee
    assert sum(a.period_fee for a in together.accounts) == together.period_fee
    assert all(a.annual_fee >= 0 and a.period_fee >= 0 for a in together.accounts)
    assert together.annual_fee <= apart.annual_fee + D("0.01") * len(values)  # rounding per account apart
    if len(values) == 1:
        assert together == apart


@given(st.decimals(min_value=0, max_value=10**7, places=2), st.lists(money, min_size=1, max_size=20))
def test_allocation_is_exact_and_pro_rata_within_a_cent(total: Decimal, weights: list[Decimal]) -> None:
    shares = fees.allocate(total, weights)
    assert sum(shares) == total and all(s >= 0 for s in shares)
    weight_sum = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        exact = total * weight / weight_sum if weight_sum else total / len(weights)
        assert abs(share - exact) < D("0.01")
