"""The stateless calculators of issue #19 (``reports.returns``): known spreadsheet values, hand-computed
returns, the undefined cases, properties (hypothesis) and RMDs from the IRS tables."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports import rmd_tables
from reports.returns import CalculationError, annualized, irr, returns, rmd, significant, xirr, xnpv

D = Decimal
SPREADSHEET = [
    (date(2008, 1, 1), D(-10000)),
    (date(2008, 3, 1), D(2750)),
    (date(2008, 10, 30), D(4250)),
    (date(2009, 2, 15), D(3250)),
    (date(2009, 4, 1), D(2750)),
]


# --- XIRR, XNPV, IRR ----------------------------------------------------------------------------------


def test_xirr_of_the_spreadsheet_example() -> None:
    rate = xirr(SPREADSHEET)
    # The spreadsheet's documentation shows 0.373362535 (its solver stops at 1e-8); the root to 12
    # significant digits, checked by bisection in 50-digit decimals, is 0.373362533519.
    assert rate == D("0.373362533519")
    assert abs(rate - D("0.373362535")) < D("2e-9")
    assert len(rate.as_tuple().digits) >= 10


def test_xnpv_of_the_spreadsheet_example() -> None:
    assert xnpv(D("0.09"), SPREADSHEET) == D("2086.647602")


def test_xnpv_at_the_xirr_is_zero() -> None:
    assert abs(xnpv(xirr(SPREADSHEET), SPREADSHEET)) < D("0.00001")


def test_xnpv_of_one_flow_is_the_flow_and_rate_at_or_below_minus_one_refused() -> None:
    assert xnpv(D("0.05"), [(date(2024, 1, 1), D("100"))]) == D("100.000000")
    with pytest.raises(CalculationError) as refused:
        xnpv(D("-1"), SPREADSHEET)
    assert refused.value.field == "rate"


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        (["-70000", "12000", "15000", "18000", "21000", "26000"], "0.0866309480365"),  # the spreadsheet's 8.7 %
        (["-70000", "12000", "15000", "18000", "21000"], "-0.0212448482734"),  # -2.1 %
        (["-70000", "12000", "15000"], "-0.443506941335"),  # -44.4 %
        (["-100", "110"], "0.100000000000"),
        (["-100", "0", "121"], "0.100000000000"),
    ],
)
def test_irr_known_values(amounts: list[str], expected: str) -> None:
    assert irr([D(a) for a in amounts]) == D(expected)


def test_xirr_of_a_year_is_the_simple_growth() -> None:
    assert xirr([(date(2023, 1, 1), D(-1000)), (date(2024, 1, 1), D(1100))]) == D("0.100000000000")


def test_xirr_of_a_total_loss_near_minus_one_uses_the_fallback() -> None:
    rate = xirr([(date(2020, 1, 1), D(-1000)), (date(2021, 1, 1), D("0.01"))])
    assert D("-1") < rate < D("-0.9999")


def test_xirr_of_a_huge_gain() -> None:
    rate = xirr([(date(2024, 1, 1), D(-1)), (date(2024, 1, 11), D(1000))])
    assert rate > D("1e100")


@pytest.mark.parametrize(
    ("cashflows", "message"),
    [
        ([(date(2024, 1, 1), D(-1))], "at least 2"),
        ([(date(2024, 1, 1), D(-1)), (date(2024, 2, 1), D(-2))], "one positive and one negative"),
        ([(date(2024, 1, 1), D(1)), (date(2024, 2, 1), D(2))], "one positive and one negative"),
        ([(date(2024, 1, 1), D(-1)), (date(2023, 2, 1), D(2))], "before the first"),
    ],
)
def test_xirr_refusals(cashflows: list[tuple[date, Decimal]], message: str) -> None:
    with pytest.raises(CalculationError, match=message) as refused:
        xirr(cashflows)
    assert refused.value.field == "cashflows"


def test_irr_without_a_solution_says_so() -> None:
    # -100, +300, -300: the NPV is -100(1 - 3v + 3v^2) < 0 for every rate.
    with pytest.raises(CalculationError, match="no solution"):
        irr([D(-100), D(300), D(-300)])


# --- Returns ------------------------------------------------------------------------------------------


def test_returns_with_a_contribution_half_way_hand_computed() -> None:
    result = returns(
        [(date(2023, 1, 1), D(1000)), (date(2023, 7, 1), D(1100)), (date(2024, 1, 1), D(2200))],
        [(date(2023, 7, 1), D(1000))],
    )
    # TWR: 1100/1000 x 2200/2100 - 1; Modified Dietz: 200 / (1000 + 1000 x 184/365).
    assert result.twr == significant(D(1100) / D(1000) * D(2200) / D(2100) - 1) == D("0.152380952381")
    assert result.modified_dietz == significant(D(200) / (D(1000) + D(1000) * D(184) / D(365)))
    assert result.days == 365
    assert result.twr_annualized is None and result.mwr_annualized is None
    assert result.mwr is not None and result.mwr < result.twr
    assert "timed badly" in result.explanation and "before that date's flows" in result.explanation
    # The MWR is the XIRR of -1000, -1000 (day 181), +2200, over one 365-day year.
    rate = xirr([(date(2023, 1, 1), D(-1000)), (date(2023, 7, 1), D(-1000)), (date(2024, 1, 1), D(2200))])
    assert result.mwr == significant((1 + rate) ** (D(365) / D(365)) - 1)


def test_returns_with_good_timing_says_so() -> None:
    result = returns(
        [(date(2023, 1, 1), D(1000)), (date(2023, 7, 1), D(900)), (date(2024, 1, 1), D(2200))],
        [(date(2023, 7, 1), D(1000))],
    )
    assert result.mwr is not None and result.twr is not None and result.mwr > result.twr
    assert "timed well" in result.explanation


def test_returns_over_more_than_a_year_are_annualised() -> None:
    result = returns([(date(2020, 1, 1), D(1000)), (date(2023, 1, 1), D(1331))], [])
    assert result.days == 1096
    assert result.twr == D("0.331000000000")
    assert result.twr_annualized == significant(D("1.331") ** (D(365) / D(1096)) - 1)
    assert result.mwr_annualized == result.twr_annualized
    assert result.modified_dietz == D("0.331000000000")


def test_a_flow_on_the_first_date_is_invested_all_period() -> None:
    result = returns([(date(2024, 1, 1), D(0)), (date(2024, 12, 31), D(1100))], [(date(2024, 1, 1), D(1000))])
    assert result.twr == D("0.100000000000") and result.modified_dietz == D("0.100000000000")


def test_twr_needs_a_valuation_on_each_flow_date() -> None:
    result = returns([(date(2024, 1, 1), D(1000)), (date(2024, 12, 31), D(2100))], [(date(2024, 6, 1), D(1000))])
    assert result.twr is None and result.twr_annualized is None
    assert "no valuation on 2024-06-01" in result.explanation
    assert result.mwr is not None and result.modified_dietz is not None


def test_a_sub_period_starting_at_zero_has_no_twr() -> None:
    result = returns(
        [(date(2024, 1, 1), D(1000)), (date(2024, 3, 1), D(1000)), (date(2024, 6, 1), D(0)), (date(2024, 12, 1), D(0))],
        [(date(2024, 3, 1), D(-1000))],
    )
    assert result.twr is None and "starts at zero" in result.explanation


@pytest.mark.parametrize(
    ("valuations", "flows", "reason"),
    [
        ([(date(2024, 1, 1), D(0)), (date(2024, 12, 31), D(10))], [], "a return on nothing is undefined"),
        ([(date(2024, 1, 1), D(-5)), (date(2024, 12, 31), D(10))], [], "negative"),
        (
            [(date(2024, 1, 1), D(100)), (date(2024, 6, 1), D(100)), (date(2024, 12, 31), D(10))],
            [(date(2024, 6, 1), D(-500))],
            "larger than the account",
        ),
    ],
)
def test_undefined_returns_say_why(valuations: list, flows: list, reason: str) -> None:
    result = returns(valuations, flows)
    assert result.twr is None and result.mwr is None and result.modified_dietz is None
    assert reason in result.explanation


@pytest.mark.parametrize(
    ("valuations", "flows", "field", "message"),
    [
        ([(date(2024, 1, 1), D(1))], [], "valuations", "at least 2"),
        ([(date(2024, 2, 1), D(1)), (date(2024, 1, 1), D(1))], [], "valuations", "not after"),
        ([(date(2024, 1, 1), D(1)), (date(2024, 1, 1), D(1))], [], "valuations", "not after"),
        ([(date(2024, 1, 1), D(1)), (date(2024, 2, 1), D(-1))], [], "valuations", "negative"),
        ([(date(2024, 1, 1), D(1)), (date(2024, 2, 1), D(1))], [(date(2024, 2, 1), D(5))], "flows", "outside"),
        ([(date(2024, 1, 1), D(1)), (date(2024, 2, 1), D(1))], [(date(2023, 2, 1), D(5))], "flows", "outside"),
        (
            [(date(2024, 1, 1), D(1)), (date(2024, 3, 1), D(1))],
            [(date(2024, 2, 1), D(5)), (date(2024, 1, 5), D(5))],
            "flows",
            "before the flow above",
        ),
    ],
)
def test_bad_series_are_refused(valuations: list, flows: list, field: str, message: str) -> None:
    with pytest.raises(CalculationError, match=message) as refused:
        returns(valuations, flows)
    assert refused.value.field == field


def test_annualised_formula() -> None:
    assert annualized(D("0.21"), 730) == D("1.21") ** (D(365) / D(730)) - 1
    assert abs(annualized(D("0.21"), 730) - D("0.1")) < D("1e-20")


# --- Properties ---------------------------------------------------------------------------------------

values = st.decimals(min_value=D("1.00"), max_value=D("10000000.00"), places=2)
lengths = st.integers(min_value=1, max_value=3000)


@settings(max_examples=60, deadline=None)
@given(start=values, end=values, days=lengths)
def test_without_flows_every_method_is_the_growth(start: Decimal, end: Decimal, days: int) -> None:
    first = date(2020, 1, 1)
    result = returns([(first, start), (first + timedelta(days=days), end)], [])
    growth = significant(end / start - 1)
    assert result.twr == growth
    assert result.modified_dietz == growth
    assert result.mwr is not None
    assert abs(result.mwr - growth) <= D("1e-9") * max(D(1), abs(growth))


cashflow_lists = st.lists(
    st.tuples(st.integers(min_value=0, max_value=4000), st.decimals(min_value=-100000, max_value=100000, places=2)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=80, deadline=None)
@given(outlay=st.decimals(min_value=1, max_value=1000000, places=2), rest=cashflow_lists)
def test_xnpv_at_the_xirr_is_about_zero(outlay: Decimal, rest: list[tuple[int, Decimal]]) -> None:
    first = date(2010, 1, 1)
    cashflows = [(first, -outlay), *((first + timedelta(days=d), a) for d, a in rest)]
    try:
        rate = xirr(cashflows)
    except CalculationError:
        return  # all one sign, or no rate solves it: refused with a message, which is right
    if rate > D("1e6") or rate < D("-0.99"):
        return  # 1 + r is huge or tiny: 12 digits of r are then fewer of the discount factors
    # The rate has 12 significant digits: the XNPV at it is zero to about that many digits of the
    # discounted amounts (plus the six-place rounding).
    discounted = sum(abs(float(a)) * (1 + float(rate)) ** (-(d - first).days / 365) for d, a in cashflows)
    assert abs(xnpv(rate, cashflows)) <= D(repr(discounted)) * D("1e-9") + D("0.000002")


@settings(max_examples=40, deadline=None)
@given(start=values, middle=values, end=values, flow=st.decimals(min_value=1, max_value=1000000, places=2))
def test_twr_ignores_the_size_of_a_flow_on_a_valuation_date(
    start: Decimal, middle: Decimal, end: Decimal, flow: Decimal
) -> None:
    """The TWR links sub-period returns: scaling the second sub-period's money changes nothing."""
    dates = [date(2022, 1, 1), date(2022, 6, 1), date(2023, 1, 1)]
    base = returns([(dates[0], start), (dates[1], middle), (dates[2], end)], [])
    scale = (middle + flow) / middle
    moved = returns([(dates[0], start), (dates[1], middle), (dates[2], end * scale)], [(dates[1], flow)])
    assert base.twr is not None and moved.twr is not None
    assert abs(base.twr - moved.twr) <= D("1e-10") * max(D(1), abs(base.twr))


