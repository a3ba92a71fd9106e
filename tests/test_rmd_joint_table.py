"""The whole Joint and Last Survivor Table (26 CFR 1.401(a)(9)-9(d), 2022 and later) and the RMD
calculator choosing it: every cell against the regulation's own method, published cells, the edges,
and the table used only when the sole beneficiary is a spouse more than 10 years younger."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from reports import rmd_tables
from reports.returns import JOINT, UNIFORM, CalculationError, rmd
from reports.rmd_joint_table import JOINT_LAST_SURVIVOR_2022, MORTALITY_2022

D = Decimal
TABLE = JOINT_LAST_SURVIVOR_2022


def _survival(age: int) -> list[float]:
    """t-year survival from ``age``; nobody survives past 120 (the regulation's tables stop there)."""
    alive, out = 1.0, [1.0]
    for at in range(age, 120):
        alive *= 1 - float(MORTALITY_2022[at])
        out.append(alive)
    return out + [0.0] * (121 - len(out))


def _joint_and_last_survivor(x: int, y: int, survival: dict[int, list[float]]) -> Decimal:
    """The regulation's method: curtate joint-and-last-survivor expectancy + 11/24, at least 1.0, to 0.1.
    Floats suffice: no cell's exact value lies within 5e-6 of a rounding boundary (measured), far above
    the float error here (about 1e-12)."""
    a, b = survival[x], survival[y]
    curtate = sum(a[t] + b[t] - a[t] * b[t] for t in range(1, 121))
    value = max(1.0, curtate + 11 / 24)
    return D(repr(value)).quantize(D("0.1"), rounding=ROUND_HALF_UP)


def test_the_grid_is_whole() -> None:
    assert len(TABLE) == 121 and all(len(row) == 121 for row in TABLE)
    assert all(isinstance(cell, Decimal) and cell >= 1 for row in TABLE for cell in row)


def test_every_cell_is_what_the_regulations_mortality_rates_give() -> None:
    """Recomputed from paragraph (e): a copying slip in any of the 14,641 cells shows here. The one cell
    the regulation itself prints off its method, (2, 5) = 88.5 beside (5, 2) = 88.6, is kept as printed."""
    survival = {age: _survival(age) for age in range(121)}
    wrong = [
        (x, y, TABLE[x][y])
        for x in range(121)
        for y in range(x, 121)
        if _joint_and_last_survivor(x, y, survival) != TABLE[x][y]
    ]
    assert wrong == [(2, 5, D("88.5"))]
    assert TABLE[5][2] == D("88.6")


def test_symmetric_but_for_the_one_printed_cell() -> None:
    asymmetric = {(x, y) for x in range(121) for y in range(121) if TABLE[x][y] != TABLE[y][x]}
    assert asymmetric == {(2, 5), (5, 2)}


@pytest.mark.parametrize(
    ("owner", "spouse", "period"),
    [
        # Published cells (Publication 590-B, Table II; the regulation's Joint and Last Survivor Table).
        (75, 60, "28.3"),
        (73, 60, "28.6"),
        (80, 65, "23.8"),
        (85, 70, "19.5"),
        (90, 75, "15.4"),
        (75, 64, "25.3"),
        (73, 19, "66.1"),
        (72, 50, "36.9"),
        (100, 80, "11.5"),
        # Edges: the corners, the 120+ row and column, and the cell the eCFR copy left blank (19, 35).
        (0, 0, "91.9"),
        (0, 120, "84.6"),
        (120, 0, "84.6"),
        (120, 120, "1.0"),
        (119, 119, "1.3"),
        (120, 119, "1.1"),
        (35, 19, "68.0"),
        (19, 35, "68.0"),
    ],
)
def test_published_and_edge_cells(owner: int, spouse: int, period: str) -> None:
    assert rmd_tables.joint_last_survivor_2022(owner, spouse) == D(period)


def test_ages_past_120_read_the_120_plus_row_and_column() -> None:
    assert rmd_tables.joint_last_survivor_2022(125, 60) == TABLE[120][60] == D("27.1")
    assert rmd_tables.joint_last_survivor_2022(130, 121) == D("1.0")
    with pytest.raises(ValueError, match="negative"):
        rmd_tables.joint_last_survivor_2022(75, -1)


def test_the_uniform_table_is_the_joint_table_with_a_spouse_ten_years_younger() -> None:
    """The regulation builds the Uniform Lifetime Table from this one (owner, owner - 10): a cross-check of both."""
    for age, period in rmd_tables.UNIFORM_LIFETIME_2022.items():
        if age < 120:
            assert TABLE[age][age - 10] == period, age


# --- The calculator choosing the table ------------------------------------------------------------------


def test_a_spouse_more_than_ten_years_younger_as_sole_beneficiary_uses_the_joint_table() -> None:
    # Owner born 1952 is 73 in 2025; spouse born 1970 is 55: 18 years younger.
    answer = rmd(
        date(1952, 4, 2), 2025, D("500000.00"), spouse_birth_date=date(1970, 9, 9), spouse_sole_beneficiary=True
    )
    assert (answer.age, answer.table, answer.distribution_period) == (73, JOINT, D("32.6"))
    assert answer.rmd == D("15337.42")  # 500,000 / 32.6, half up to the cent


def test_eleven_years_younger_is_more_than_ten() -> None:
    answer = rmd(
        date(1951, 1, 1), 2025, D("100000"), spouse_birth_date=date(1963, 12, 31), spouse_sole_beneficiary=True
    )
    assert (answer.age, answer.table, answer.distribution_period) == (74, JOINT, TABLE[74][62])
    assert TABLE[74][62] == D("27.0") and TABLE[74][62] > rmd_tables.UNIFORM_LIFETIME_2022[74]


def test_ten_years_or_less_uses_the_uniform_table() -> None:
    exactly_ten = rmd(
        date(1951, 1, 1), 2025, D("100000"), spouse_birth_date=date(1961, 6, 1), spouse_sole_beneficiary=True
    )
    assert (exactly_ten.table, exactly_ten.distribution_period) == (UNIFORM, D("25.5"))
    older_spouse = rmd(
        date(1951, 1, 1), 2025, D("100000"), spouse_birth_date=date(1940, 1, 1), spouse_sole_beneficiary=True
    )
    assert older_spouse.table == UNIFORM


def test_a_spouse_who_is_not_the_sole_beneficiary_uses_the_uniform_table() -> None:
    answer = rmd(date(1951, 1, 1), 2025, D("100000"), spouse_birth_date=date(1975, 1, 1), spouse_sole_beneficiary=False)
    assert (answer.table, answer.distribution_period) == (UNIFORM, D("25.5"))


def test_a_very_old_owner_reads_the_120_plus_row() -> None:
    answer = rmd(date(1902, 1, 1), 2025, D("10000"), spouse_birth_date=date(1950, 1, 1), spouse_sole_beneficiary=True)
    assert (answer.age, answer.table, answer.distribution_period) == (123, JOINT, TABLE[120][75])


def test_before_2022_the_joint_table_is_refused_not_guessed() -> None:
    with pytest.raises(CalculationError, match="holds only the table for 2022 and later") as refused:
        rmd(date(1948, 1, 1), 2021, D("100000"), spouse_birth_date=date(1968, 1, 1), spouse_sole_beneficiary=True)
    assert refused.value.field == "year"


def test_a_spouse_born_after_the_year_is_refused() -> None:
    with pytest.raises(CalculationError, match="after the year") as refused:
        rmd(date(1951, 1, 1), 2025, D("100000"), spouse_birth_date=date(2026, 1, 1), spouse_sole_beneficiary=True)
    assert refused.value.field == "spouse_birth_date"
