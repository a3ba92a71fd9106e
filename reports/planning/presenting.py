"""What the goal page and the API say about a projection: the chart (SVG drawn server-side, no
script: the CSP allows none inline) and the explanation in plain words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from advisorportal.formats import day, money
from reports.planning.models import Goal
from reports.planning.simulation import Projection

WIDTH, HEIGHT, PAD = 600, 220, 8


def add_months(start: dt.date, months: int) -> dt.date:
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(start.day, last))
        except ValueError:
            continue
    raise ValueError(start)


@dataclass(frozen=True)
class Row:
    date: dt.date
    projected: Decimal
    low: Decimal
    median: Decimal
    high: Decimal


@dataclass(frozen=True)
class GoalChart:
    projected: str  # polyline points
    median: str
    band: str  # polygon points: the 10th to 90th percentile
    goal_y: float
    top: Decimal  # the value at the top of the chart
    rows: tuple[Row, ...]  # one a year, and the goal date


def chart(projection: Projection, *, goal: Decimal, start: dt.date, end: dt.date | None = None) -> GoalChart:
    """The lines and band of the chart, and the table's rows (one a year and the goal date, ``end``:
    the projection's last whole month ends on or just before it, and nothing grows in between)."""
    points = projection.points
    top = max(max(p.high for p in points), max(p.projected for p in points), float(goal)) * 1.05 or 1.0
    months = projection.months or 1

    def xy(month: int, value: float) -> str:
        x = month / months * WIDTH
        y = HEIGHT - PAD - value / top * (HEIGHT - 2 * PAD)
        return f"{x:.1f},{y:.1f}"

    band = [xy(p.month, p.high) for p in points] + [xy(p.month, p.low) for p in reversed(points)]
    rows = [
        Row(
            end if end is not None and p is points[-1] else add_months(start, p.month),
            _cents(p.projected),
            _cents(p.low),
            _cents(p.median),
            _cents(p.high),
        )
        for p in points
        if p.month % 12 == 0 or p is points[-1]
    ]
    if len(rows) > 26:  # long horizons: every fifth year in the table
        rows = [r for i, r in enumerate(rows) if i % 5 == 0 or r is rows[-1]]
    return GoalChart(
        projected=" ".join(xy(p.month, p.projected) for p in points),
        median=" ".join(xy(p.month, p.median) for p in points),
        band=" ".join(band),
        goal_y=round(HEIGHT - PAD - float(goal) / top * (HEIGHT - 2 * PAD), 1),
        top=_cents(top),
        rows=tuple(rows),
    )


def _cents(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def pct(value: Decimal | float, places: int = 2) -> str:
    """A fraction as an unsigned percentage where it is a level, not a change: 0.06 → 6.00 %."""
    return f"{Decimal(str(value)) * 100:.{places}f} %"


def chance_words(probability: Decimal) -> str:
    if probability >= Decimal("0.9"):
        return "very likely"
    if probability >= Decimal("0.7"):
        return "likely"
    if probability >= Decimal("0.4"):
        return "about as likely as not"
    if probability >= Decimal("0.1"):
        return "unlikely"
    return "very unlikely"


def explanation(goal: Goal, projection: Projection, *, date_format: str | None = None) -> str:
    """Plain words for the client: what the projection says, what the simulation adds, what would help."""
    cur = goal.currency
    when = day(goal.target_date, date_format)
    start = f"{money(goal.current_amount, cur)} now" + (
        f" and {money(goal.monthly_contribution, cur)} a month" if goal.monthly_contribution else ""
    )
    gap = projection.projected - goal.target_amount
    steady = (
        f"Growing steadily at the target return of {pct(goal.expected_return)} a year, {start} "
        f"become {money(projection.projected, cur)} by {when}: "
        + (f"{money(gap, cur)} more than the goal of {money(goal.target_amount, cur)}." if gap >= 0
           else f"{money(-gap, cur)} short of the goal of {money(goal.target_amount, cur)}.")
    )  # fmt: skip
    share = (projection.probability * 100).quantize(Decimal("1"))
    if goal.volatility == 0:
        risk = "With no risk (a volatility of 0 %), every year earns exactly the target return, so the goal " + (
            "is reached for certain (100 %)." if projection.probability == 1 else "is not reached (0 %)."
        )
    else:
        risk = (
            f"Returns are not steady, though: with a volatility of {pct(goal.volatility)} a year, the goal was "
            f"reached in {share} % of {projection.paths:,} simulated paths ({chance_words(projection.probability)}). "
            f"One path in ten ended below {money(projection.low, cur)} and one in ten above "
            f"{money(projection.high, cur)}; the middle path ended at {money(projection.median, cur)}."
        )
    if projection.contribution_needed is None:
        helps = "What is saved now reaches the goal at the target return without further contributions."
    elif projection.contribution_needed > goal.monthly_contribution:
        helps = (
            f"To reach the goal at the target return, the monthly contribution would need to be "
            f"{money(projection.contribution_needed, cur)}."
        )
    else:
        helps = (
            f"At the target return, {money(projection.contribution_needed, cur)} a month would be enough; the rest "
            "is a cushion against poor years."
        )
    return " ".join([steady, risk, helps])