# --- RMD ----------------------------------------------------------------------------------------------


def test_uniform_lifetime_tables_first_rows() -> None:
    new, old = rmd_tables.UNIFORM_LIFETIME_2022, rmd_tables.UNIFORM_LIFETIME_PRE_2022
    assert [new[a] for a in (72, 73, 74, 75)] == [D("27.4"), D("26.5"), D("25.5"), D("24.6")]
    first_old = ("27.4", "26.5", "25.6", "24.7", "23.8", "22.9")
    assert [old[a] for a in (70, 71, 72, 73, 74, 75)] == [D(x) for x in first_old]
    assert new[100] == D("6.4") and new[120] == D("2.0") and old[100] == D("6.3") and old[115] == D("1.9")
    for table in (new, old):  # each age has a shorter period than the one before
        ages = sorted(table)
        assert ages == list(range(ages[0], ages[-1] + 1))
        assert all(table[a] >= table[a + 1] for a in ages[:-1])


@pytest.mark.parametrize(
    ("birth", "applicable", "first_year"),
    [
        (date(1949, 6, 30), D("70.5"), 2019),
        (date(1948, 12, 31), D("70.5"), 2019),
        (date(1948, 6, 30), D("70.5"), 2018),
        (date(1949, 7, 1), D(72), 2021),
        (date(1950, 12, 31), D(72), 2022),
        (date(1951, 1, 1), D(73), 2024),
        (date(1959, 12, 31), D(73), 2032),
        (date(1960, 1, 1), D(75), 2035),
    ],
)
def test_applicable_age_and_first_year(birth: date, applicable: Decimal, first_year: int) -> None:
    answer = rmd(birth, first_year, D("100000"))
    assert answer.applicable_age == applicable and answer.first_rmd_year == first_year and answer.required
    assert answer.first_deadline == date(first_year + 1, 4, 1)
    later = rmd(birth, first_year + 1, D("100000"))
    assert later.first_deadline == date(first_year + 1, 12, 31)
    before = rmd(birth, first_year - 1, D("100000"))
    assert not before.required and before.rmd is None and before.first_deadline == date(first_year + 1, 4, 1)


