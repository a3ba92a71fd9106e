"""Performance of an account or a household over periods, from its daily values (issue #19, point 1).

Pure: no database. ``reports.selectors`` reads the daily values, the fees and the benchmark and
hands them here as a ``Series``; this module measures each period three ways, net and gross of
fees, beside the benchmark, and says in plain words why the time- and money-weighted returns
differ. Conventions (docs/reports.md, "Performance"):

- A day's value is its close; its flows happen at the end of the day (as the daily values are
  computed). A period is measured from the close of its **base day** (the last day with a value
  on or before the day before the period) to the close of its last day: the base day's flows are in
  the starting value, the last day's are in the period (a Modified Dietz weight of 0).
- **Time-weighted**: the stored return index, linked daily (``portfolios.performance``), end over
  base. A household's index links, day by day, its accounts' daily returns weighted by their
  values at the close before (each account's return exactly as its own index has it).
- **Money-weighted**: the XIRR (actual/365) of the starting value, the flows and the ending
  value; **Modified Dietz**: flows weighted by (CD - D) / CD. Both are ``reports.returns``' own
  calculators.
- **Net of fees**: fees reduce the values, they are not flows. **Gross of fees**: fees (and their
  refunds) count as money taken out (or put back), so they do not lower the return.
- **Annualised** only over more than a year (``over_a_year``: never the periods to date and 1 year,
  always 3 and 5 years): (1 + r)^(365 / days) - 1, the XIRR's own basis (for the money-weighted
  return, the XIRR rate itself).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from portfolios.returns import base_day, periods
from reports import returns as calculators

RATE_PLACES = Decimal("1e-10")  # every rate answered: ten decimal places, half up (the index's precision)
SAME = Decimal("0.00005")  # time- and money-weighted returns closer than this "agree"
DayText = Callable[[date], str]


class PerformanceInputError(ValueError):
    """A period that cannot be measured as asked, with the input ``field`` it is about."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Series:
    """The daily values measured, oldest first, all in ``currency``: close (``nav``), external
    flows at the end of the day (``flow``: deposits, withdrawals, transfers), fees at the end of the
    day (``fee``: negative for a fee, positive for a refund) and the time-weighted return index
    net and gross of fees."""

    currency: str
    days: list[date]
    nav: list[Decimal]
    flow: list[Decimal]
    fee: list[Decimal]
    net_index: list[Decimal]
    gross_index: list[Decimal]

    def at_or_before(self, day: date) -> int:
        """The index of the last day on or before ``day`` (-1: none)."""
        return bisect.bisect_right(self.days, day) - 1


@dataclass(frozen=True)
class Figures:
    """One return measured three ways, over the period and (above a year) per year."""

    twr: Decimal | None
    twr_annualised: Decimal | None
    mwr: Decimal | None
    mwr_annualised: Decimal | None
    modified_dietz: Decimal | None


@dataclass(frozen=True)
class Timing:
    """Why the money-weighted return differs from the time-weighted one (net of fees).

    ``verdict``: "none" (no flows), "same", "well" (money-weighted higher) or "badly". The
    largest flow of the period and the time-weighted return from its day to the period's end say
    what happened ("money was added before a rise")."""

    verdict: str
    text: str


@dataclass(frozen=True)
class PeriodPerformance:
    code: str  # MTD, QTD, YTD, 1Y, 3Y, 5Y, ITD, CUSTOM
    label: str
    base: date | None  # the close measured from; None when the history is too short
    end: date
    start_value: Decimal | None = None
    end_value: Decimal | None = None
    flows: Decimal | None = None  # external flows in the period
    fees: Decimal | None = None  # fees less refunds in the period (negative: paid)
    net: Figures | None = None
    gross: Figures | None = None
    benchmark: Decimal | None = None
    benchmark_annualised: Decimal | None = None
    blend: Decimal | None = None  # the blended benchmark's change over the same days
    blend_annualised: Decimal | None = None
    undefined: str = ""  # why nothing is measured (a short history, a start at zero or less)
    notes: list[str] = field(default_factory=list)  # why a single figure is missing
    timing: Timing | None = None

    @property
    def days(self) -> int | None:
        return (self.end - self.base).days if self.base else None

    @property
    def gain(self) -> Decimal | None:
        """The period's gain net of fees: the change in value less the flows."""
        if self.start_value is None or self.end_value is None or self.flows is None:
            return None
        return self.end_value - self.start_value - self.flows


