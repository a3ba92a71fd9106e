"""The levels of a blended benchmark from its components' stored levels (pure: no database).

Convention (docs/reports.md, "Blended benchmarks"):

- The blend starts at 100 on the first day every component has a level (each component's levels
  carried forward over days it has none, as a close is).
- Between rebalances each component drifts with its own index: from the close of the last
  rebalance day ``a``, level(t) = level(a) × Σ wₖ × Iₖ(t) ÷ Iₖ(a), the weights wₖ being the
  targets. At the close of the last day with levels of each period (day, month, quarter or year,
  as the blend says) the mix is set back to the target weights.
- So a daily blend links Σ wₖ × (daily return of k); a monthly one lets the weights drift within
  the month. Levels are kept to 10 decimal places, half up, like the return indexes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

PLACES = Decimal("1e-10")
ZERO = Decimal(0)
START = Decimal(100)
Levels = Sequence[tuple[date, Decimal]]


def _period(day: date, rebalance: str) -> tuple[int, ...]:
    if rebalance == "daily":
        return (day.toordinal(),)
    if rebalance == "monthly":
        return (day.year, day.month)
    if rebalance == "quarterly":
        return (day.year, (day.month - 1) // 3)
    if rebalance == "annually":
        return (day.year,)
    raise ValueError(f"unknown rebalancing {rebalance!r}")


def _carried(levels: Levels, days: list[date]) -> list[Decimal | None]:
    """Each day's last level on or before it (None before the first)."""
    keys = [d for d, _ in levels]
    out: list[Decimal | None] = []
    for day in days:
        at = bisect.bisect_right(keys, day) - 1
        out.append(levels[at][1] if at >= 0 else None)
    return out


def blend_levels(components: Sequence[tuple[Decimal, Levels]], *, rebalance: str) -> list[tuple[date, Decimal]]:
    """The blend's daily levels from ``components`` (weight as a fraction, that component's levels
    oldest first); empty when a component has none. Weights are used as given (they add up to 1)."""
    if not components or any(not levels for _, levels in components):
        return []
    first = max(levels[0][0] for _, levels in components)
    days = sorted({d for _, levels in components for d, _ in levels if d >= first})
    series = [_carried(levels, days) for _, levels in components]
    weights = [weight for weight, _ in components]
    anchor = [s[0] for s in series]
    if any(level is None or level <= 0 for level in anchor):
        return []  # a component at zero cannot be rebased
    anchor_level = START
    out = [(days[0], START)]
    for i in range(1, len(days)):
        if _period(days[i - 1], rebalance) != _period(days[i], rebalance):
            # The close of days[i - 1] ended a period: back to the target weights from there.
            anchor, anchor_level = [s[i - 1] for s in series], out[-1][1]
        growth = ZERO
        for w, level, base in zip(weights, (s[i] for s in series), anchor, strict=True):
            assert level is not None and base is not None  # carried forward from a common first day
            growth += w * level / base
        out.append((days[i], (anchor_level * growth).quantize(PLACES, rounding=ROUND_HALF_UP)))
    return out