def test_rmd_known_cases() -> None:
    # Born 1951: 73 in 2024, first RMD; 26.5 in the 2022 table.
    first = rmd(date(1951, 5, 1), 2024, D("100000.00"))
    assert (first.age, first.table, first.distribution_period, first.rmd) == (73, "Uniform Lifetime", D("26.5"),
                                                                              D("3773.58"))  # fmt: skip
    # Born 1948: 75 in 2023 (24.6); half up to the cent: 500000 / 24.6 = 20325.2032…
    assert rmd(date(1948, 3, 3), 2023, D("500000")).rmd == D("20325.20")
    # Before 2022, the earlier table: 72 in 2021 → 25.6.
    old = rmd(date(1949, 2, 1), 2021, D("256000"))
    assert (old.distribution_period, old.rmd) == (D("25.6"), D("10000.00"))
    # 120 and older read the last row.
    assert rmd(date(1900, 1, 1), 2025, D("2000")).distribution_period == D("2.0")
    # Half up: 1000.05 / 27.4 = 36.4981… ; 0.685 / 1 style rounding checked with a period of 25.5.
    assert rmd(date(1950, 6, 1), 2024, D("1275.1275")).rmd == D("50.01")


def test_no_rmd_for_2020() -> None:
    answer = rmd(date(1945, 1, 1), 2020, D("100000"))
    assert not answer.required and answer.rmd is None


