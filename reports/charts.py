"""The growth chart of a performance page: what 10,000 became (time-weighted, net of fees) beside
the benchmark rebased to the same start, as SVG coordinates drawn on the server. Hovering shows a
point's figures through the ``<title>`` of a transparent band over it (no script, nothing inline
for the CSP), as the dashboard's AUM chart does."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reports.performance import Series

WIDTH, HEIGHT, PAD = 600, 200, 8
LINE_POINTS = 300  # the eye sees no more on 600 units
HOVER_BANDS = 120  # at most this many hover bands (every day of a short window, every week or more of a long one)
START = Decimal(10_000)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ChartPoint:
    date: date
    growth: Decimal  # what 10,000 at the start became
    change: Decimal  # growth / 10,000 - 1
    benchmark: Decimal | None  # the benchmark rebased to 10,000 at the start
    nav: Decimal


@dataclass(frozen=True)
class HoverBand:
    x: float
    width: float
    point: ChartPoint


@dataclass(frozen=True)
class GrowthChart:
    points: str
    benchmark_points: str
    baseline_y: float  # where 10,000 is
    bands: list[HoverBand]
    first: ChartPoint
    last: ChartPoint
    low: Decimal
    high: Decimal


def _level(levels: Sequence[tuple[date, Decimal]], day: date) -> Decimal | None:
    at = bisect.bisect_right(levels, (day, Decimal("Infinity"))) - 1
    return levels[at][1] if at >= 0 else None


def growth_chart(series: Series, window: tuple[int, int], levels: Sequence[tuple[date, Decimal]]) -> GrowthChart | None:
    base, end = window
    if end - base < 1 or series.net_index[base] <= 0:
        return None
    start_index = series.net_index[base]
    start_level = _level(levels, series.days[base])
    points = []
    for i in range(base, end + 1):
        growth = (START * series.net_index[i] / start_index).quantize(CENT, rounding=ROUND_HALF_UP)
        level = _level(levels, series.days[i]) if start_level else None
        bench = (START * level / start_level).quantize(CENT, rounding=ROUND_HALF_UP) if level and start_level else None
        points.append(ChartPoint(series.days[i], growth, growth / START - 1, bench, series.nav[i]))
    values = [float(p.growth) for p in points] + [float(p.benchmark) for p in points if p.benchmark is not None]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    first_day, days = points[0].date, (points[-1].date - points[0].date).days or 1

    def x(day: date) -> float:
        return (day - first_day).days / days * WIDTH

    def y(value: Decimal) -> float:
        return HEIGHT - PAD - (float(value) - low) / span * (HEIGHT - 2 * PAD)

    def thinned(every: int) -> list[ChartPoint]:
        """Every ``every``-th point and the last one (in place of the one before it when that is
        nearer than half a step, so that no band is a sliver)."""
        picked = points[::every]
        if picked[-1] is points[-1]:
            return picked
        if len(picked) > 1 and (len(points) - 1) % every < every / 2:
            return [*picked[:-1], points[-1]]
        return [*picked, points[-1]]

    line = thinned(max(1, len(points) // LINE_POINTS))
    hover = thinned(max(1, -(-len(points) // HOVER_BANDS)))
    edges = [0.0] + [(x(a.date) + x(b.date)) / 2 for a, b in itertools.pairwise(hover)] + [float(WIDTH)]
    with_benchmark = [p for p in line if p.benchmark is not None]
    return GrowthChart(
        points=" ".join(f"{x(p.date):.1f},{y(p.growth):.1f}" for p in line),
        benchmark_points=(
            " ".join(f"{x(p.date):.1f},{y(p.benchmark):.1f}" for p in with_benchmark if p.benchmark is not None)
            if len(with_benchmark) >= 2
            else ""
        ),
        baseline_y=round(y(START), 1),
        bands=[HoverBand(round(edges[i], 1), round(edges[i + 1] - edges[i], 1), p) for i, p in enumerate(hover)],
        first=points[0],
        last=points[-1],
        low=min(p.growth for p in points),
        high=max(p.growth for p in points),
    )


# --- Bars: the allocation's weights and the positions' contributions --------------------------------

BAR_WIDTH, BAR_HEIGHT, BAR_GAP = 600, 18, 6  # the labels are drawn beside the bars, as HTML text


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal  # the weight or contribution (a fraction)
    amount: Decimal  # the money behind it
    x: float
    y: float
    width: float
    negative: bool
    shown: str  # the value as text: "60.00 %", or signed "+1.25 %" for contributions


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    height: int
    zero_x: float  # where 0 is (diverging bars)


def _percent(value: Decimal, signed: bool) -> str:
    shown = (value * 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{shown:+} %" if signed else f"{shown} %"


def _bars(title: str, rows: Sequence[tuple[str, Decimal, Decimal]], *, signed: bool = False) -> BarChart | None:
    """Horizontal bars of ``rows`` (label, fraction, amount) on one scale: from 0 to the largest
    magnitude, with negative values to the left of a zero line when there are any."""
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        return None
    high = max(max(float(v) for _, v, _ in rows), 0.0)
    low = min(min(float(v) for _, v, _ in rows), 0.0)
    span = (high - low) or 1.0
    zero_x = -low / span * BAR_WIDTH
    bars = []
    for i, (label, value, amount) in enumerate(rows):
        width = abs(float(value)) / span * BAR_WIDTH
        x = zero_x - width if value < 0 else zero_x
        bars.append(Bar(label, value, amount, round(x, 1), i * (BAR_HEIGHT + BAR_GAP), round(max(width, 0.5), 1),
                        value < 0, _percent(value, signed)))  # fmt: skip
    return BarChart(title, bars, len(rows) * (BAR_HEIGHT + BAR_GAP), round(zero_x, 1))


def allocation_chart(breakdown: Any) -> BarChart | None:
    """One bar per line of an allocation breakdown (``reports.allocation.Breakdown``), its weight."""
    return _bars(breakdown.label, [(line.label, line.weight, line.value) for line in breakdown.lines])


def contribution_chart(contribution: Any, *, shown: int = 10) -> BarChart | None:
    """The top and bottom contributors (``reports.allocation.Contribution``), highest first."""
    picked = [*contribution.top, *reversed(contribution.bottom)][:shown]
    return _bars("Contribution", [(p.symbol or p.name, p.contribution, p.gain) for p in picked], signed=True)
