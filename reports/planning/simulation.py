"""The goal tracker's arithmetic (no Django): a deterministic projection at the target return and
the probability of reaching the goal by Monte Carlo simulation.

Conventions (docs/planning.md):
- Monthly steps from today to the goal date (whole months); the contribution is paid at the end of
  each month, after that month's growth.
- The target return r is the expected yearly growth: a month grows by g = (1 + r)^(1/12) - 1 in the
  projection. In the simulation a month's growth factor is lognormal, exp(X) with X ~ N(μ, s²),
  s = sigma / √12 (sigma the yearly volatility) and μ = ln(1 + r) / 12 - s² / 2, so its mean is 1 + g: the
  average of the paths is the projection.
- The probability is the share of paths whose value on the goal date is at least the goal.
- Paths are drawn from numpy's PCG64 with a seed fixed per goal, so a page shows the same answer
  every time until an input changes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

PATHS = 5_000
CHART_POINTS = 60  # at most this many points per line in the chart
MAX_MONTHS = 100 * 12


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from ``start`` to ``end`` (0 if less than one)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return max(months, 0)


@dataclass(frozen=True)
class Point:
    month: int
    projected: float
    low: float  # 10th percentile of the paths
    median: float
    high: float  # 90th percentile


@dataclass(frozen=True)
class Projection:
    months: int
    paths: int
    projected: Decimal  # the deterministic value on the goal date
    probability: Decimal  # 0-1, four places
    low: Decimal
    median: Decimal
    high: Decimal
    contribution_needed: Decimal | None  # per month to reach the goal at the target return; None: already there
    points: tuple[Point, ...]


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _sample_months(months: int) -> list[int]:
    if months <= CHART_POINTS:
        return list(range(months + 1))
    step = months / CHART_POINTS
    # Every year's end too: the page's table has a row a year.
    return sorted({round(i * step) for i in range(CHART_POINTS)} | set(range(0, months, 12)) | {months})


def project(
    *,
    current: Decimal,
    monthly: Decimal,
    annual_return: Decimal,
    volatility: Decimal,
    goal: Decimal,
    months: int,
    seed: int,
    paths: int = PATHS,
) -> Projection:
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be 1 to {MAX_MONTHS}")
    r, sigma, c, v0 = float(annual_return), float(volatility), float(monthly), float(current)
    growth = (1.0 + r) ** (1.0 / 12.0) - 1.0
    s = sigma / math.sqrt(12.0)
    mu = math.log1p(r) / 12.0 - s * s / 2.0

    samples = set(_sample_months(months))
    rng = np.random.Generator(np.random.PCG64(seed))
    values = np.full(paths, v0)
    projected = v0
    points: list[Point] = []
    for month in range(months + 1):
        if month:
            values = values * np.exp(mu + s * rng.standard_normal(paths)) + c if s else values * (1.0 + growth) + c
            projected = projected * (1.0 + growth) + c
        if month in samples:
            low, median, high = np.percentile(values, [10, 50, 90])
            points.append(Point(month, projected, float(low), float(median), float(high)))

    g = float(goal)
    reached = int(np.count_nonzero(values >= g - 0.005))  # to the cent: a path that ends on the goal reached it
    growth_n = (1.0 + growth) ** months
    short = g - v0 * growth_n
    if short <= 0:
        needed = None
    else:
        annuity = months if growth == 0 else (growth_n - 1.0) / growth
        needed = _money(short / annuity) if annuity > 0 else None
    last = points[-1]
    return Projection(
        months=months,
        paths=paths,
        projected=_money(projected),
        probability=(Decimal(reached) / Decimal(paths)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
        low=_money(last.low),
        median=_money(last.median),
        high=_money(last.high),
        contribution_needed=needed,
        points=tuple(points),
    )


def closed_form_probability(
    *, current: float, annual_return: float, volatility: float, goal: float, months: int
) -> float:
    """P(V_T ≥ goal) with no contributions: ln(V_T / V_0) is normal with mean nμ and variance ns²."""
    s = volatility / math.sqrt(12.0)
    mu = math.log1p(annual_return) / 12.0 - s * s / 2.0
    if s == 0:
        return 1.0 if current * math.exp(mu * months) >= goal else 0.0
    z = (months * mu - math.log(goal / current)) / (s * math.sqrt(months))
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