def test_joint_table_for_a_much_younger_spouse() -> None:
    answer = rmd(date(1950, 3, 1), 2025, D("1000000"), spouse_birth_date=date(1965, 8, 1), spouse_sole_beneficiary=True)
    assert (answer.age, answer.table, answer.distribution_period) == (75, "Joint and Last Survivor", D("28.3"))
    assert answer.rmd == D("35335.69")
    # Ten years exactly is not more than ten: the Uniform table.
    close = rmd(date(1950, 3, 1), 2025, D("1000000"), spouse_birth_date=date(1960, 1, 1), spouse_sole_beneficiary=True)
    assert close.table == "Uniform Lifetime" and close.distribution_period == D("24.6")
    # Not the sole beneficiary: the Uniform table whatever the ages.
    assert rmd(date(1950, 3, 1), 2025, D("1000000"), spouse_birth_date=date(1965, 8, 1)).table == "Uniform Lifetime"


def test_joint_table_before_2022_is_refused_not_guessed() -> None:
    # The 2002 Joint and Last Survivor Table is not held (tests/test_rmd_joint_table.py covers the 2022 one).
    with pytest.raises(CalculationError, match="holds only the table for 2022 and later") as refused:
        rmd(date(1945, 5, 1), 2021, D("100000"), spouse_birth_date=date(1970, 1, 1), spouse_sole_beneficiary=True)
    assert refused.value.field == "year"


def test_rmd_refusals() -> None:
    with pytest.raises(CalculationError) as refused:
        rmd(date(1950, 1, 1), 2024, D("-1"))
    assert refused.value.field == "balance"
    with pytest.raises(CalculationError) as refused:
        rmd(date(1950, 1, 1), 2024, D("1"), spouse_sole_beneficiary=True)
    assert refused.value.field == "spouse_birth_date"