@dataclass(frozen=True)
class Performance:
    currency: str
    first: date  # the first day with a value (inception of the figures)
    as_of: date  # the last day measured
    benchmark: str
    periods: list[PeriodPerformance]
    custom: PeriodPerformance | None
    blend: str = ""  # the blended benchmark's name ("" without one)


def _rate(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


YEAR_OR_LESS = frozenset({"MTD", "QTD", "YTD", "1Y"})
OVER_A_YEAR = frozenset({"3Y", "5Y"})


def over_a_year(code: str, start: date, end: date) -> bool:
    """Whether a period is longer than a year, so annualised: never the periods to date and 1 year
    (one year is 366 days over a leap day, or a few more from a weekend's close), always 3 and 5
    years, otherwise when it ends after the same date a year after its start."""
    if code in YEAR_OR_LESS:
        return False
    if code in OVER_A_YEAR:
        return True
    try:
        year_later = start.replace(year=start.year + 1)
    except ValueError:  # February 29
        year_later = start.replace(year=start.year + 1, day=28)
    return end > year_later


def _annualised(value: Decimal | None, days: int, annualise: bool) -> Decimal | None:
    if value is None or not annualise:
        return None
    return _rate(calculators.annualized(value, days))


def _ratio(end: Decimal, start: Decimal) -> Decimal | None:
    return end / start - 1 if start > 0 else None


def _percent(value: Decimal) -> str:
    return calculators.percent(value).replace(" %", "%")


def _signed(value: Decimal) -> str:
    """+10.00%, -2.10%, 0.00%."""
    shown = (value * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return "0.00%" if not shown else f"{shown:+}%"


def _money(value: Decimal) -> str:
    return f"{abs(value):,.2f}"


def _figures(
    series: Series, base: int, end: int, flows: list[Decimal], index: list[Decimal], notes: list[str], what: str,
    annualise: bool,
) -> Figures:  # fmt: skip
    days = (series.days[end] - series.days[base]).days
    start_day, end_day = series.days[base], series.days[end]
    start_value, end_value = series.nav[base], series.nav[end]
    dated = [(series.days[i], flows[i]) for i in range(base + 1, end + 1) if flows[i]]
    by_date = dict(dated)
    total = sum(by_date.values(), Decimal(0))
    own: list[str] = []
    twr = _ratio(index[end], index[base])
    if twr is None:
        own.append("No time-weighted return: the return index is at zero at the start of the period.")
    md = calculators.modified_dietz(start_day, start_value, end_value, days, by_date, total, own)
    mwr, mwr_annual = calculators.money_weighted(start_day, start_value, end_day, end_value, days, dated, own)
    notes.extend(f"{what}: {note}" for note in own)
    return Figures(
        twr=_rate(twr),
        twr_annualised=_annualised(twr, days, annualise),
        mwr=_rate(mwr),
        mwr_annualised=_rate(mwr_annual) if annualise else None,
        modified_dietz=_rate(md),
    )


def _timing(series: Series, base: int, end: int, net: Figures, day: DayText) -> Timing | None:
    if net.twr is None or net.mwr is None:
        return None
    moves = [i for i in range(base + 1, end + 1) if series.flow[i]]
    if not moves:
        return Timing("none", "No money was added or taken out, so the time- and money-weighted returns are the same.")
    gap = net.mwr - net.twr
    if abs(gap) < SAME:
        return Timing(
            "same", "The time- and money-weighted returns agree: the timing of the flows made little difference."
        )
    largest = max(moves, key=lambda i: (abs(series.flow[i]), i))
    amount, when = series.flow[largest], series.days[largest]
    index = series.net_index
    before = index[largest] / index[base] - 1 if index[base] > 0 else None
    after = index[end] / index[largest] - 1 if index[largest] > 0 and largest < end else None
    verdict = "well" if gap > 0 else "badly"
    what = "added" if amount > 0 else "taken out"
    fact = f"The largest flow, {_money(amount)} {series.currency} {what} on {day(when)}"
    clause = ""
    if largest == end:
        fact += ", came on the period's last day, so it had no time to earn anything."
    elif before is None or after is None:
        fact = ""  # a return index at zero (a wiped-out account) says nothing about before and after
    else:
        fact += (
            f": the time-weighted return was {_signed(before)} before it (from {day(series.days[base])}) and "
            f"{_signed(after)} after it (to {day(series.days[end])})."
        )
        clause = f"money was {what} before a {'rise' if after >= 0 else 'fall'}"
    if verdict == "well":
        head = (
            f"The money-weighted return ({_percent(net.mwr)}) is above the time-weighted return "
            f"({_percent(net.twr)}): the flows were timed well"
        )
        general = "more money was in the account while it did better, or out of it while it did worse"
    else:
        head = (
            f"The money-weighted return ({_percent(net.mwr)}) is below the time-weighted return "
            f"({_percent(net.twr)}): the flows were timed badly"
        )
        general = "more money was in the account while it did worse, or out of it while it did better"
    consistent = clause and ((verdict == "well") == ((amount > 0) == (after is not None and after >= 0)))
    text = f"{head} — {clause if consistent else general}." + (f" {fact}" if fact else "")
    text += (
        " The time-weighted return is the investments' result whatever the flows; the money-weighted return is "
        "what this money earned."
    )
    return Timing(verdict, text)


def measure(
    series: Series, *, code: str, label: str, base: int, end: int, levels: Sequence[tuple[date, Decimal]],
    day: DayText, blend_levels: Sequence[tuple[date, Decimal]] = (),
) -> PeriodPerformance:  # fmt: skip
    """One period from the close of ``series.days[base]`` to that of ``series.days[end]``."""
    start_day, end_day = series.days[base], series.days[end]
    start_value = series.nav[base]
    if start_value <= 0:
        return PeriodPerformance(
            code, label, start_day, end_day, start_value=start_value, end_value=series.nav[end],
            undefined=(
                f"The value at the close of {day(start_day)} is {series.nav[base]:,.2f} {series.currency}: a return "
                "measured from zero or less is undefined, since nothing was invested to earn it. Choose a period "
                "that starts when the account held money."
            ),
        )  # fmt: skip
    notes: list[str] = []
    gross_flows = [f + c for f, c in zip(series.flow, series.fee, strict=True)]
    annualise = over_a_year(code, start_day, end_day)
    net = _figures(series, base, end, series.flow, series.net_index, notes, "Net of fees", annualise)
    gross = _figures(series, base, end, gross_flows, series.gross_index, notes, "Gross of fees", annualise)
    days = (end_day - start_day).days
    bench = _benchmark_return(levels, start_day, end_day)
    blend = _benchmark_return(blend_levels, start_day, end_day) if blend_levels else None
    return PeriodPerformance(
        code, label, start_day, end_day,
        start_value=start_value,
        end_value=series.nav[end],
        flows=sum(series.flow[base + 1 : end + 1], Decimal(0)),
        fees=sum(series.fee[base + 1 : end + 1], Decimal(0)),
        net=net,
        gross=gross,
        benchmark=_rate(bench),
        benchmark_annualised=_annualised(bench, days, annualise),
        blend=_rate(blend),
        blend_annualised=_annualised(blend, days, annualise),
        notes=notes,
        timing=_timing(series, base, end, net, day),
    )  # fmt: skip


def _level(levels: Sequence[tuple[date, Decimal]], day: date) -> Decimal | None:
    at = bisect.bisect_right(levels, (day, Decimal("Infinity"))) - 1
    return levels[at][1] if at >= 0 else None


def _benchmark_return(levels: Sequence[tuple[date, Decimal]], start: date, end: date) -> Decimal | None:
    first, last = _level(levels, start), _level(levels, end)
    return _ratio(last, first) if first and last is not None else None


def custom_bounds(
    series: Series, *, start: date | None, end: date | None, today: date, day: DayText
) -> tuple[int, int] | None:
    """The base and end indexes of a custom range from ``start`` to ``end`` (None without
    ``start``); ``PerformanceInputError`` names the field when the range cannot be measured."""
    first, last = series.days[0], series.days[-1]
    if end is not None and end > today:
        raise PerformanceInputError(f"The end, {day(end)}, is in the future: choose today or earlier.", field="end")
    if start is None:
        return None
    if start > today:
        raise PerformanceInputError(
            f"The start, {day(start)}, is in the future: choose today or earlier.", field="start"
        )
    if end is not None and end < start:
        raise PerformanceInputError("The end is before the start: choose an end on or after the start.", field="end")
    if start < first:
        raise PerformanceInputError(
            f"The start, {day(start)}, is before inception: the daily values begin on {day(first)}. "
            "Choose a start on or after it.",
            field="start",
        )
    base = 0 if start == first else series.at_or_before(start - timedelta(days=1))
    stop = series.at_or_before(min(end or last, last))
    if stop <= base:
        raise PerformanceInputError(
            f"No close after {day(series.days[base])} falls in the range: choose a longer range.", field="end"
        )
    return base, stop


def report(
    series: Series, *, benchmark: str, levels: Sequence[tuple[date, Decimal]], start: date | None = None,
    end: date | None = None, today: date, day: DayText, blend: str = "",
    blend_levels: Sequence[tuple[date, Decimal]] = (),
) -> Performance:  # fmt: skip
    """Every standard period as of ``end`` (default: the last day with a value), since inception,
    and the custom range from ``start`` to ``end`` when ``start`` is given."""
    if not series.days:
        raise ValueError("a series with no days")
    if end is not None and end < series.days[0] and start is None:
        raise PerformanceInputError(
            f"The end, {day(end)}, is before inception: the daily values begin on {day(series.days[0])}.",
            field="end",
        )
    bounds = custom_bounds(series, start=start, end=end, today=today, day=day)
    last = series.at_or_before(end) if end is not None else len(series.days) - 1
    as_of = series.days[last]
    measured: list[PeriodPerformance] = []
    for period in periods(as_of):
        base = series.at_or_before(base_day(period.start))
        if base < 0:
            if period.trailing:
                measured.append(
                    PeriodPerformance(
                        period.name, period.label, None, as_of,
                        undefined=f"The history begins on {day(series.days[0])}: shorter than {period.label.lower()}.",
                    )
                )  # fmt: skip
                continue
            base = 0
        if base >= last:
            measured.append(
                PeriodPerformance(period.name, period.label, None, as_of, undefined="No close in this period yet.")
            )
            continue
        measured.append(
            measure(series, code=period.name, label=period.label, base=base, end=last, levels=levels, day=day,
                    blend_levels=blend_levels)
        )  # fmt: skip
    if last > 0:
        measured.append(
            measure(series, code="ITD", label="Since inception", base=0, end=last, levels=levels, day=day,
                    blend_levels=blend_levels)
        )  # fmt: skip
    else:
        measured.append(
            PeriodPerformance("ITD", "Since inception", None, as_of, undefined="Only one day of values so far.")
        )
    custom = None
    if bounds is not None:
        base, stop = bounds
        custom = measure(series, code="CUSTOM", label="Custom range", base=base, end=stop, levels=levels, day=day,
                         blend_levels=blend_levels)  # fmt: skip
    return Performance(
        currency=series.currency, first=series.days[0], as_of=as_of, benchmark=benchmark, periods=measured,
        custom=custom, blend=blend,
    )  # fmt: skip
