"""The IRS distribution-period tables the RMD calculator reads (``reports.returns.rmd``), as data.

Sources:

- ``UNIFORM_LIFETIME_2022``: the Uniform Lifetime Table of the Treasury final regulations of
  November 2020 (T.D. 9930, 26 CFR 1.401(a)(9)-9(c)), in IRS Publication 590-B, Appendix B,
  Table III, for distribution calendar years 2022 and later.
- ``UNIFORM_LIFETIME_PRE_2022``: the Uniform Lifetime Table of the 2002 final regulations, in
  IRS Publication 590-B (2021 and earlier editions), Appendix B, Table III, for distribution
  calendar years up to 2021.
- ``JOINT_LAST_SURVIVOR_2022``: the whole Joint and Last Survivor Table of the same final regulations
  (26 CFR 1.401(a)(9)-9(d), Publication 590-B, Appendix B, Table II), ages 0 to 120+ by 0 to 120+, for
  an owner whose sole beneficiary is a spouse more than 10 years younger. The grid lives in the
  generated module ``reports.rmd_joint_table`` (how it was copied and checked against the regulation's
  own mortality rates is written there).
- The pre-2022 Joint and Last Survivor Table (of the 2002 regulations) is not held: no complete copy of
  it could be checked, so years before 2022 with a much younger spouse as sole beneficiary are refused
  with a message (never guessed or interpolated).

The last entry of each Uniform Lifetime Table is "and older" (120+ and 115+).
"""

from __future__ import annotations

from decimal import Decimal

from reports import rmd_joint_table

UNIFORM_LIFETIME_2022: dict[int, Decimal] = {
    age: Decimal(period)
    for age, period in {
        72: "27.4", 73: "26.5", 74: "25.5", 75: "24.6", 76: "23.7", 77: "22.9", 78: "22.0", 79: "21.1",
        80: "20.2", 81: "19.4", 82: "18.5", 83: "17.7", 84: "16.8", 85: "16.0", 86: "15.2", 87: "14.4",
        88: "13.7", 89: "12.9", 90: "12.2", 91: "11.5", 92: "10.8", 93: "10.1", 94: "9.5", 95: "8.9",
        96: "8.4", 97: "7.8", 98: "7.3", 99: "6.8", 100: "6.4", 101: "6.0", 102: "5.6", 103: "5.2",
        104: "4.9", 105: "4.6", 106: "4.3", 107: "4.1", 108: "3.9", 109: "3.7", 110: "3.5", 111: "3.4",
        112: "3.3", 113: "3.1", 114: "3.0", 115: "2.9", 116: "2.8", 117: "2.7", 118: "2.5", 119: "2.3",
        120: "2.0",
    }.items()
}  # fmt: skip

UNIFORM_LIFETIME_PRE_2022: dict[int, Decimal] = {
    age: Decimal(period)
    for age, period in {
        70: "27.4", 71: "26.5", 72: "25.6", 73: "24.7", 74: "23.8", 75: "22.9", 76: "22.0", 77: "21.2",
        78: "20.3", 79: "19.5", 80: "18.7", 81: "17.9", 82: "17.1", 83: "16.3", 84: "15.5", 85: "14.8",
        86: "14.1", 87: "13.4", 88: "12.7", 89: "12.0", 90: "11.4", 91: "10.8", 92: "10.2", 93: "9.6",
        94: "9.1", 95: "8.6", 96: "8.1", 97: "7.6", 98: "7.1", 99: "6.7", 100: "6.3", 101: "5.9",
        102: "5.5", 103: "5.2", 104: "4.9", 105: "4.5", 106: "4.2", 107: "3.9", 108: "3.7", 109: "3.4",
        110: "3.1", 111: "2.9", 112: "2.6", 113: "2.4", 114: "2.1", 115: "1.9",
    }.items()
}  # fmt: skip

# The Joint and Last Survivor Table, 2022 and later: [owner's age][spouse's age], 0 to 120 (120 = "120+").
JOINT_LAST_SURVIVOR_2022: tuple[tuple[Decimal, ...], ...] = rmd_joint_table.JOINT_LAST_SURVIVOR_2022
JOINT_LAST_AGE = 120


def joint_last_survivor_2022(owner_age: int, spouse_age: int) -> Decimal:
    """The distribution period for the two ages in the distribution year (each 120 or more reads 120+)."""
    if owner_age < 0 or spouse_age < 0:
        raise ValueError("Ages in the Joint and Last Survivor Table cannot be negative.")
    return JOINT_LAST_SURVIVOR_2022[min(owner_age, JOINT_LAST_AGE)][min(spouse_age, JOINT_LAST_AGE)]
